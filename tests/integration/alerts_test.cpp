// Alerts and recognition against the real PostgreSQL, a loopback webhook receiver and a local
// SMTP relay (tests/integration/smtp_server.py): alerts stored with the answer exactly once,
// the API's role matrix with the audited reveal, the notifier's signed webhooks, retries and
// re-notification on a manual clock, e-mail (with STARTTLS), the weekly digest once per team
// even with two instances, recognition, and the survey page's help.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fakes/captured_log.hpp"
#include "fakes/manual_clock.hpp"
#include "fakes/test_ca.hpp"
#include "integration/surveyed.hpp"
#include "integration/test_database.hpp"
#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/alerts/notifier.hpp"
#include "surveyd/alerts/smtp.hpp"
#include "surveyd/alerts/webhook.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/http/server.hpp"
#include "surveyd/store/pg_alerts.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/handler.hpp"

extern char** environ;

namespace surveyd::alerts {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using surveyd::testing::ManualClock;
using surveyd::testing::TestDatabase;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenSecret[] = "token-secret-token-secret-token-secret";
constexpr char kWebhookSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kPhone[] = "+447700900123";

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

std::string SourcePath(const std::string& relative) {
  return std::string(SURVEYD_SOURCE_DIR) + "/" + relative;
}

std::shared_ptr<const AlertConfig> ShippedAlerts() {
  static const auto loaded = LoadAlertConfigFile(SourcePath("config/rules.yaml"));
  EXPECT_TRUE(loaded.errors.empty());
  return loaded.config;
}

// ---- The local SMTP relay ----------------------------------------------------------------

class SmtpRelay {
 public:
  explicit SmtpRelay(std::vector<std::string> extra = {}) {
    dir_ = std::filesystem::temp_directory_path() /
           ("surveyd-smtp-" + std::to_string(getpid()) + "-" + std::to_string(++counter_));
    std::filesystem::create_directories(dir_);
    const std::string port_file = (dir_ / "port").string();
    out_ = (dir_ / "mail.jsonl").string();
    std::vector<std::string> args = {"python3",     SourcePath("tests/integration/smtp_server.py"),
                                     "--port-file", port_file,
                                     "--out",       out_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "python3", nullptr, nullptr, argv.data(), environ) != 0) {
      ADD_FAILURE() << "cannot start python3 (tests/integration/smtp_server.py needs it)";
      pid_ = 0;
      return;
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      if (in >> port_) break;
      std::this_thread::sleep_for(50ms);
    }
    if (port_ == 0) ADD_FAILURE() << "the SMTP relay did not start";
  }
  ~SmtpRelay() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }
  const std::filesystem::path& dir() const { return dir_; }

  // Every message accepted so far, with its body decoded.
  std::vector<json> Messages() const {
    std::vector<json> messages;
    std::ifstream in(out_);
    for (std::string line; std::getline(in, line);) {
      json message = json::parse(line);
      const std::string data = message["data"];
      const auto split = data.find("\r\n\r\n");
      message["headers"] = data.substr(0, split);
      std::string encoded;
      for (char c : data.substr(split == std::string::npos ? data.size() : split + 4)) {
        if (c != '\r' && c != '\n') encoded.push_back(c);
      }
      message["body"] = DecodeBase64(encoded).value_or("<not base64>");
      messages.push_back(std::move(message));
    }
    return messages;
  }

  SmtpOptions Options() const {
    SmtpOptions options;
    options.host = "127.0.0.1";
    options.port = port();
    options.timeout = 5s;
    return options;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string out_;
  pid_t pid_ = 0;
  int port_ = 0;
};

// ---- A webhook receiver on a loopback port --------------------------------------------------

class WebhookReceiver {
 public:
  // With a certificate and key: over HTTPS, as "localhost" (fakes/test_ca.hpp).
  explicit WebhookReceiver(const std::string& tls_cert_file = "",
                           const std::string& tls_key_file = "")
      : tls_(!tls_cert_file.empty()) {
    http::ServerOptions options;
    options.port = 0;
    options.worker_threads = 2;
    options.tls_cert_file = tls_cert_file;
    options.tls_key_file = tls_key_file;
    server_ = http::MakeServer(options, [this](const http::Request& request) {
      std::function<void()> hook;
      int status = 200;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.pop_front();
        }
        hook = on_request_;
      }
      if (hook) hook();  // outside the lock: it may send to this receiver itself
      return http::Response::Text(status, "ok");
    });
    server_->Start();
  }
  ~WebhookReceiver() { server_->Stop(); }

  std::string Url() const {
    return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(server_->Port()) +
           "/hook";
  }
  void AnswerNext(std::initializer_list<int> statuses) {
    std::lock_guard lock(mutex_);
    statuses_.insert(statuses_.end(), statuses);
  }
  std::vector<http::Request> Requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Run as each request is answered (a slow receiver moving a manual clock on).
  void OnRequest(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    on_request_ = std::move(hook);
  }

 private:
  bool tls_ = false;
  std::function<void()> on_request_;
  std::mutex mutex_;
  std::vector<http::Request> requests_;
  std::deque<int> statuses_;
  std::unique_ptr<http::Server> server_;
};

// A citizen's answer posted by the survey page's form to the link `token`.
http::Request AnswerForm(const std::string& token, const std::string& body,
                         const std::string& query = "") {
  http::Request request;
  request.method = "POST";
  request.path = "/s/" + token;
  request.query = query;
  request.body = body;
  request.remote_address = "203.0.113.5";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  return request;
}

// ---- Tokens per role -------------------------------------------------------------------------

class RoleTokens final : public api::Authenticator {
 public:
  std::optional<api::Principal> Authenticate(std::string_view token) override {
    for (api::Role role : {api::Role::kAnalyst, api::Role::kSupervisor, api::Role::kOps,
                           api::Role::kAdmin, api::Role::kSafeguarding}) {
      if (token == Token(role)) {
        return api::Principal{std::string("tok_") + api::RoleName(role),
                              std::string("A. ") + api::RoleName(role), role};
      }
    }
    return std::nullopt;
  }
  static std::string Token(api::Role role) { return std::string("token-") + api::RoleName(role); }
};

// ---- The fixture -----------------------------------------------------------------------------

class AlertsTest : public ::testing::Test {
 protected:
  AlertsTest()
      : clock_(At("2026-11-24T10:00:00Z")),
        store_(store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"))),
        alerts_(store::MakePgAlertStore(db_.url(), 2, testing::TestPhoneKeys())) {}

  struct Contact {
    std::string event_id;
    EventType type = EventType::kCallEnded;
    std::string person = "OP1";  // handler (calls) or officer (visits)
    std::string team = "Force Contact - Team 3";
    TimePoint at;
  };

  // Ingests one event decided "survey"; returns the survey's id.
  std::int64_t CreateSurvey(const Contact& contact) {
    Event event;
    event.event_id = contact.event_id;
    event.type = contact.type;
    event.occurred_at = contact.at;
    event.incident.id = "I-" + contact.event_id;
    event.incident.category = "crime";
    if (contact.type == EventType::kCallEnded) {
      event.call = surveyd::Call{};
      event.call->channel = "101";
      event.call->handler_id = contact.person;
      event.call->handler_team = contact.team;
    } else {
      event.resource = Resource{};
      event.resource->officer_id = contact.person;
      event.resource->department = contact.team;
    }
    event.caller = Caller{};
    event.caller->phone = kPhone;
    const TimePoint now = clock_.Now();
    const auto results = testing::PushOne(*store_, event, [&](const Event& e) {
      Decision d =
          testing::SurveyDecision(e, now, now + 48h, now + 24h * 30, "How did we do? {link}");
      d.group = contact.type == EventType::kCallEnded ? "force_contact" : "force_response";
      return d;
    });
    EXPECT_EQ(results.size(), 1u);
    return std::stoll(
        db_.Query("SELECT id FROM surveys WHERE event_id = '" + contact.event_id + "'"));
  }

  std::int64_t CreateSurvey(const std::string& event_id) {
    Contact contact;
    contact.event_id = event_id;
    contact.at = clock_.Now() - 1h;
    return CreateSurvey(contact);
  }

  store::SurveyAnswers Answer(const std::string& comment, std::optional<int> score = 5,
                              const std::string& group = "force_contact") {
    store::SurveyAnswers answers;
    for (auto& q : answers.q) q = score;
    answers.comment = comment;
    answers.language = "en";
    alerts::Answer answer;
    for (int i = 0; i < 5; ++i) answer.q[i] = answers.q[i];
    answer.comment = comment;
    answer.group = group;
    answers.alerts = RaiseAlerts(*ShippedAlerts(), answer);
    return answers;
  }

  // What the survey page raises under the shipped alert rules (serve gives it the same).
  static std::vector<NewAlert> ShippedPageAlerts(const store::SurveyView& view,
                                                 const store::SurveyAnswers& answers) {
    alerts::Answer answer;
    for (int i = 0; i < 5; ++i) answer.q[i] = answers.q[i];
    answer.comment = answers.comment;
    answer.group = view.group;
    return RaiseAlerts(*ShippedAlerts(), answer);
  }

  std::string Count(const std::string& table, const std::string& where = "true") {
    return db_.Query("SELECT count(*) FROM " + table + " WHERE " + where);
  }

  TestDatabase db_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::AlertStore> alerts_;
};

// ---- Exactly once ----------------------------------------------------------------------------

TEST_F(AlertsTest, AnAnswerStoredTwiceRaisesEachAlertOnce) {
  const auto survey = CreateSurvey("E-1");
  const auto answers = Answer("He's back and I'm scared to go home. I want to complain", 0);
  ASSERT_EQ(answers.alerts.size(), 3u);  // safeguarding, complaint, low_scores
  EXPECT_EQ(store_->SubmitResponse(survey, answers, clock_.Now()), store::SubmitOutcome::kStored);
  EXPECT_EQ(store_->SubmitResponse(survey, answers, clock_.Now()),
            store::SubmitOutcome::kAlreadyAnswered);
  EXPECT_EQ(Count("alerts"), "3");
  EXPECT_EQ(Count("alerts", "kind = 'safeguarding' AND severity = 'urgent' AND status = 'open'"),
            "1");
  EXPECT_EQ(db_.Query("SELECT matched::text FROM alerts WHERE kind = 'safeguarding'"),
            R"(["violence:hes back", "fear:scared", "fear:scared to go home"])");
  EXPECT_EQ(Count("alert_events", "action = 'created'"), "3");
  // Nothing of the comment outside responses.
  EXPECT_EQ(Count("alerts", "matched::text LIKE '%home.%' OR rules::text LIKE '%complain %'"), "0");
}

TEST_F(AlertsTest, TwoInstancesRacingRaiseEachAlertOnce) {
  constexpr int kSurveys = 12;
  std::vector<std::int64_t> surveys;
  for (int i = 0; i < kSurveys; ++i) surveys.push_back(CreateSurvey("E-" + std::to_string(i)));
  auto other = store::MakePgStore(
      testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));  // a second instance
  const auto answers = Answer("I am terrified he will kill me", 1);
  std::barrier start(2);
  std::atomic<int> stored{0};
  auto instance = [&](store::Store& store) {
    for (std::int64_t survey : surveys) {
      start.arrive_and_wait();
      if (store.SubmitResponse(survey, answers, clock_.Now()) == store::SubmitOutcome::kStored) {
        ++stored;
      }
    }
  };
  std::thread first(instance, std::ref(*store_));
  std::thread second(instance, std::ref(*other));
  first.join();
  second.join();
  EXPECT_EQ(stored.load(), kSurveys);
  EXPECT_EQ(Count("responses"), std::to_string(kSurveys));
  EXPECT_EQ(Count("alerts"), std::to_string(2 * kSurveys));  // safeguarding and low_scores
  EXPECT_EQ(db_.Query("SELECT max(n) FROM (SELECT count(*) AS n FROM alerts GROUP BY survey_id, "
                      "kind) x"),
            "1");
}

// ---- The API: roles, actions, the audited reveal ---------------------------------------------

class AlertsApiTest : public AlertsTest {
 protected:
  AlertsApiTest() {
    options_.alerts = alerts_.get();
    options_.authenticator = &tokens_;
    options_.clock = &clock_;
    options_.alert_config = [] { return ShippedAlerts(); };
    options_.recognition_min_cell_size = 3;
    options_.zone = [] { return TimeZone::Load("Europe/London"); };
    // The rules in force name one of the two groups the contacts below fall in.
    options_.survey_group_names = [] {
      return std::vector<std::pair<std::string, std::string>>{{"force_contact", "Force Contact"}};
    };
    handler_ = api::MakeApiHandler(options_);
  }

  http::Response Call(api::Role role, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& query = "") {
    http::Request request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.target = path + (query.empty() ? "" : "?" + query);
    request.body = body;
    request.remote_address = "192.0.2.7";
    request.headers = {{"Authorization", "Bearer " + RoleTokens::Token(role)}};
    return handler_(request);
  }

  RoleTokens tokens_;
  api::ApiOptions options_;
  http::Handler handler_;
};

TEST_F(AlertsApiTest, RoleMatrix) {
  const auto survey = CreateSurvey("E-1");
  ASSERT_EQ(store_->SubmitResponse(survey, Answer("he hit me again", 5), clock_.Now()),
            store::SubmitOutcome::kStored);
  const std::string id = db_.Query("SELECT id FROM alerts");
  using api::Role;
  const std::vector<Role> roles = {Role::kAnalyst, Role::kSupervisor, Role::kOps, Role::kAdmin,
                                   Role::kSafeguarding};
  struct Route {
    std::string method, path, body;
    std::map<Role, int> expected;
  };
  const std::vector<Route> routes = {
      {"GET",
       "/api/v1/alerts",
       "",
       {{Role::kAnalyst, 403},
        {Role::kSupervisor, 200},
        {Role::kOps, 403},
        {Role::kAdmin, 200},
        {Role::kSafeguarding, 200}}},
      {"GET",
       "/api/v1/alerts/" + id,
       "",
       {{Role::kAnalyst, 403},
        {Role::kSupervisor, 200},
        {Role::kOps, 403},
        {Role::kAdmin, 200},
        {Role::kSafeguarding, 200}}},
      {"POST",
       "/api/v1/alerts/" + id + "/acknowledge",
       R"({"note":"looking"})",
       {{Role::kAnalyst, 403},
        {Role::kSupervisor, 200},
        {Role::kOps, 403},
        {Role::kAdmin, 200},
        {Role::kSafeguarding, 200}}},
      // Only safeguarding staff reveal a number: not supervisors, not even administrators.
      {"POST",
       "/api/v1/alerts/" + id + "/reveal",
       R"({"reason":"calling back about the threat"})",
       {{Role::kAnalyst, 403},
        {Role::kSupervisor, 403},
        {Role::kOps, 403},
        {Role::kAdmin, 403},
        {Role::kSafeguarding, 200}}},
      {"GET",
       "/api/v1/recognition",
       "",
       {{Role::kAnalyst, 403},
        {Role::kSupervisor, 200},
        {Role::kOps, 403},
        {Role::kAdmin, 200},
        {Role::kSafeguarding, 403}}},
  };
  for (const Route& route : routes) {
    for (Role role : roles) {
      const auto response = Call(role, route.method, route.path, route.body);
      EXPECT_EQ(response.status, route.expected.at(role))
          << route.method << " " << route.path << " as " << api::RoleName(role) << ": "
          << response.body;
      if (response.status == 200 && route.path.find("/reveal") == std::string::npos) {
        EXPECT_THAT(response.body, Not(HasSubstr("900123")))
            << "no number but through reveal" << route.path;
      }
    }
  }
  // Without a token, nothing.
  http::Request anonymous;
  anonymous.method = "GET";
  anonymous.path = "/api/v1/alerts";
  EXPECT_EQ(handler_(anonymous).status, 401);
  // The one reveal allowed is recorded with who and why; the refused ones left no trace.
  EXPECT_EQ(Count("alert_events", "action = 'revealed'"), "1");
  EXPECT_EQ(db_.Query("SELECT actor_id || '|' || actor_name || '|' || actor_role || '|' || note "
                      "FROM alert_events WHERE action = 'revealed'"),
            "tok_safeguarding|A. safeguarding|safeguarding|calling back about the threat");
  EXPECT_EQ(Count("alert_events", "action = 'acknowledged'"), "3");
}

TEST_F(AlertsApiTest, ListActAndReveal) {
  const auto survey = CreateSurvey("E-1");
  ASSERT_EQ(
      store_->SubmitResponse(survey, Answer("I want to complain, nobody came", 9), clock_.Now()),
      store::SubmitOutcome::kStored);
  const auto second = CreateSurvey("E-2");
  const std::string written = "mae e nôl: 07700 900999, jo at example dot com";
  ASSERT_EQ(store_->SubmitResponse(second, Answer(written, 9), clock_.Now()),
            store::SubmitOutcome::kStored);

  auto response = Call(api::Role::kSupervisor, "GET", "/api/v1/alerts", "", "status=open");
  ASSERT_EQ(response.status, 200) << response.body;
  auto list = json::parse(response.body);
  ASSERT_EQ(list["alerts"].size(), 2u);
  EXPECT_EQ(list["alerts"][0]["kind"], "safeguarding");  // newest first
  EXPECT_EQ(list["alerts"][0]["context"]["handler_team"], "Force Contact - Team 3");
  EXPECT_EQ(list["alerts"][0]["context"]["incident_id"], "I-E-2") << "the log to open";
  EXPECT_EQ(list["alerts"][0]["context"]["channel"], "101");
  // The group by its name in the rules in force too, for the people who act on alerts (who may
  // not read the figures that also say it).
  EXPECT_EQ(list["alerts"][0]["context"]["group"], "force_contact");
  EXPECT_EQ(list["alerts"][0]["context"]["group_name"], "Force Contact");
  EXPECT_FALSE(list["alerts"][0].contains("answer")) << "the list holds no comment";
  const std::int64_t id = list["alerts"][0]["id"];
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/alerts", "", "kind=complaint&limit=1");
  list = json::parse(response.body);
  ASSERT_EQ(list["alerts"].size(), 1u);
  ASSERT_TRUE(list["next_before"].is_string()) << list;
  EXPECT_EQ(Call(api::Role::kSupervisor, "GET", "/api/v1/alerts", "", "status=closed").status, 400);
  EXPECT_EQ(Call(api::Role::kSupervisor, "GET", "/api/v1/alerts", "", "before=12").status, 400)
      << "a cursor is a position, not an id";
  EXPECT_EQ(
      Call(api::Role::kSupervisor, "GET", "/api/v1/alerts", "", "before=9000000000000000000_5")
          .status,
      400)
      << "a time the database cannot compare is the client's mistake, not an outage";

  response = Call(api::Role::kSafeguarding, "GET", "/api/v1/alerts/" + std::to_string(id));
  auto detail = json::parse(response.body);
  // Contact details the citizen typed reach nobody but through the audited reveal.
  EXPECT_EQ(detail["answer"]["comment"], "mae e nôl: [phone removed], [email removed]");
  EXPECT_EQ(detail["answer"]["q1"], 9);
  EXPECT_EQ(detail["history"][0]["action"], "created");

  const std::string base = "/api/v1/alerts/" + std::to_string(id);
  EXPECT_EQ(Call(api::Role::kSupervisor, "POST", base + "/resolve", "{}").status, 400)
      << "a resolution says what was done";
  EXPECT_EQ(Call(api::Role::kSupervisor, "POST", base + "/acknowledge", "not json").status, 400);
  response = Call(api::Role::kSupervisor, "POST", base + "/acknowledge", "");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["status"], "acknowledged");
  EXPECT_EQ(json::parse(response.body)["status_by"], "A. supervisor");
  // Acknowledged again: in the history, and the alert still says who acknowledged it first.
  const auto first_at = json::parse(response.body)["status_at"];
  clock_.Advance(5min);
  response = Call(api::Role::kSafeguarding, "POST", base + "/acknowledge", R"({"note":"calling"})");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["status_by"], "A. supervisor");
  EXPECT_EQ(json::parse(response.body)["status_at"], first_at);
  // A note that holds the number (the officer wrote down what they rang) is shown masked, as
  // comments are: the number is for the audited reveal alone.
  response = Call(api::Role::kSafeguarding, "POST", base + "/resolve",
                  R"({"note":"called back on 07700 900123, referred to the DA team"})");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["status"], "resolved");
  EXPECT_EQ(json::parse(response.body)["status_note"],
            "called back on [phone removed], referred to the DA team");
  {
    const auto history = json::parse(Call(api::Role::kSupervisor, "GET", base).body)["history"];
    EXPECT_EQ(history.back()["note"], "called back on [phone removed], referred to the DA team");
  }
  EXPECT_EQ(Call(api::Role::kSupervisor, "POST", base + "/acknowledge", "").status, 409);
  EXPECT_EQ(Call(api::Role::kSupervisor, "POST", "/api/v1/alerts/999/acknowledge", "").status, 404);

  EXPECT_EQ(Call(api::Role::kSafeguarding, "POST", base + "/reveal", "{}").status, 400)
      << "a reveal says why";
  response = Call(api::Role::kSafeguarding, "POST", base + "/reveal", R"({"reason":"call"})");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(json::parse(response.body)["phone"], kPhone);
  EXPECT_EQ(json::parse(response.body)["comment"], written);
  EXPECT_EQ(http::FindHeader(response.headers, "Cache-Control"), "no-store");
  EXPECT_EQ(
      Call(api::Role::kSafeguarding, "POST", "/api/v1/alerts/999/reveal", R"({"reason":"call"})")
          .status,
      404);
  // The number gone (erased after retention): nothing to reveal, and nothing recorded as shown.
  db_.Query("UPDATE surveys SET phone_enc = NULL, phone_e164 = NULL RETURNING 1");
  EXPECT_EQ(Call(api::Role::kSafeguarding, "POST", base + "/reveal", R"({"reason":"x"})").status,
            410);
  EXPECT_EQ(Count("alert_events", "action = 'revealed'"), "1");
  detail = json::parse(Call(api::Role::kSupervisor, "GET", base).body);
  ASSERT_EQ(detail["history"].size(), 5u);
  EXPECT_EQ(detail["history"][4]["action"], "revealed");
  EXPECT_EQ(detail["history"][4]["by"], "A. safeguarding");
}

// The queue as the people on duty read it: an alert reopened (the citizen wrote again) is back at
// the top, not among the days-old ones it was raised with; pages follow that order, each starting
// where the one before ended, with no alert twice or missed, even when the alert that ended a
// page is reopened before the next is asked for.
TEST_F(AlertsApiTest, ListPutsReopenedAlertsFirstAndPagesInThatOrder) {
  std::vector<std::string> ids;
  for (const char* event : {"E-1", "E-2", "E-3", "E-4"}) {
    const auto survey = CreateSurvey(event);
    ASSERT_EQ(
        store_->SubmitResponse(survey, Answer("I want to complain, nobody came", 9), clock_.Now()),
        store::SubmitOutcome::kStored);
    ids.push_back(db_.Query("SELECT max(id) FROM alerts"));
    clock_.Advance(1min);
  }
  ASSERT_EQ(Count("alerts"), "4");
  // The first, resolved the day it was raised, is reopened a day later (as ReceiveReply does).
  const auto reopen = [&](const std::string& id) {
    db_.Query("UPDATE alerts SET status = 'open', reopened_at = '" + FormatRfc3339(clock_.Now()) +
              "' WHERE id = " + id + " RETURNING id");
  };
  clock_.Advance(24h);
  reopen(ids[0]);

  const auto page = [&](const std::string& query) {
    const auto response = Call(api::Role::kSupervisor, "GET", "/api/v1/alerts", "", query);
    EXPECT_EQ(response.status, 200) << response.body;
    return json::parse(response.body);
  };
  const auto listed = [](const json& body) {
    std::vector<std::string> out;
    for (const auto& alert : body["alerts"])
      out.push_back(std::to_string(alert["id"].get<std::int64_t>()));
    return out;
  };
  auto whole = page("");
  EXPECT_EQ(listed(whole), (std::vector<std::string>{ids[0], ids[3], ids[2], ids[1]}));
  EXPECT_FALSE(whole["alerts"][0]["reopened_at"].is_null());
  EXPECT_FALSE(whole.contains("next_before")) << "all of them on one page";

  // Two at a time; the alert that ended the first page is reopened before the next is read: it
  // is at the top of a new first page, and the second page still starts after where it was.
  auto first = page("limit=2");
  ASSERT_EQ(listed(first), (std::vector<std::string>{ids[0], ids[3]}));
  ASSERT_TRUE(first["next_before"].is_string());
  clock_.Advance(1h);
  reopen(ids[3]);
  auto second = page("limit=2&before=" + first["next_before"].get<std::string>());
  EXPECT_EQ(listed(second), (std::vector<std::string>{ids[2], ids[1]}));
  auto third = page("limit=2&before=" + second["next_before"].get<std::string>());
  EXPECT_TRUE(third["alerts"].empty());
  EXPECT_FALSE(third.contains("next_before"));
  EXPECT_EQ(listed(page("limit=2")), (std::vector<std::string>{ids[3], ids[0]}));
  // Filtered by status, the same order.
  EXPECT_EQ(listed(page("status=open")),
            (std::vector<std::string>{ids[3], ids[0], ids[2], ids[1]}));
}

TEST_F(AlertsApiTest, RecognitionShowsPraiseAndSuppressesSmallCells) {
  // PC1: four answers (the cell size here is 3), two of them praise; PC2: two answers; PC3:
  // three, hidden beside PC2 (the team's total would give PC2 away).
  const TimePoint contact = At("2026-11-20T12:00:00Z");
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"PC1", "PC1 was brilliant, thank you. My number: 07700 900123"},
      {"PC1", "Very kind and patient officer"},
      {"PC1", "nobody came back to me"},
      {"PC1", ""},
      {"PC2", "Excellent, thank you"},
      {"PC2", "great"},
      {"PC3", "Thank you so much"},
      {"PC3", ""},
      {"PC3", ""}};
  int n = 0;
  for (const auto& [officer, comment] : answers) {
    Contact c;
    c.event_id = "V-" + std::to_string(++n);
    c.type = EventType::kResourceDeparted;
    c.person = officer;
    c.team = "Response - Birmingham East";
    c.at = contact + std::chrono::minutes(n);
    const auto survey = CreateSurvey(c);
    ASSERT_EQ(store_->SubmitResponse(survey, Answer(comment, 10, "force_response"), clock_.Now()),
              store::SubmitOutcome::kStored);
  }
  const std::string query =
      "team=Response%20-%20Birmingham%20East&from=2026-11-16T00:00:00Z&to=2026-11-23T00:00:00Z";
  auto response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query);
  ASSERT_EQ(response.status, 200) << response.body;
  const auto body = json::parse(response.body);
  EXPECT_EQ(body["respondents"], 4) << "the answers about the people shown";
  ASSERT_EQ(body["people"].size(), 3u);
  EXPECT_EQ(body["people"][0]["person"], "PC1");
  EXPECT_EQ(body["people"][0]["respondents"], 4);
  // "nobody came back to me" raised a complaint: an answer, but its 10s are no praise.
  EXPECT_EQ(body["people"][0]["top_scores"]["q1"], 3);
  EXPECT_EQ(body["people"][0]["top_scores"]["total"], 15);
  EXPECT_EQ(body["people"][0]["all_top_scores"], 3);
  EXPECT_EQ(body["people"][0]["praise_comments"], 2);
  EXPECT_EQ(body["people"][1]["person"], "PC2");
  EXPECT_EQ(body["people"][1]["suppressed"], true);
  EXPECT_FALSE(body["people"][1].contains("respondents"));
  EXPECT_EQ(body["people"][2]["person"], "PC3");
  EXPECT_EQ(body["people"][2]["suppressed"], true);
  EXPECT_FALSE(body["people"][2].contains("respondents"));
  EXPECT_EQ(body["suppressed_people"], 2);
  ASSERT_EQ(body["praise"].size(), 2u);
  EXPECT_EQ(body["praise"][0]["comment"], "Very kind and patient officer");
  EXPECT_EQ(body["praise"][1]["comment"],
            "PC1 was brilliant, thank you. My number: [phone removed]");
  EXPECT_EQ(body["praise"][1]["scores"]["q3"], 10);
  // As CSV: the people, those below the cell size named with their counts empty; or the praise.
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query + "&format=csv");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(std::string(http::FindHeader(response.headers, "Content-Type")),
              HasSubstr("text/csv"));
  EXPECT_EQ(response.body,
            "\xEF\xBB\xBF"  // UTF-8's byte-order mark, for Excel
            "person,role,team,suppressed,respondents,top_q1,top_q2,top_q3,top_q4,top_q5,"
            "top_total,all_top_scores,praise_comments\r\n"
            "PC1,officer,Response - Birmingham East,false,4,3,3,3,3,3,15,3,2\r\n"
            "PC2,officer,Response - Birmingham East,true,,,,,,,,,\r\n"
            "PC3,officer,Response - Birmingham East,true,,,,,,,,,\r\n");
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  query + "&format=csv&table=praise");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_THAT(response.body,
              HasSubstr("survey_id,contact_at,person,role,team,q1,q2,q3,q4,q5,comment\r\n"));
  EXPECT_THAT(response.body, HasSubstr(",PC1,officer,Response - Birmingham East,10,10,10,10,10,"
                                       "Very kind and patient officer\r\n"));
  EXPECT_THAT(response.body, HasSubstr("My number: [phone removed]"));
  EXPECT_THAT(response.body, Not(HasSubstr("nobody came back")));
  EXPECT_EQ(
      Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query + "&format=xml").status,
      400);
  EXPECT_EQ(
      Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query + "&table=pc1").status,
      400);
  // One officer alone, below the cell size: nothing.
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query + "&officer=PC2");
  EXPECT_EQ(json::parse(response.body)["suppressed"], true);
  EXPECT_TRUE(json::parse(response.body)["praise"].empty());
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", "from=yesterday");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(json::parse(response.body)["parameter"], "from") << response.body;
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", "colour=blue");
  EXPECT_EQ(json::parse(response.body)["parameter"], "colour") << response.body;

  // Dates are whole days in the force's time zone, as the stats read them: the contacts above
  // were on 20 November at about noon.
  const std::string team = "team=Response%20-%20Birmingham%20East";
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  team + "&from=2026-11-20&to=2026-11-20");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body)["from"], "2026-11-20T00:00:00.000Z");
  EXPECT_EQ(json::parse(response.body)["to"], "2026-11-21T00:00:00.000Z");
  EXPECT_EQ(json::parse(response.body)["respondents"], 4);
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  team + "&from=2026-11-16&to=2026-11-19");
  EXPECT_EQ(json::parse(response.body)["suppressed"], true) << "none the day before";
  EXPECT_EQ(json::parse(response.body)["dates"], "contact");
  // By the day the answers were given (24 November), as the weekly digest counts them.
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  team + "&from=2026-11-20&to=2026-11-20&dates=answered");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body)["dates"], "answered");
  EXPECT_EQ(json::parse(response.body)["suppressed"], true) << "none was answered that day";
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  team + "&from=2026-11-24&to=2026-11-24&dates=answered");
  EXPECT_EQ(json::parse(response.body)["respondents"], 4) << response.body;
  EXPECT_EQ(json::parse(response.body)["praise"].size(), 2u);
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  team + "&from=2026-11-24&to=2026-11-24&dates=contact");
  EXPECT_EQ(json::parse(response.body)["suppressed"], true) << "no contact that day";
  // In summer, a London day starts at 23:00 UTC the day before.
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  "from=2026-07-01&to=2026-07-01");
  EXPECT_EQ(json::parse(response.body)["from"], "2026-06-30T23:00:00.000Z");
  EXPECT_EQ(json::parse(response.body)["to"], "2026-07-01T23:00:00.000Z");
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                  "from=2026-11-20&to=2026-11-19");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(json::parse(response.body)["parameter"], "to") << response.body;

  // Praise is counted from the comments: a period with more than one request reads (here 4 of
  // the 5 read, the complaint left out) is refused, saying so, where the counts came short (the
  // newest 2,000 alone were read: a year's praise counted a month's).
  options_.recognition_comments = 4;
  handler_ = api::MakeApiHandler(options_);
  response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query);
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_EQ(json::parse(response.body)["parameter"], "from") << response.body;
  EXPECT_NE(response.body.find("more than 4 comments in the period"), std::string::npos)
      << response.body;
  options_.recognition_comments = 5;
  handler_ = api::MakeApiHandler(options_);
  EXPECT_EQ(Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", query).status, 200);
}

// Within each team, and across each person's teams (the totals /api/v1/stats gives a
// supervisor), whom an answer hides adds up to nothing, or to the minimum from two people or more.
// `hidden` by "person@team", `answers` the truth.
void ExpectNoTotalGivesAnyoneAway(const std::map<std::string, bool>& hidden,
                                  const std::map<std::string, int>& answers, int min) {
  std::map<std::string, std::vector<std::string>> rows;
  for (const auto& [who, unused] : hidden) {
    const auto at = who.find('@');
    rows["team " + who.substr(at + 1)].push_back(who);
    rows["person " + who.substr(0, at)].push_back(who);
  }
  for (const auto& [row, cells] : rows) {
    if (cells.size() < 2) continue;  // the total of one is that one, hidden or shown alike
    int people = 0, sum = 0;
    for (const auto& cell : cells) {
      if (!hidden.at(cell)) continue;
      ++people;
      sum += answers.at(cell);
    }
    EXPECT_TRUE(people == 0 || (people >= 2 && sum >= min))
        << row << " hides " << people << " with " << sum << " answers between them";
  }
}

TEST_F(AlertsApiTest, RecognitionNeverGivesAHiddenPersonAway) {
  // The cell size here is 3. PC5 is in both teams, small in Team A.
  const std::map<std::string, int> answers = {
      {"PC1@Team A", 5}, {"PC2@Team A", 1}, {"PC3@Team A", 4}, {"PC5@Team A", 1},
      {"PC5@Team B", 4}, {"PC8@Team B", 6}, {"PC9@Team B", 3}};
  int n = 0;
  for (const auto& [who, count] : answers) {
    for (int i = 0; i < count; ++i) {
      Contact c;
      c.event_id = "N-" + std::to_string(++n);
      c.type = EventType::kResourceDeparted;
      c.person = who.substr(0, who.find('@'));
      c.team = who.substr(who.find('@') + 1);
      c.at = At("2026-11-20T12:00:00Z") + std::chrono::minutes(n);
      const auto survey = CreateSurvey(c);
      ASSERT_EQ(store_->SubmitResponse(survey, Answer("Thank you, brilliant", 10, "force_response"),
                                       clock_.Now()),
                store::SubmitOutcome::kStored);
    }
  }
  const std::string week = "from=2026-11-16&to=2026-11-22";
  std::map<std::string, bool> everyone_hides;
  for (const std::string selection : {"", "&team=Team%20A", "&team=Team%20B", "&officer=PC5"}) {
    SCOPED_TRACE("selection: " + selection);
    auto response =
        Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "", week + selection);
    ASSERT_EQ(response.status, 200) << response.body;
    const auto body = json::parse(response.body);
    ASSERT_EQ(body["suppressed"], false);
    std::map<std::string, bool> hidden;
    int shown = 0;
    for (const auto& person : body["people"]) {
      const std::string who =
          person["person"].get<std::string>() + "@" + person["team"].get<std::string>();
      hidden[who] = person["suppressed"];
      if (person["suppressed"] == false) {
        EXPECT_EQ(person["respondents"], answers.at(who)) << who;
        shown += answers.at(who);
      } else {
        EXPECT_FALSE(person.contains("respondents")) << who;
      }
      if (selection.empty()) {
        everyone_hides[who] = hidden[who];
      } else {
        EXPECT_EQ(hidden[who], everyone_hides.at(who)) << who << ": as everyone's answer has it";
      }
    }
    EXPECT_EQ(body["respondents"], shown) << "everyone's answers, less those shown, are hidden";
    ExpectNoTotalGivesAnyoneAway(hidden, answers, 3);
    for (const auto& praise : body["praise"]) {
      const std::string who =
          praise["person"].get<std::string>() + "@" + praise["team"].get<std::string>();
      EXPECT_FALSE(hidden.at(who)) << who << "'s praise comment";
    }
    // The CSV hides the same people.
    response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                    week + selection + "&format=csv");
    ASSERT_EQ(response.status, 200) << response.body;
    std::istringstream lines(response.body);
    std::string line;
    std::getline(lines, line);  // the header
    std::size_t rows = 0;
    while (std::getline(lines, line)) {
      std::vector<std::string> fields;
      std::istringstream split(line.substr(0, line.find('\r')));
      for (std::string field; std::getline(split, field, ',');) fields.push_back(field);
      ASSERT_GE(fields.size(), 5u) << line;
      const std::string who = fields[0] + "@" + fields[2];
      EXPECT_EQ(fields[3], hidden.at(who) ? "true" : "false") << line;
      EXPECT_EQ(fields[4], hidden.at(who) ? "" : std::to_string(answers.at(who))) << line;
      ++rows;
    }
    EXPECT_EQ(rows, hidden.size());
  }
  EXPECT_EQ(everyone_hides, (std::map<std::string, bool>{{"PC1@Team A", false},
                                                         {"PC2@Team A", true},
                                                         {"PC3@Team A", true},
                                                         {"PC5@Team A", true},
                                                         {"PC5@Team B", true},
                                                         {"PC8@Team B", false},
                                                         {"PC9@Team B", true}}));
}

// A survey of all 10s with thanks in its comment, then the citizen posting again on its page
// "Actually I want to make a complaint": the complaint alert was raised, and the survey was
// still listed as praise for the operator, and counted in the digest. A contact that is a
// complaint or a safeguarding matter (the alert resolved, too) credits nobody with praise.
TEST_F(AlertsApiTest, ASurveyThatRaisedAnAlertIsNoPraise) {
  survey::SurveyHandlerOptions page_options(*store_, clock_);
  page_options.raise_alerts = ShippedPageAlerts;
  survey::SurveyPages pages(page_options);
  const auto post = [&](const std::string& token, const std::string& body) {
    return pages.Handle(AnswerForm(token, body));
  };
  // Each answered on the page with 10 on every question (but the last), and what the citizen
  // posted after. The last scored 0 on every question, and raised a low-scores alert: its
  // "thanks" was listed as the operator's praise (a review).
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"the call handler was brilliant, thank you",
       "Actually I want to make a complaint, nobody came back to me"},
      {"Thank you, brilliant", "he is back and I am scared"},
      {"Very kind and patient, thank you", ""},
      {"", ""},
      {"thanks for nothing, brilliant", ""}};
  int n = 0;
  for (const auto& [comment, after] : answers) {
    const std::string score = comment.rfind("thanks for nothing", 0) == 0 ? "0" : "10";
    Contact c;
    c.event_id = "C-" + std::to_string(++n);
    c.at = clock_.Now() - 1h;
    CreateSurvey(c);
    auto messages = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
    ASSERT_EQ(messages.size(), 1u);
    const std::string token = token::DeriveToken(kTokenSecret, messages[0].token_nonce);
    ASSERT_TRUE(store_->BeginSend(messages[0], token::TokenHash(token), clock_.Now(), 60s));
    ASSERT_EQ(post(token, "q1=" + score + "&q2=" + score + "&q3=" + score + "&q4=" + score +
                              "&q5=" + score + "&comment=" + http::UrlEncode(comment))
                  .status,
              200);
    if (!after.empty()) post(token, "comment=" + http::UrlEncode(after));
  }
  ASSERT_EQ(Count("alerts", "kind = 'complaint'"), "1");
  ASSERT_EQ(Count("alerts", "kind = 'safeguarding'"), "1");
  ASSERT_EQ(Count("alerts", "kind = 'low_scores'"), "1");
  // Resolved, it was a safeguarding matter all the same.
  const std::string safeguarding = db_.Query("SELECT id FROM alerts WHERE kind = 'safeguarding'");
  ASSERT_EQ(Call(api::Role::kSupervisor, "POST", "/api/v1/alerts/" + safeguarding + "/resolve",
                 R"({"note": "called back, safe"})")
                .status,
            200);

  // By the contacts' days (the API's default) and by the answers' (the weekly digest's).
  for (const std::string dates : {"contact", "answered"}) {
    SCOPED_TRACE(dates);
    const auto response = Call(api::Role::kSupervisor, "GET", "/api/v1/recognition", "",
                               "from=2026-11-24&to=2026-11-24&dates=" + dates);
    ASSERT_EQ(response.status, 200) << response.body;
    const auto body = json::parse(response.body);
    ASSERT_EQ(body["people"].size(), 1u) << response.body;
    const auto& op1 = body["people"][0];
    EXPECT_EQ(op1["person"], "OP1");
    EXPECT_EQ(op1["respondents"], 5) << "each is an answer, as the stats count it";
    EXPECT_EQ(op1["top_scores"]["q1"], 2) << "the 10s of a complaint are no praise";
    EXPECT_EQ(op1["top_scores"]["total"], 10);
    EXPECT_EQ(op1["all_top_scores"], 2);
    EXPECT_EQ(op1["praise_comments"], 1);
    ASSERT_EQ(body["praise"].size(), 1u) << response.body;
    EXPECT_EQ(body["praise"][0]["comment"], "Very kind and patient, thank you");
    EXPECT_THAT(response.body, Not(HasSubstr("brilliant")));
  }
}

// ---- The notifier ----------------------------------------------------------------------------

class NotifierTest : public AlertsTest {
 protected:
  NotifierOptions Options() {
    NotifierOptions options;
    options.worker_id = "test";
    options.webhook = {receiver_.Url(), kWebhookSecret, 3s, /*ca_file=*/""};
    options.email_to = {"duty@force.example"};
    options.escalate_to = {"inspector@force.example"};
    options.email_from = "alerts@force.example";
    options.smtp = relay_.Options();
    options.backoff_base = 10s;
    options.public_base_url = "https://surveys.force.example";
    options.force_name = "West Midlands Police";
    options.group_name = [](const std::string& id) {
      return id == "force_contact" ? std::string("Force Contact") : std::string();
    };
    options.random01 = [] { return 0.0; };  // backoff without jitter: half the full delay
    return options;
  }

  // Weekly digests on Mondays at 08:00 (London), with a cell size of 3, and no alert notices.
  NotifierOptions DigestOptions() {
    auto options = Options();
    options.webhook.url.clear();
    options.email_to.clear();
    options.min_cell_size = 3;
    options.digest.enabled = true;
    options.digest.schedule = {1, 8 * 60};
    return options;
  }

  std::unique_ptr<Notifier> Make(NotifierOptions options) {
    return std::make_unique<Notifier>(
        std::move(options), *alerts_, clock_, [] { return ShippedAlerts(); },
        [] { return TimeZone::Load("Europe/London"); });
  }

  WebhookReceiver receiver_;
  SmtpRelay relay_;
};

TEST_F(NotifierTest, SignedWebhookRetriedThenRenotifiedAndEscalatedUntilAcknowledged) {
  const TimePoint t0 = clock_.Now();
  const auto survey = CreateSurvey("E-1");
  ASSERT_EQ(store_->SubmitResponse(survey, Answer("I'm scared he will come back", 5), t0),
            store::SubmitOutcome::kStored);
  auto notifier = Make(Options());
  receiver_.AnswerNext({503});

  EXPECT_EQ(notifier->RunOnce(), 2);  // round 0: the webhook (503) and the duty e-mail
  auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  const http::Request& first = requests[0];
  const std::string id(first.Header("webhook-id"));
  EXPECT_THAT(id, HasSubstr("surveyd-alert-notice-"));
  EXPECT_EQ(first.Header("webhook-timestamp"), std::to_string(ToUnixSeconds(t0)));
  EXPECT_TRUE(VerifyWebhookSignature(kWebhookSecret, id, ToUnixSeconds(t0), first.body,
                                     first.Header("webhook-signature")));
  const auto payload = json::parse(first.body);
  EXPECT_EQ(payload["type"], "alert.created");
  EXPECT_EQ(payload["data"]["kind"], "safeguarding");
  // Where the person who follows it signs in and acts: the dashboard, not the API's JSON.
  const std::string link = "https://surveys.force.example/dashboard?view=alerts&alert=" +
                           std::to_string(payload["data"]["alert_id"].get<std::int64_t>());
  EXPECT_EQ(payload["data"]["link"], link);
  EXPECT_EQ(payload["data"]["context"]["group_name"], "Force Contact");
  EXPECT_THAT(first.body, Not(HasSubstr("900123")));
  EXPECT_THAT(first.body, Not(HasSubstr("scared")));
  auto mail = relay_.Messages();
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0]["to"][0], "duty@force.example");
  EXPECT_THAT(std::string(mail[0]["headers"]),
              HasSubstr("Subject: West Midlands Police: Safeguarding alert"));
  EXPECT_THAT(std::string(mail[0]["body"]), HasSubstr("Team: Force Contact - Team 3"));
  EXPECT_THAT(std::string(mail[0]["body"]), HasSubstr("Incident: I-"));
  EXPECT_THAT(std::string(mail[0]["body"]), HasSubstr("(Force Contact, call.ended)"))
      << "the survey group by its name in the rules";
  EXPECT_THAT(std::string(mail[0]["body"]), HasSubstr(link));
  // On the force's clock, as the duty inspector reads one (Tuesday 24 November, GMT).
  EXPECT_THAT(std::string(mail[0]["body"]),
              HasSubstr("Raised: Tue 24 Nov 2026 10:00 Europe/London"));
  EXPECT_THAT(std::string(mail[0]["body"]), Not(HasSubstr("scared")));
  EXPECT_THAT(std::string(mail[0]["body"]), Not(HasSubstr("900123")));

  // The webhook is due again after the backoff (10 s base, no jitter: 5 s), not before.
  clock_.Advance(4s);
  EXPECT_EQ(notifier->RunOnce(), 0);
  clock_.Advance(1s);
  EXPECT_EQ(notifier->RunOnce(), 1);
  requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].Header("webhook-id"), id) << "the same id on every retry";
  EXPECT_TRUE(VerifyWebhookSignature(kWebhookSecret, id, ToUnixSeconds(t0 + 5s), requests[1].body,
                                     requests[1].Header("webhook-signature")));
  EXPECT_EQ(Count("alert_notice_attempts"), "3");
  EXPECT_EQ(Count("alert_notice_attempts", "result = 'retry' AND http_status = 503"), "1");
  EXPECT_EQ(Count("alert_notices", "state = 'sent'"), "2");

  // Not acknowledged 15 minutes after it was raised: sent again, and to the escalation address.
  clock_.Set(t0 + 15min - 1s);
  EXPECT_EQ(notifier->RunOnce(), 0);
  clock_.Set(t0 + 15min);
  auto other = Make(Options());  // a second instance at the same moment: the round goes once
  std::thread racing([&] { other->RunOnce(); });
  notifier->RunOnce();
  racing.join();
  EXPECT_EQ(db_.Query("SELECT rounds FROM alerts"), "2");
  requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(json::parse(requests[2].body)["type"], "alert.renotified");
  mail = relay_.Messages();
  ASSERT_EQ(mail.size(), 3u);
  std::set<std::string> to;
  for (const auto& m : mail) to.insert(m["to"][0]);
  EXPECT_TRUE(to.count("inspector@force.example"));
  for (const auto& m : mail) {
    if (m["to"][0] == "inspector@force.example") {
      EXPECT_THAT(std::string(m["headers"]), HasSubstr("Subject: UNACKNOWLEDGED:"));
      EXPECT_THAT(std::string(m["body"]), HasSubstr("sent to you as the escalation contact"));
    }
  }

  // Acknowledged: no more rounds.
  const std::int64_t alert = std::stoll(db_.Query("SELECT id FROM alerts"));
  EXPECT_EQ(
      alerts_->Acknowledge(alert, {"tok_1", "Sgt Evans", "supervisor"}, "on it", clock_.Now()),
      store::AlertUpdate::kDone);
  clock_.Set(t0 + 45min);
  EXPECT_EQ(notifier->RunOnce(), 0);
  EXPECT_EQ(db_.Query("SELECT rounds FROM alerts"), "2");
  EXPECT_EQ(receiver_.Requests().size(), 3u);
  const auto status = notifier->Status();
  // Round 0: the webhook (on its second attempt) and the duty e-mail; round 1: the webhook and
  // both e-mails.
  EXPECT_EQ(status.sent + other->Status().sent, 5);
  EXPECT_EQ(status.retried, 1);
  // As `surveyd report` says it.
  const auto summary = alerts_->Summary();
  ASSERT_EQ(summary.kinds.size(), 1u);
  EXPECT_EQ(summary.kinds[0].kind, "safeguarding");
  EXPECT_EQ(summary.kinds[0].open, 0);
  EXPECT_EQ(summary.kinds[0].acknowledged, 1);
  EXPECT_EQ(summary.kinds[0].resolved, 0);
  EXPECT_EQ(summary.notices_sent, 5);
  EXPECT_EQ(summary.notices_waiting, 0);
  EXPECT_EQ(summary.notices_failed, 0);
}

// A citizen who writes again after their alert was dealt with ("he's back") reaches a
// supervisor as the first text did: the alert opens again at once, says so in its history and
// its notices, and is reminded of from there as a new one would be.
TEST_F(NotifierTest, AnAlertDealtWithOpensAgainWhenTheCitizenWritesAgain) {
  const TimePoint t0 = clock_.Now();
  const auto survey = CreateSurvey("E-1");
  ASSERT_EQ(store_->SubmitResponse(survey, Answer("I'm scared he will come back", 5), t0),
            store::SubmitOutcome::kStored);
  auto notifier = Make(Options());
  EXPECT_EQ(notifier->RunOnce(), 2);  // round 0: the webhook and the duty e-mail
  const std::int64_t alert = std::stoll(db_.Query("SELECT id FROM alerts"));
  clock_.Set(t0 + 10min);
  ASSERT_EQ(alerts_->Resolve(alert, {"tok_1", "Sgt Evans", "supervisor"}, "called back, safe",
                             clock_.Now()),
            store::AlertUpdate::kDone);

  // A text back to the survey, read as a comment alone would be.
  auto text = [&](const std::string& body) {
    InboundSms sms;
    sms.gateway = "wmnow";
    sms.gateway_message_id = "in-" + std::to_string(clock_.Now().time_since_epoch().count());
    sms.from_e164 = kPhone;
    sms.to = "60001";
    sms.body = body;
    sms.received_at = clock_.Now();
    const auto plan = [&](const store::ReplyContext&, const std::string&) {
      store::ReplyPlan reply;  // a text back to the survey's link
      reply.survey_id = survey;
      return reply;
    };
    const auto raise = [](const store::SurveyView& view, const store::SurveyAnswers& answers) {
      alerts::Answer answer;
      answer.comment = answers.comment;
      answer.group = view.group;
      return RaiseAlerts(*ShippedAlerts(), answer);
    };
    return store_->ReceiveReply(sms, plan, raise, clock_.Now()).alerts_raised;
  };
  // Thanks raise nothing: it stays resolved.
  clock_.Set(t0 + 1h);
  EXPECT_EQ(text("thank you for calling me"), 0);
  EXPECT_EQ(db_.Query("SELECT status FROM alerts"), "resolved");

  clock_.Set(t0 + 2h);
  EXPECT_EQ(text("he is back outside my house, I am scared"), 1);
  EXPECT_EQ(db_.Query("SELECT status || '/' || COALESCE(status_by, '-') || '/' || "
                      "(reopened_at = created_at + interval '2 hours') FROM alerts"),
            "open/-/true");
  EXPECT_EQ(db_.Query("SELECT string_agg(action || ':' || COALESCE(note, ''), ',' ORDER BY id) "
                      "FROM alert_events"),
            "created:,resolved:called back, safe,reopened:the citizen wrote again");
  // Its view and the API say so.
  const auto detail = alerts_->GetAlert(alert);
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->alert.status, store::AlertStatus::kOpen);
  ASSERT_TRUE(detail->alert.reopened_at.has_value());
  EXPECT_EQ(*detail->alert.reopened_at, t0 + 2h);

  // Its notice goes at once, to those the first went to, saying it was reopened.
  EXPECT_EQ(notifier->RunOnce(), 2);
  auto requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  auto payload = json::parse(requests[1].body);
  EXPECT_EQ(payload["type"], "alert.reopened");
  EXPECT_EQ(payload["data"]["status"], "open");
  EXPECT_EQ(payload["data"]["escalated"], false);
  EXPECT_FALSE(payload["data"]["reopened_at"].is_null());
  EXPECT_THAT(requests[1].body, Not(HasSubstr("scared")));
  auto mail = relay_.Messages();
  ASSERT_EQ(mail.size(), 2u);
  EXPECT_EQ(mail[1]["to"][0], "duty@force.example");
  EXPECT_THAT(std::string(mail[1]["headers"]), HasSubstr("Subject: REOPENED: West Midlands"));
  EXPECT_THAT(std::string(mail[1]["body"]), HasSubstr("it is open again"));
  EXPECT_THAT(std::string(mail[1]["body"]), HasSubstr("Reopened: Tue 24 Nov 2026 12:00"));
  EXPECT_THAT(std::string(mail[1]["body"]), Not(HasSubstr("scared")));

  // Another text while it is open: the same alert, no new notice.
  clock_.Set(t0 + 2h + 1min);
  EXPECT_EQ(text("please help, he is still here"), 0);
  EXPECT_EQ(Count("alert_events", "action = 'reopened'"), "1");
  EXPECT_EQ(Count("alerts"), "1");
  EXPECT_EQ(notifier->RunOnce(), 0);

  // Nobody acts: reminded 15 minutes after it reopened, counted from there, escalated.
  clock_.Set(t0 + 2h + 15min);
  EXPECT_EQ(notifier->RunOnce(), 3);
  requests = receiver_.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(json::parse(requests[2].body)["type"], "alert.renotified");
  mail = relay_.Messages();
  ASSERT_EQ(mail.size(), 4u);
  for (std::size_t i = 2; i < mail.size(); ++i) {
    EXPECT_THAT(std::string(mail[i]["headers"]), HasSubstr("Subject: UNACKNOWLEDGED:"));
    EXPECT_THAT(std::string(mail[i]["body"]), HasSubstr("this is reminder 1"));
  }
  // Nobody acts until the reminders are all gone; then the citizen writes again: a round goes
  // at once (a reminder, escalated), rather than the text joining the alert in silence.
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(15min);
    notifier->RunOnce();
  }
  ASSERT_EQ(db_.Query("SELECT next_round_at IS NULL FROM alerts"), "t") << "reminders used up";
  const std::size_t mailed = relay_.Messages().size();
  clock_.Advance(1h);
  EXPECT_EQ(notifier->RunOnce(), 0);
  EXPECT_EQ(text("he is outside now and I am scared"), 1);
  EXPECT_EQ(notifier->RunOnce(), 3) << "the webhook, the duty e-mail and the escalation";
  mail = relay_.Messages();
  ASSERT_EQ(mail.size(), mailed + 2);
  EXPECT_THAT(std::string(mail.back()["headers"]), HasSubstr("Subject: UNACKNOWLEDGED:"));
  EXPECT_EQ(db_.Query("SELECT next_round_at IS NULL FROM alerts"), "t") << "one round a text";

  // Acknowledged: the reminders stop.
  EXPECT_EQ(alerts_->Acknowledge(alert, {"tok_1", "Sgt Evans", "supervisor"}, "", clock_.Now()),
            store::AlertUpdate::kDone);
  clock_.Advance(2h);
  EXPECT_EQ(notifier->RunOnce(), 0);
}

// A batch of notices claimed at once held those queued behind the one in flight for a whole
// lease: after a restart mid-send, a safeguarding alert's e-mails waited about 80 s, never begun.
// Each notice is now claimed just before its send: while the webhook is in flight, the other
// instance (or this one restarted) finds the e-mails unclaimed and sends them at once, and never
// takes the notice in flight (its lease runs), so nothing goes twice.
TEST_F(NotifierTest, ANoticeIsClaimedJustBeforeItsSendSoACrashHoldsOnlyTheOneInFlight) {
  ASSERT_EQ(store_->SubmitResponse(CreateSurvey("E-1"), Answer("I'm scared he will come back", 5),
                                   clock_.Now()),
            store::SubmitOutcome::kStored);
  NotifierOptions options = Options();
  options.email_by_kind = {{"safeguarding", {"mash@force.example"}}};
  auto first = Make(options);
  auto other = Make(options);
  int in_flight_sent_by_other = -1;
  std::string states_during_send;
  receiver_.OnRequest([&] {
    // The first instance is mid-send of the webhook (the first notice made).
    states_during_send = db_.Query(
        "SELECT string_agg(channel || ' ' || state, ', ' ORDER BY id) FROM alert_notices");
    in_flight_sent_by_other = other->RunOnce();
  });
  EXPECT_EQ(first->RunOnce(), 1);
  receiver_.OnRequest(nullptr);
  EXPECT_EQ(states_during_send, "webhook claimed, email pending, email pending");
  EXPECT_EQ(in_flight_sent_by_other, 2) << "the e-mails, at once; not the webhook in flight";
  EXPECT_EQ(receiver_.Requests().size(), 1u);
  EXPECT_EQ(relay_.Messages().size(), 2u);
  EXPECT_EQ(Count("alert_notices", "state = 'sent' AND attempts = 1"), "3");
}

// One thread sent every notice in turn: a webhook receiver that hung (its whole timeout, attempt
// after attempt) held each alert e-mail queued behind it. Each channel has a sender of its own.
TEST_F(NotifierTest, AWebhookReceiverThatHangsHoldsNoEmailBack) {
  ASSERT_EQ(store_->SubmitResponse(CreateSurvey("E-1"), Answer("I'm scared he will come back", 5),
                                   clock_.Now()),
            store::SubmitOutcome::kStored);
  auto options = Options();
  options.webhook.timeout = 120s;  // longer than this test waits: a receiver that hangs
  options.lease = 200s;
  options.poll_interval = 50ms;
  auto notifier = Make(options);
  std::atomic<bool> mailed_while_hanging = false;
  receiver_.OnRequest([&] {
    // Hangs until the e-mail has gone; one sender for both would wait here forever (bounded to
    // 30 s, then fails).
    for (int i = 0; i < 600 && relay_.Messages().empty(); ++i) std::this_thread::sleep_for(50ms);
    mailed_while_hanging = !relay_.Messages().empty();
  });
  notifier->Start();
  for (int i = 0; i < 1200 && Count("alert_notices", "state = 'sent'") != "2"; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  notifier->Stop();
  receiver_.OnRequest(nullptr);
  EXPECT_TRUE(mailed_while_hanging) << "the e-mail waited for the webhook";
  EXPECT_EQ(Count("alert_notices", "state = 'sent' AND attempts = 1"), "2");
  EXPECT_EQ(relay_.Messages().size(), 1u);
  EXPECT_EQ(receiver_.Requests().size(), 1u);
}

TEST_F(NotifierTest, EachKindAlsoReachesItsOwnAddresses) {
  ASSERT_EQ(store_->SubmitResponse(CreateSurvey("E-1"), Answer("I'm scared he will come back", 5),
                                   clock_.Now()),
            store::SubmitOutcome::kStored);
  ASSERT_EQ(store_->SubmitResponse(CreateSurvey("E-2"), Answer("I want to make a complaint", 5),
                                   clock_.Now()),
            store::SubmitOutcome::kStored);
  ASSERT_EQ(Count("alerts"), "2");
  auto options = Options();
  options.webhook.url.clear();
  // The duty inspector gets every alert, once even where a kind names them too.
  options.email_by_kind = {{"safeguarding", {"mash@force.example", "duty@force.example"}},
                           {"complaint", {"psd@force.example"}}};
  auto notifier = Make(options);
  EXPECT_EQ(notifier->RunOnce(), 4);
  std::multimap<std::string, std::string> subjects;  // recipient -> subject
  for (const auto& m : relay_.Messages()) {
    subjects.emplace(m["to"][0], std::string(m["headers"]));
  }
  ASSERT_EQ(subjects.size(), 4u);
  EXPECT_EQ(subjects.count("duty@force.example"), 2u);
  ASSERT_EQ(subjects.count("mash@force.example"), 1u);
  EXPECT_THAT(subjects.find("mash@force.example")->second, HasSubstr("Safeguarding alert"));
  ASSERT_EQ(subjects.count("psd@force.example"), 1u);
  EXPECT_THAT(subjects.find("psd@force.example")->second, HasSubstr("Complaint alert"));
}

TEST_F(NotifierTest, GivesUpAfterMaxAttemptsAndStopsOnGone) {
  const auto survey = CreateSurvey("E-1");
  ASSERT_EQ(store_->SubmitResponse(survey, Answer("I want to make a complaint", 5), clock_.Now()),
            store::SubmitOutcome::kStored);
  auto options = Options();
  options.email_to.clear();
  options.max_attempts = 2;
  auto notifier = Make(options);
  receiver_.AnswerNext({500, 500});
  EXPECT_EQ(notifier->RunOnce(), 1);
  clock_.Advance(1h);
  EXPECT_EQ(notifier->RunOnce(), 1);
  EXPECT_EQ(db_.Query("SELECT state || ' ' || attempts || ' ' || last_error FROM alert_notices"),
            "failed 2 gave up after 2 attempts: webhook answered 500");
  EXPECT_EQ(notifier->Status().failed, 1);
  // Health says when, so that an error from before the notices went again reads as history.
  EXPECT_EQ(notifier->Status().last_error_at, clock_.Now());

  const auto second = CreateSurvey("E-2");
  ASSERT_EQ(store_->SubmitResponse(second, Answer("rude", 5), clock_.Now()),
            store::SubmitOutcome::kStored);
  receiver_.AnswerNext({410});
  EXPECT_EQ(notifier->RunOnce(), 1);
  EXPECT_EQ(Count("alert_notices", "state = 'failed' AND attempts = 1"), "1");
  const auto summary = alerts_->Summary();
  EXPECT_EQ(summary.notices_failed, 2);
  EXPECT_EQ(summary.notices_sent + summary.notices_waiting, 0);
  std::int64_t open = 0;
  for (const auto& kind : summary.kinds) open += kind.open + kind.acknowledged + kind.resolved;
  EXPECT_EQ(open, 2);
}

// The force's receiver behind HTTPS with a certificate of its own CA: trusted through
// alerts.webhook_ca_file, the notice goes. Without it nothing reaches the receiver, and the notice
// waits for its retry with the reason recorded, as any failed webhook does.
TEST_F(NotifierTest, AWebhookCertifiedByTheForcesOwnCaIsTrustedThroughItsCaFile) {
  const testing::TestCa ca;
  ASSERT_TRUE(ca.Made()) << ca.Problem();
  WebhookReceiver receiver(ca.CertFile(), ca.KeyFile());
  const auto survey = CreateSurvey("E-1");
  ASSERT_EQ(store_->SubmitResponse(survey, Answer("I want to make a complaint", 5), clock_.Now()),
            store::SubmitOutcome::kStored);
  auto options = Options();
  options.email_to.clear();
  options.webhook.url = receiver.Url();

  EXPECT_EQ(Make(options)->RunOnce(), 1);  // the system's CAs do not know the force's
  EXPECT_TRUE(receiver.Requests().empty());
  const std::string waiting =
      db_.Query("SELECT state || ' ' || attempts || ' ' || last_error FROM alert_notices");
  EXPECT_THAT(waiting, HasSubstr("pending 1 webhook: TLS handshake: certificate verify failed"));
  EXPECT_THAT(waiting, HasSubstr("trusted: the system's CAs"));

  options.webhook.ca_file = ca.CaFile();
  clock_.Advance(1h);
  EXPECT_EQ(Make(options)->RunOnce(), 1);
  ASSERT_EQ(receiver.Requests().size(), 1u);
  EXPECT_TRUE(VerifyWebhookSignature(kWebhookSecret, receiver.Requests()[0].Header("webhook-id"),
                                     ToUnixSeconds(clock_.Now()), receiver.Requests()[0].body,
                                     receiver.Requests()[0].Header("webhook-signature")));
  EXPECT_EQ(db_.Query("SELECT state || ' ' || attempts FROM alert_notices"), "sent 2");
}

// ---- E-mail ----------------------------------------------------------------------------------

MailMessage Mail(const std::string& to) {
  MailMessage mail;
  mail.from = "alerts@force.example";
  mail.to = to;
  mail.subject = "Test — ważne";
  mail.body = "Hello\n.\nTwo lines";
  mail.date = FromUnixSeconds(1'800'000'000);
  return mail;
}

TEST(SmtpTest, SendsThroughTheRelayAndClassifiesRefusals) {
  SmtpRelay relay({"--fail-first", "1", "--reject-rcpt", "nobody@force.example"});
  auto result = SendMail(relay.Options(), Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kTransient) << "451 is worth retrying";
  EXPECT_EQ(result.code, 451);
  result = SendMail(relay.Options(), Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kSent) << result.error;
  result = SendMail(relay.Options(), Mail("nobody@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kPermanent);
  EXPECT_EQ(result.code, 550);
  const auto messages = relay.Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["from"], "alerts@force.example");
  EXPECT_EQ(messages[0]["body"], "Hello\n.\nTwo lines");
  EXPECT_EQ(messages[0]["tls"], false);

  // Authentication is never offered in clear (and the e-mail waits for the configuration).
  auto options = relay.Options();
  options.username = "surveyd";
  options.password = "secret";
  result = SendMail(options, Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kTransient);
  EXPECT_THAT(result.error, HasSubstr("without TLS"));
  // STARTTLS asked of a relay that has none: refused, not sent in clear.
  options = relay.Options();
  options.starttls = true;
  result = SendMail(options, Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kTransient);
  EXPECT_THAT(result.error, HasSubstr("does not offer STARTTLS"));
  EXPECT_EQ(relay.Messages().size(), 1u);
  // Nobody listening.
  options = relay.Options();
  options.port = 1;
  EXPECT_EQ(SendMail(options, Mail("duty@force.example")).status, SmtpResult::Status::kTransient);
}

TEST(SmtpTest, StartTlsWithAuthentication) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("surveyd-smtp-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
      " -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl is needed to make a test certificate";
  SmtpRelay relay({"--tls-cert", cert, "--tls-key", key, "--user", "surveyd:s3cret"});
  auto options = relay.Options();
  options.host = "localhost";
  options.starttls = true;
  options.ca_file = cert;
  options.username = "surveyd";
  options.password = "s3cret";
  auto result = SendMail(options, Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kSent) << result.error;
  auto messages = relay.Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["tls"], true);
  EXPECT_EQ(messages[0]["user"], "surveyd");
  // A certificate we do not trust: nothing is sent.
  options.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  result = SendMail(options, Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kTransient);
  EXPECT_THAT(result.error, HasSubstr("not trusted"));
  // A password rotated at the relay before ours: refused, but retried (ops put it right).
  options.ca_file = cert;
  options.password = "wrong";
  result = SendMail(options, Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kTransient);
  EXPECT_EQ(result.code, 535);
  EXPECT_THAT(result.error, HasSubstr("the SMTP relay refused us at AUTH: 535"));
  EXPECT_EQ(relay.Messages().size(), 1u);
  std::filesystem::remove_all(dir);
}

// A relay that refuses us ("550 5.7.1 relaying denied" to MAIL FROM) refuses the relationship,
// not the message: each e-mail was failed for good at its first attempt, and sent by nobody
// once ops had put the relay right. Now it is retried; only a recipient refused is final.
TEST(SmtpTest, ARefusalOfTheSessionIsRetriedAndOnlyARecipientRefusedIsFinal) {
  SmtpRelay relay({"--fail-first", "1", "--fail-reply", "550 5.7.1 relaying denied"});
  auto result = SendMail(relay.Options(), Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kTransient);
  EXPECT_EQ(result.code, 550);
  EXPECT_EQ(result.error, "the SMTP relay refused us at MAIL FROM: 550 5.7.1 relaying denied");
  result = SendMail(relay.Options(), Mail("duty@force.example"));
  EXPECT_EQ(result.status, SmtpResult::Status::kSent) << result.error;
}

TEST_F(NotifierTest, AnAlertEmailRefusedByTheRelayGoesOnceTheRelayIsPutRight) {
  SmtpRelay refusing({"--fail-first", "2", "--fail-reply", "550 5.7.1 relaying denied",
                      "--reject-rcpt", "nobody@force.example"});
  ASSERT_EQ(store_->SubmitResponse(CreateSurvey("E-1"), Answer("I want to make a complaint", 5),
                                   clock_.Now()),
            store::SubmitOutcome::kStored);
  auto options = Options();
  options.webhook.url.clear();
  options.email_to = {"duty@force.example", "nobody@force.example"};
  options.smtp = refusing.Options();
  auto notifier = Make(options);
  testing::CapturedLog log;
  EXPECT_EQ(notifier->RunOnce(), 2);
  EXPECT_EQ(db_.Query("SELECT string_agg(state || ' ' || attempts || ' ' || last_error, '|' "
                      "ORDER BY id) FROM alert_notices"),
            "pending 1 the SMTP relay refused us at MAIL FROM: 550 5.7.1 relaying denied|"
            "pending 1 the SMTP relay refused us at MAIL FROM: 550 5.7.1 relaying denied");
  EXPECT_THAT(log.Text(), HasSubstr("(complaint, round 0) by email not sent"));
  EXPECT_THAT(log.Text(), HasSubstr("attempt 1): the SMTP relay refused us at MAIL FROM: 550 5.7.1 "
                                    "relaying denied; will retry"));
  EXPECT_THAT(log.Text(), Not(HasSubstr("@force.example"))) << "no address in the log";
  EXPECT_EQ(notifier->Status().retried, 2);
  EXPECT_TRUE(refusing.Messages().empty());

  // The relay put right: the e-mail goes; the address it refuses is failed, at once.
  clock_.Advance(1h);
  EXPECT_EQ(notifier->RunOnce(), 2);
  EXPECT_EQ(db_.Query("SELECT string_agg(recipient || ' ' || state || ' ' || attempts || ' ' || "
                      "COALESCE(last_error, ''), '|' ORDER BY id) FROM alert_notices"),
            "duty@force.example sent 2 |"
            "nobody@force.example failed 2 RCPT TO refused: 550 5.1.1 no such user");
  ASSERT_EQ(refusing.Messages().size(), 1u);
  EXPECT_EQ(refusing.Messages()[0]["to"][0], "duty@force.example");
}

// ---- The weekly digest -----------------------------------------------------------------------

TEST_F(NotifierTest, WeeklyDigestOncePerTeamEvenWithTwoInstances) {
  // Answers the week before Monday 30 November 2026 08:00 (GMT): team A has PC1 with 4, PC2 with
  // 1 and PC3 with 3 (hidden beside PC2); team B has OP9 with 3.
  struct Row {
    const char* person;
    const char* team;
    EventType type;
    const char* comment;
  };
  const std::vector<Row> rows = {
      {"PC1", "Team A", EventType::kResourceDeparted, "Brilliant officer, thank you"},
      {"PC1", "Team A", EventType::kResourceDeparted, "kind and patient"},
      {"PC1", "Team A", EventType::kResourceDeparted, ""},
      {"PC1", "Team A", EventType::kResourceDeparted, ""},
      {"PC2", "Team A", EventType::kResourceDeparted, "Excellent"},
      {"PC3", "Team A", EventType::kResourceDeparted, "Really kind, thanks"},
      {"PC3", "Team A", EventType::kResourceDeparted, ""},
      {"PC3", "Team A", EventType::kResourceDeparted, ""},
      {"OP9", "Team B", EventType::kCallEnded, "thanks"},
      {"OP9", "Team B", EventType::kCallEnded, ""},
      {"OP9", "Team B", EventType::kCallEnded, ""},
  };
  int n = 0;
  for (const Row& row : rows) {
    Contact c;
    c.event_id = "W-" + std::to_string(++n);
    c.type = row.type;
    c.person = row.person;
    c.team = row.team;
    c.at = At("2026-11-26T12:00:00Z") + std::chrono::minutes(n);
    const auto survey = CreateSurvey(c);
    ASSERT_EQ(store_->SubmitResponse(survey, Answer(row.comment, 10), clock_.Now()),
              store::SubmitOutcome::kStored);
  }
  auto options = DigestOptions();
  options.digest.recipients = {{"Team A", "sgt-a@force.example"}};
  options.digest.default_recipient = "ops@force.example";
  auto first = Make(options);
  auto second = Make(options);

  clock_.Set(At("2026-11-30T07:59:00Z"));  // the week before is still the one due
  std::thread racing([&] { second->RunOnce(); });
  first->RunOnce();
  racing.join();
  EXPECT_EQ(Count("recognition_digests"), "0") << "Monday 23 November: before the first answer";

  clock_.Set(At("2026-11-30T08:00:30Z"));
  std::thread racing_again([&] { second->RunOnce(); });
  first->RunOnce();
  racing_again.join();
  first->RunOnce();  // sends whatever the other claimed too late to send
  second->RunOnce();
  EXPECT_EQ(Count("recognition_digests"), "2");
  EXPECT_EQ(Count("recognition_digests",
                  "period_start = '2026-11-23T08:00:00Z' AND period_end = "
                  "'2026-11-30T08:00:00Z'"),
            "2");
  const auto mail = relay_.Messages();
  ASSERT_EQ(mail.size(), 2u);
  std::map<std::string, std::string> body_to;
  for (const auto& m : mail) body_to[m["to"][0]] = m["body"];
  ASSERT_TRUE(body_to.count("sgt-a@force.example"));
  ASSERT_TRUE(body_to.count("ops@force.example"));
  const std::string team_a = body_to["sgt-a@force.example"];
  EXPECT_THAT(team_a, HasSubstr("Recognition for Team A"));
  EXPECT_THAT(team_a, HasSubstr("4 answers about contacts with the people shown."));
  EXPECT_THAT(team_a,
              HasSubstr("PC1              officer          4           20         4       2"));
  EXPECT_THAT(team_a, HasSubstr("2 more people not shown: fewer than 3 answers, or hidden"));
  EXPECT_THAT(team_a, Not(HasSubstr("PC2")));
  EXPECT_THAT(team_a, Not(HasSubstr("PC3")));
  EXPECT_THAT(team_a, Not(HasSubstr("Brilliant")));
  // The comments are on the dashboard's praise view of the team, for the digest's local days.
  EXPECT_THAT(team_a,
              HasSubstr("/dashboard?view=praise&team=Team%20A&from=2026-11-23&to=2026-11-30"));
  EXPECT_THAT(body_to["ops@force.example"], HasSubstr("OP9"));

  // The rest of the week: nothing more.
  clock_.Set(At("2026-12-02T08:00:00Z"));
  first->RunOnce();
  second->RunOnce();
  EXPECT_EQ(Count("recognition_digests"), "2");
  EXPECT_EQ(relay_.Messages().size(), 2u);
  const auto summary = alerts_->Summary();
  EXPECT_EQ(summary.digests, 2);
  EXPECT_EQ(summary.digests_sent, 2);
  EXPECT_EQ(summary.notices_sent, 0) << "a digest's e-mail is not an alert's notice";
}

TEST_F(NotifierTest, WeeklyDigestCountsTheAnswersGivenInItsWeek) {
  // Digests on Mondays at 08:00 (GMT). PC1's contacts on Friday 20 November were answered on
  // Tuesday 24th; PC7's on Sunday 29th were answered on Monday 30th after the digest was made.
  // Counted by the contacts' dates, neither set reached any digest: the first's week was over
  // when 23 November's was made, and the second's answers came after 30 November's.
  struct Row {
    const char* person;
    const char* contact_at;
    const char* answered_at;
  };
  const std::vector<Row> rows = {
      {"PC1", "2026-11-20T15:00:00Z", "2026-11-24T09:00:00Z"},
      {"PC1", "2026-11-20T16:00:00Z", "2026-11-24T09:10:00Z"},
      {"PC1", "2026-11-20T17:00:00Z", "2026-11-25T19:00:00Z"},
      {"PC7", "2026-11-29T21:00:00Z", "2026-11-30T09:00:00Z"},
      {"PC7", "2026-11-29T22:00:00Z", "2026-11-30T10:00:00Z"},
      {"PC7", "2026-11-29T23:00:00Z", "2026-12-01T07:30:00Z"},
  };
  auto options = DigestOptions();
  options.digest.default_recipient = "sgt@force.example";
  auto notifier = Make(options);

  int n = 0;
  auto answer = [&](const Row& row) {
    Contact c;
    c.event_id = "L-" + std::to_string(++n);
    c.type = EventType::kResourceDeparted;
    c.person = row.person;
    c.team = "Team L";
    c.at = At(row.contact_at);
    const auto survey = CreateSurvey(c);
    ASSERT_EQ(
        store_->SubmitResponse(survey, Answer("thank you, very kind", 10), At(row.answered_at)),
        store::SubmitOutcome::kStored);
  };
  for (int i = 0; i < 3; ++i) answer(rows[i]);
  clock_.Set(At("2026-11-30T08:00:30Z"));
  notifier->RunOnce();
  notifier->RunOnce();  // sends the digest queued
  for (int i = 3; i < 6; ++i) answer(rows[i]);
  clock_.Set(At("2026-12-07T08:00:30Z"));
  notifier->RunOnce();
  notifier->RunOnce();

  EXPECT_EQ(Count("recognition_digests"), "2");
  const auto mail = relay_.Messages();
  ASSERT_EQ(mail.size(), 2u);
  const std::string first = mail[0]["body"], second = mail[1]["body"];
  EXPECT_THAT(first,
              HasSubstr("Answers given from Monday 23 November 2026 to Monday 30 November 2026."));
  EXPECT_THAT(first, HasSubstr("3 answers about contacts with the people shown."));
  EXPECT_THAT(first, HasSubstr("PC1 "));
  EXPECT_THAT(first, Not(HasSubstr("PC7")));
  EXPECT_THAT(first, HasSubstr("team=Team%20L&from=2026-11-23&to=2026-11-30&dates=answered"));
  EXPECT_THAT(second,
              HasSubstr("Answers given from Monday 30 November 2026 to Monday 7 December 2026."));
  EXPECT_THAT(second, HasSubstr("PC7 "));
  EXPECT_THAT(second, Not(HasSubstr("PC1")));
}

// ---- The survey page -------------------------------------------------------------------------

TEST_F(AlertsTest, RiskCommentOnTheSurveyPageRaisesAnAlertAndShowsHelp) {
  const auto survey = CreateSurvey("E-1");
  auto messages = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  ASSERT_EQ(messages.size(), 1u);
  const std::string token = token::DeriveToken(kTokenSecret, messages[0].token_nonce);
  ASSERT_TRUE(store_->BeginSend(messages[0], token::TokenHash(token), clock_.Now(), 60s));
  survey::SurveyHandlerOptions options(*store_, clock_);
  options.page.force_name = "West Midlands Police";
  options.page.zone = TimeZone::Load("Europe/London");
  options.raise_alerts = ShippedPageAlerts;
  survey::SurveyPages pages(options);
  auto post = [&](const std::string& body) {
    return pages.Handle(AnswerForm(token, body, "lang=pl"));
  };
  auto response = post("q1=3&comment=" + http::UrlEncode("Boję się, że on wróci"));
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body, HasSubstr("Jeśli potrzebujesz pomocy teraz"));
  EXPECT_THAT(response.body, HasSubstr("tel:999"));
  EXPECT_EQ(Count("alerts", "survey_id = " + std::to_string(survey) + " AND kind = 'safeguarding'"),
            "1");
  response = post("q1=3&comment=" + http::UrlEncode("Boję się, że on wróci"));
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body, HasSubstr("Jeśli potrzebujesz pomocy teraz"));
  EXPECT_EQ(Count("alerts"), "1");
  // Coming back to the link later: the page any answered survey shows (with 999 and 101), from
  // this instance's page cache and from another instance's database look-up alike. Whoever
  // opens the link on that phone later must not learn from it what the answer disclosed.
  auto get = [&](survey::SurveyPages& on, const std::string& link) {
    http::Request request;
    request.method = "GET";
    request.path = "/s/" + link;
    request.query = "lang=pl";
    request.remote_address = "203.0.113.5";
    return on.Handle(request);
  };
  survey::SurveyPages other_instance(options);
  std::vector<std::string> revisits;
  for (auto* on : {&pages, &other_instance}) {
    response = get(*on, token);
    EXPECT_EQ(response.status, 200);
    EXPECT_THAT(response.body, Not(HasSubstr("Jeśli potrzebujesz pomocy teraz")));
    EXPECT_THAT(response.body, HasSubstr("tel:999"));
    revisits.push_back(response.body);
  }

  // A thankful answer: the usual page.
  const auto other = CreateSurvey("E-2");
  (void)other;
  messages = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  ASSERT_EQ(messages.size(), 1u);
  const std::string token2 = token::DeriveToken(kTokenSecret, messages[0].token_nonce);
  ASSERT_TRUE(store_->BeginSend(messages[0], token::TokenHash(token2), clock_.Now(), 60s));
  http::Request request;
  request.method = "POST";
  request.path = "/s/" + token2;
  request.body = "q1=10&comment=" + http::UrlEncode("Thank you, I'm not scared any more");
  request.remote_address = "203.0.113.5";
  response = pages.Handle(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body, Not(HasSubstr("help-now")));
  EXPECT_EQ(Count("alerts"), "1");
  request.method = "GET";
  request.body.clear();
  EXPECT_THAT(pages.Handle(request).body, Not(HasSubstr("help-now")));
  EXPECT_THAT(survey::SurveyPages(options).Handle(request).body, Not(HasSubstr("help-now")));
  // The two answered surveys' pages, shown again, differ only by their links.
  survey::SurveyPages third_instance(options);
  for (const std::string& revisit : revisits) {
    std::string page = revisit;
    std::string thankful = get(third_instance, token2).body;
    for (std::string* text : {&page, &thankful}) {
      for (const std::string& link : {token, token2}) {
        for (std::size_t at = text->find(link); at != std::string::npos; at = text->find(link)) {
          text->replace(at, link.size(), "LINK");
        }
      }
    }
    EXPECT_EQ(page, thankful);
  }
}

// The audit: "he is back and I am scared" posted to an expired link, or again to an answered
// survey, gave a page with no help (or help, but nothing stored and no alert), while the same
// words by SMS raised one. Now they are kept as a text back to the survey is (never as an
// answer), raise the alerts their words raise, and the page says where to get help.
TEST_F(AlertsTest, WordsPostedToAClosedOrAnsweredSurveyAreKeptAndRaiseTheirAlerts) {
  survey::SurveyHandlerOptions options(*store_, clock_);
  options.raise_alerts = ShippedPageAlerts;
  survey::SurveyPages pages(options);
  const auto sent = [&](const std::string& event_id) {
    const auto survey = CreateSurvey(event_id);
    auto messages = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
    EXPECT_EQ(messages.size(), 1u);
    const std::string token = token::DeriveToken(kTokenSecret, messages.at(0).token_nonce);
    EXPECT_TRUE(store_->BeginSend(messages[0], token::TokenHash(token), clock_.Now(), 60s));
    return std::pair{survey, token};
  };
  const auto post = [&](const std::string& token, const std::string& body) {
    return pages.Handle(AnswerForm(token, body));
  };
  const std::string scared = "comment=" + http::UrlEncode("he is back and I am scared");
  const auto late_texts = [&](std::int64_t survey) {
    return db_.Query(
        "SELECT string_agg(gateway || '/' || disposition || ':' || body, '|' ORDER BY id) "
        "FROM inbound_messages WHERE survey_id = " +
        std::to_string(survey));
  };

  // Answered already: the words come again with other scores.
  const auto [answered, answered_token] = sent("E-1");
  ASSERT_EQ(post(answered_token, "q1=8&comment=all+fine").status, 200);
  EXPECT_EQ(Count("alerts"), "0");
  auto page = post(answered_token, "q1=0&" + scared);
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("already received your answers"));
  EXPECT_THAT(page.body, HasSubstr("tel:999"));
  EXPECT_EQ(late_texts(answered), "survey_link/reply:he is back and I am scared");
  EXPECT_EQ(db_.Query("SELECT q1 || '/' || comment FROM responses WHERE survey_id = " +
                      std::to_string(answered)),
            "8/all fine")
      << "never an answer";
  EXPECT_EQ(Count("alerts", "kind = 'safeguarding' AND survey_id = " + std::to_string(answered)),
            "1");
  // The same words again (the form sent twice) are kept once, and raise nothing more.
  post(answered_token, scared);
  EXPECT_EQ(Count("inbound_messages"), "1");
  EXPECT_EQ(Count("alert_events", "action = 'created'"), "1");
  // The alert shows them, masked as every text back is.
  const auto alert = alerts_->GetAlert(std::stoll(db_.Query("SELECT id FROM alerts")));
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->comment, "all fine\nhe is back and I am scared");

  // Closed before it was answered.
  const auto [closed, closed_token] = sent("E-2");
  clock_.Advance(24h * 31);
  page = post(closed_token, "q2=3&" + scared);
  EXPECT_THAT(page.body, HasSubstr("tel:999"));
  EXPECT_EQ(late_texts(closed), "survey_link/reply:he is back and I am scared");
  EXPECT_EQ(Count("responses", "survey_id = " + std::to_string(closed)), "0");
  EXPECT_EQ(Count("alerts", "kind = 'safeguarding' AND survey_id = " + std::to_string(closed)),
            "1");
  // Words that call for nothing are kept all the same, and the page shows no help.
  page =
      post(closed_token, "comment=" + http::UrlEncode("sorry I missed it, the officer was kind"));
  EXPECT_THAT(page.body, Not(HasSubstr("help-now")));
  EXPECT_EQ(Count("inbound_messages", "survey_id = " + std::to_string(closed)), "2");
  EXPECT_EQ(Count("alerts"), "2");
  // Scores alone leave nothing.
  post(closed_token, "q1=1");
  EXPECT_EQ(Count("inbound_messages"), "3");
}

TEST_F(AlertsTest, ANumberWrittenAcrossTheCommentAndALaterTextIsMaskedWhole) {
  // The alert joins the comment and the texts after it, one a line: a number begun in one and
  // ended in the next was shown whole when each was masked alone.
  survey::SurveyHandlerOptions options(*store_, clock_);
  options.raise_alerts = ShippedPageAlerts;
  survey::SurveyPages pages(options);
  const auto survey = CreateSurvey("E-1");
  auto messages = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  ASSERT_EQ(messages.size(), 1u);
  const std::string token = token::DeriveToken(kTokenSecret, messages.at(0).token_nonce);
  ASSERT_TRUE(store_->BeginSend(messages[0], token::TokenHash(token), clock_.Now(), 60s));
  const auto post = [&](const std::string& body) { return pages.Handle(AnswerForm(token, body)); };
  ASSERT_EQ(post("q1=0&comment=" + http::UrlEncode("I am scared he will come back, my mobile is "
                                                   "07700"))
                .status,
            200);
  post("comment=" + http::UrlEncode("900962 ring me"));
  const auto alert = alerts_->GetAlert(
      std::stoll(db_.Query("SELECT id FROM alerts WHERE survey_id = " + std::to_string(survey))));
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->comment, "I am scared he will come back, my mobile is [phone removed] ring me");
}

}  // namespace
}  // namespace surveyd::alerts
