// The analysts' API as a function from request to response, with in-memory stores: the role
// matrix of every route, the OpenAPI document against what the server does, every filter and
// group_by, suppression, Wilson intervals, CSV, paging, the audit trail and the bad-token limit.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "fakes/captured_log.hpp"
#include "fakes/fake_alerts.hpp"
#include "fakes/fake_analytics.hpp"
#include "fakes/manual_clock.hpp"
#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/statistics.hpp"
#include "surveyd/gateway/kannel.hpp"
#include "surveyd/gateway/twilio.hpp"
#include "surveyd/gateway/wmnow.hpp"

namespace surveyd::api {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using store::Dimension;

constexpr char kBootstrap[] = "bootstrap-token-bootstrap-token-bootstrap";
const std::vector<Role> kRoles = {Role::kAnalyst, Role::kSupervisor, Role::kOps, Role::kAdmin,
                                  Role::kSafeguarding};

// Every route, and the role it needs (nullopt: public). A change here is a change of who may
// see what: it should be deliberate.
const std::map<std::string, std::optional<Role>> kRoleMatrix = {
    {"GET /healthz", std::nullopt},
    {"GET /readyz", std::nullopt},
    {"GET /metrics", std::nullopt},  // only to metrics.allow
    {"GET /api/v1/health", Role::kOps},
    {"POST /api/v1/feed/events", std::nullopt},
    // The adapter in use (here WMNow) has its callbacks routed, by GET and by POST.
    {"GET /api/v1/gateway/wmnow/status", std::nullopt},
    {"POST /api/v1/gateway/wmnow/status", std::nullopt},
    {"GET /api/v1/gateway/wmnow/inbound", std::nullopt},
    {"POST /api/v1/gateway/wmnow/inbound", std::nullopt},
    {"GET /api/v1/stats", Role::kAnalyst},
    {"GET /api/v1/funnel", Role::kAnalyst},
    {"GET /api/v1/representativeness", Role::kAnalyst},
    {"GET /api/v1/responses", Role::kAnalyst},
    {"GET /api/v1/comments", Role::kAnalyst},
    {"GET /api/v1/surveys/{id}", Role::kOps},
    {"GET /api/v1/rules", Role::kOps},
    {"GET /api/v1/sends/hold", Role::kOps},
    {"POST /api/v1/sends/hold", Role::kOps},
    {"POST /api/v1/sends/release", Role::kOps},
    {"GET /api/v1/tokens", Role::kAdmin},
    {"POST /api/v1/tokens", Role::kAdmin},
    {"DELETE /api/v1/tokens/{id}", Role::kAdmin},
    {"GET /api/v1/audit", Role::kAdmin},
    // Alerts: supervisors, and safeguarding staff too (Route::also); only safeguarding reveals.
    {"GET /api/v1/alerts", Role::kSupervisor},
    {"GET /api/v1/alerts/{id}", Role::kSupervisor},
    {"POST /api/v1/alerts/{id}/acknowledge", Role::kSupervisor},
    {"POST /api/v1/alerts/{id}/resolve", Role::kSupervisor},
    {"POST /api/v1/alerts/{id}/reveal", Role::kSafeguarding},
    {"GET /api/v1/recognition", Role::kSupervisor},
    {"GET /api/v1/openapi.json", std::nullopt},
    {"GET /dashboard", std::nullopt},
    {"GET /dashboard", std::nullopt},  // "/dashboard/" too, under the same name
    {"GET /dashboard/{file}", std::nullopt},
    {"GET /", std::nullopt},
    {"GET /s/{token}", std::nullopt},
    {"POST /s/{token}", std::nullopt},
    {"GET /s/{token}/stop", std::nullopt},
    {"POST /s/{token}/stop", std::nullopt},
};

std::string Lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The hold ops put on every text: the OpsStore that ops' routes use (the store's side is tested
// against PostgreSQL: tests/integration/dispatch_test.cpp).
class HoldsOnly final : public store::OpsStore {
 public:
  store::QueueStats GetQueueStats(TimePoint) override { return {}; }
  std::optional<store::SendHold> ActiveSendHold() override { return open; }
  store::HoldOutcome HoldSends(const std::string& reason, const std::string& by) override {
    store::HoldOutcome outcome;
    outcome.already_held = open.has_value();
    if (!open) open = store::SendHold{7, reason, by, TimePoint{}};
    outcome.hold = *open;
    outcome.in_flight = 2;
    return outcome;
  }
  store::ReleaseOutcome ReleaseSends(const std::string& by, const std::string& note,
                                     bool cancel_waiting, TimePoint) override {
    store::ReleaseOutcome outcome;
    outcome.released = std::exchange(open, std::nullopt);
    if (outcome.released) {
      released_by = by;
      release_note = note;
      outcome.cancelled = cancel_waiting ? 5 : 0;
    }
    return outcome;
  }
  std::optional<store::SendHold> open;
  std::string released_by, release_note;
};

class AnalyticsApiTest : public ::testing::Test {
 protected:
  AnalyticsApiTest() : clock_(*ParseRfc3339("2026-11-26T10:00:00Z")) {
    authenticator_ = MakeStoreAuthenticator(tokens_, clock_, kBootstrap);
    options_.clock = &clock_;
    options_.analytics = &analytics_;
    options_.ops = &holds_;
    options_.tokens = &tokens_;
    options_.alerts = &alerts_;
    options_.alert_config = [] {
      static const auto loaded =
          alerts::LoadAlertConfigFile(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
      return loaded.config;
    };
    options_.audit = &audit_;
    options_.authenticator = authenticator_.get();
    options_.min_cell_size = 10;
    options_.question_texts = {"Polite?", "Understood?", "Time?", "Next steps?", "Helped?"};
    options_.question_labels = {"Polite", "Understanding", "Time", "Next steps", "Helped"};
    options_.readiness = [] { return Readiness{true, R"({"ready":true})", {}}; };
    options_.rules_info = [] { return std::string(R"({"version":"sha256:abc"})"); };
    options_.survey_group_names = [] {
      return std::vector<std::pair<std::string, std::string>>{{"force_contact", "Force Contact"},
                                                              {"attendance", "Force Response"}};
    };
    options_.survey_pages = [](const http::Request&) { return http::Response::Html(200, "page"); };
    gateway::WmnowOptions wmnow;
    wmnow.webhook_secret = "hook-secret-hook-secret";
    gateway_ = gateway::MakeWmnowGateway(wmnow);
    options_.gateway = gateway_.get();
    for (Role role : kRoles) {
      auto issued = IssueToken(role, std::string(RoleName(role)) + " user", "test", clock_.Now());
      tokens_.CreateToken(issued.record, issued.hash);
      secrets_[role] = issued.secret;
    }
    handler_ = MakeApiHandler(options_);
  }

  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& token = "", const std::string& body = "",
                      const std::string& client = "198.51.100.7", const http::Headers& extra = {}) {
    http::Request request;
    request.method = method;
    request.target = target;
    const auto question = target.find('?');
    request.path = target.substr(0, question);
    request.query = question == std::string::npos ? "" : target.substr(question + 1);
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    for (const auto& header : extra) request.headers.push_back(header);
    request.body = body;
    request.remote_address = client;
    return handler_(request);
  }
  http::Response Get(const std::string& target, Role role = Role::kAdmin) {
    return Call("GET", target, secrets_[role]);
  }
  json Json(const http::Response& response) { return json::parse(response.body, nullptr, false); }

  // A cell of `answered` respondents who all answered every question: a mean of 7 with a spread
  // of 2 (the mean of their squares is 53).
  static store::StatsCell Cell(std::vector<std::optional<std::string>> keys, std::int64_t answered,
                               std::int64_t top_box) {
    store::StatsCell cell;
    cell.keys = std::move(keys);
    cell.surveys = answered * 4;
    cell.sent = answered * 3;
    cell.reached = answered * 3 - 1;
    cell.answered = answered;
    for (const char* q : {"q1", "q2", "q3", "q4", "q5"}) {
      cell.questions[q] = {answered, answered * 7, top_box, answered * 53};
    }
    return cell;
  }

  testing::ManualClock clock_;
  testing::FakeAnalyticsStore analytics_;
  HoldsOnly holds_;
  testing::FakeTokenStore tokens_;
  testing::EmptyAlertStore alerts_;
  testing::FakeAuditStore audit_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<Authenticator> authenticator_;
  ApiOptions options_;
  std::map<Role, std::string> secrets_;
  http::Handler handler_;
};

TEST_F(AnalyticsApiTest, EveryRouteNeedsTheRoleInTheMatrix) {
  const Router router = BuildRouter(options_);
  std::multiset<std::string> routes;
  for (const Route& route : router.routes()) {
    const std::string key = route.method + " " + route.name;
    routes.insert(key);
    const auto it = kRoleMatrix.find(key);
    ASSERT_NE(it, kRoleMatrix.end()) << key << " is missing from the role matrix";
    EXPECT_EQ(it->second, route.role) << key;
  }
  for (const auto& [key, role] : kRoleMatrix) {
    EXPECT_GE(routes.count(key), 1u) << key << " is in the matrix but not served";
  }
}

TEST_F(AnalyticsApiTest, EveryProtectedRouteRefusesWrongTokensAndRoles) {
  const Router router = BuildRouter(options_);
  int client = 0;
  for (const Route& route : router.routes()) {
    if (!route.role) continue;
    ++client;
    std::string path = route.pattern;
    const auto brace = path.find("{id}");
    if (brace != std::string::npos) path.replace(brace, 4, "1");
    const std::string body = route.method == "POST" ? R"({"role":"analyst","name":"n"})" : "";
    SCOPED_TRACE(route.method + " " + path);
    EXPECT_EQ(Call(route.method, path, "", body).status, 401);
    EXPECT_EQ(
        Call(route.method, path, "svd_not-a-token", body, "203.0.113." + std::to_string(client))
            .status,
        401);
    for (Role role : kRoles) {
      const int status = Call(route.method, path, secrets_[role], body).status;
      if (route.Allows(role)) {
        EXPECT_NE(status, 401) << RoleName(role);
        EXPECT_NE(status, 403) << RoleName(role);
        EXPECT_LT(status, 500) << RoleName(role);
      } else {
        EXPECT_EQ(status, 403) << RoleName(role);
      }
    }
    EXPECT_LT(Call(route.method, path, kBootstrap, body).status, 500) << "the bootstrap admin";
  }
  // Revoked tokens are refused.
  ASSERT_TRUE(tokens_.RevokeToken(tokens_.tokens[0].first.id, clock_.Now()));
  EXPECT_EQ(Get("/api/v1/stats", Role::kAnalyst).status, 401);
}

// The OpenAPI document served at /api/v1/openapi.json against the route table and the handlers.
class OpenApiConformance : public AnalyticsApiTest {
 protected:
  OpenApiConformance() {
    const auto response = Call("GET", "/api/v1/openapi.json");
    EXPECT_EQ(response.status, 200);
    doc_ = Json(response);
    analytics_.stats.cells = {Cell({}, 20, 10)};
    analytics_.timeline = store::SurveyTimeline{};
    analytics_.timeline->survey_id = 1;
    analytics_.timeline->decision_trace = "[]";
  }
  json Parameter(const json& entry) {
    if (!entry.contains("$ref")) return entry;
    const std::string ref = entry["$ref"];
    return doc_["components"]["parameters"][ref.substr(ref.rfind('/') + 1)];
  }
  static std::string Example(const json& p) {
    const json& example = p["example"];
    if (example.is_array()) return example[0].get<std::string>();
    if (example.is_string()) return example.get<std::string>();
    return example.dump();
  }
  json doc_;
};

TEST_F(OpenApiConformance, EveryRouteIsDocumentedWithItsRoleAndEveryDocumentedOneServed) {
  ASSERT_TRUE(doc_.is_object());
  EXPECT_EQ(doc_["openapi"].get<std::string>().substr(0, 2), "3.");
  // Only the adapter in use has its callback routes: the document has every adapter's, so it is
  // checked against a server for each.
  std::vector<std::unique_ptr<gateway::Gateway>> gateways;
  gateways.push_back(gateway::MakeKannelGateway(gateway::KannelOptions{}));
  gateways.push_back(gateway::MakeTwilioGateway(gateway::TwilioOptions{}));
  std::vector<Route> routes = BuildRouter(options_).routes();
  for (const auto& adapter : gateways) {
    ApiOptions options = options_;
    options.gateway = adapter.get();
    const Router router = BuildRouter(options);
    for (const Route& route : router.routes()) {
      if (route.name.rfind("/api/v1/gateway/", 0) == 0) routes.push_back(route);
    }
  }
  std::set<std::string> served;
  for (const Route& route : routes) {
    const std::string method = Lower(route.method);
    served.insert(method + " " + route.name);
    ASSERT_TRUE(doc_["paths"].contains(route.name)) << route.name;
    ASSERT_TRUE(doc_["paths"][route.name].contains(method)) << route.method << " " << route.name;
    const json& op = doc_["paths"][route.name][method];
    if (route.role) {
      EXPECT_EQ(op.value("x-surveyd-role", ""), RoleName(*route.role)) << route.name;
      EXPECT_FALSE(op["security"].empty()) << route.name;
    } else {
      EXPECT_FALSE(op.contains("x-surveyd-role")) << route.name;
    }
  }
  for (const auto& [path, item] : doc_["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      EXPECT_EQ(served.count(method + " " + path), 1u) << method << " " << path << " not served";
    }
  }
}

// The README's endpoint list is where ops and analysts look first: every path the OpenAPI
// document describes is named there whole (the gateways' callbacks as one row for the three).
TEST_F(OpenApiConformance, EveryDocumentedPathIsInTheReadmeEndpointList) {
  std::ifstream file(std::string(SURVEYD_SOURCE_DIR) + "/README.md");
  const std::string readme{std::istreambuf_iterator<char>(file), {}};
  const auto start = readme.find("## HTTP endpoints");
  ASSERT_NE(start, std::string::npos) << "README.md has no \"## HTTP endpoints\" section";
  const std::string endpoints = readme.substr(start, readme.find("\n## ", start + 1) - start);
  for (const auto& [path, item] : doc_["paths"].items()) {
    std::string named = path;
    for (const char* adapter : {"wmnow", "kannel", "twilio"}) {
      const std::string part = std::string("/gateway/") + adapter + "/";
      if (const auto at = named.find(part); at != std::string::npos) {
        named.replace(at, part.size(), "/gateway/{wmnow\\|kannel\\|twilio}/");
      }
    }
    // Whole: "`GET /api/v1/alerts/{id}`" names that path, "`/api/v1/alerts/{id}/resolve`" not.
    bool listed = false;
    for (auto at = endpoints.find(named + "`"); at != std::string::npos && !listed;
         at = endpoints.find(named + "`", at + 1)) {
      listed = at > 0 && (endpoints[at - 1] == ' ' || endpoints[at - 1] == '`');
    }
    EXPECT_TRUE(listed) << path << " is not in README.md's endpoint list";
  }
}

TEST_F(OpenApiConformance, EveryQueryParameterIsTakenExactlyWhereDocumented) {
  // Every name any operation documents, and every dimension: each must be taken by the
  // operations that document it and refused (400 naming it) by the others.
  std::set<std::string> names;
  for (Dimension d : store::AllDimensions()) names.insert(store::DimensionName(d));
  for (const auto& [name, p] : doc_["components"]["parameters"].items()) {
    if (p["in"] == "query") names.insert(p["name"].get<std::string>());
  }
  int checked = 0;
  for (const auto& [path, item] : doc_["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (!op.contains("x-surveyd-role")) continue;  // public ones take what they take
      // Alerts and recognition take their own parameters and bodies, and are tested against
      // PostgreSQL (tests/integration/alerts_test.cpp): this contract is the analysts' routes'.
      const std::string tag = op["tags"][0];
      if (tag == "alerts" || tag == "recognition") continue;
      std::string base = path;
      std::map<std::string, json> query;
      std::string required;
      for (const auto& entry : op["parameters"]) {
        const json p = Parameter(entry);
        if (p["in"] == "path") {
          base.replace(base.find("{" + p["name"].get<std::string>() + "}"),
                       p["name"].get<std::string>().size() + 2, Example(p));
        } else {
          query[p["name"]] = p;
          if (p.value("required", false)) {
            required += "&" + p["name"].get<std::string>() + "=" + Example(p);
          }
        }
      }
      const std::string body = method == "post" ? R"({"role":"analyst","name":"n"})" : "";
      auto call = [&](const std::string& extra) {
        std::string target = base + "?" + (required + extra).substr(required.empty() ? 1 : 0);
        if (required.empty() && extra.empty()) target = base;
        std::string verb = method;
        for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return Call(verb, target, secrets_[Role::kAdmin], body);
      };
      for (const auto& [name, p] : query) {
        if (p.value("required", false)) {
          std::string without;
          for (const auto& [other, q] : query) {
            if (other != name && q.value("required", false)) without += other + "=" + Example(q);
          }
          const auto response =
              Call("GET", base + (without.empty() ? "" : "?" + without), secrets_[Role::kAdmin]);
          EXPECT_EQ(response.status, 400) << path << " without " << name;
          EXPECT_EQ(Json(response).value("parameter", ""), name);
        }
      }
      for (const auto& name : names) {
        if (query.count(name) && query[name].value("required", false)) continue;
        const std::string value = query.count(name) ? Example(query[name]) : "x";
        const auto response = call("&" + name + "=" + http::UrlEncode(value));
        SCOPED_TRACE(method + " " + path + " ?" + name + "=" + value);
        const std::string status = std::to_string(response.status);
        EXPECT_TRUE(op["responses"].contains(status)) << "undocumented status " << status;
        if (query.count(name)) {
          EXPECT_LT(response.status, 300) << response.body;
        } else {
          EXPECT_EQ(response.status, 400) << response.body;
          EXPECT_EQ(Json(response).value("parameter", ""), name);
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 200);
}

TEST_F(AnalyticsApiTest, OpsHoldEveryTextAndReleaseItOverHttp) {
  const HoldsOnly& holds = holds_;
  const std::string ops = secrets_[Role::kOps];
  EXPECT_EQ(
      Call("POST", "/api/v1/sends/hold", secrets_[Role::kAnalyst], R"({"reason":"x"})").status,
      403);
  EXPECT_EQ(Json(Get("/api/v1/sends/hold", Role::kOps))["held"], false);
  EXPECT_EQ(Get("/api/v1/sends/hold", Role::kAnalyst).status, 200) << "the dashboard shows it";
  auto no_reason = Call("POST", "/api/v1/sends/hold", ops, R"({"reason":"  "})");
  EXPECT_EQ(no_reason.status, 400);
  EXPECT_NE(Json(no_reason)["message"].get<std::string>().find("reason"), std::string::npos);
  EXPECT_EQ(Call("POST", "/api/v1/sends/hold", ops, "not json").status, 400);

  auto held = Call("POST", "/api/v1/sends/hold", ops, R"({"reason":"critical incident"})");
  EXPECT_EQ(held.status, 201);
  EXPECT_EQ(Json(held)["hold"]["reason"], "critical incident");
  EXPECT_EQ(Json(held)["hold"]["held_by"], "ops user") << "the token's name is recorded";
  EXPECT_EQ(Json(held)["in_flight"], 2);
  auto again = Call("POST", "/api/v1/sends/hold", ops, R"({"reason":"other"})");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Json(again)["already_held"], true);
  EXPECT_EQ(Json(again)["hold"]["reason"], "critical incident");
  const json status = Json(Get("/api/v1/sends/hold", Role::kOps));
  EXPECT_EQ(status["held"], true);
  EXPECT_EQ(status["hold"]["id"], 7);

  EXPECT_EQ(Call("POST", "/api/v1/sends/release", ops, R"({"cancel_waiting":"yes"})").status, 400);
  auto released =
      Call("POST", "/api/v1/sends/release", ops, R"({"note":"stood down","cancel_waiting":true})");
  EXPECT_EQ(released.status, 200);
  EXPECT_EQ(Json(released)["cancelled"], 5);
  EXPECT_EQ(holds.release_note, "stood down");
  EXPECT_EQ(holds.released_by, "ops user");
  EXPECT_EQ(Call("POST", "/api/v1/sends/release", ops).status, 409);
  EXPECT_EQ(Json(Get("/api/v1/sends/hold", Role::kAdmin))["held"], false);
}

TEST_F(AnalyticsApiTest, EveryFilterReachesTheStoreAndOfficersNeedASupervisor) {
  for (Dimension d : store::AllDimensions()) {
    if (!store::IsFilter(d)) continue;
    const std::string name = store::DimensionName(d);
    SCOPED_TRACE(name);
    const bool supervised = d == Dimension::kOfficer || d == Dimension::kOperator;
    // A dimension of fixed values takes two of them; a value outside them is a 400 naming it.
    const auto& fixed = store::FixedValues(d);
    const std::vector<std::string> values =
        fixed.empty() ? std::vector<std::string>{"A B", "C"}
                      : std::vector<std::string>{fixed.front(), fixed.back()};
    const std::string query =
        name + "=" + http::UrlEncode(values[0]) + "&" + name + "=" + http::UrlEncode(values[1]);
    const auto as_analyst = Get("/api/v1/stats?" + query, Role::kAnalyst);
    if (supervised) {
      EXPECT_EQ(as_analyst.status, 403);
      EXPECT_EQ(Json(as_analyst)["parameter"], name);
    } else {
      EXPECT_EQ(as_analyst.status, 200);
    }
    ASSERT_EQ(Get("/api/v1/stats?" + query, Role::kSupervisor).status, 200);
    ASSERT_EQ(analytics_.last_filter.values.size(), 1u);
    EXPECT_EQ(analytics_.last_filter.values[0].first, d);
    EXPECT_EQ(analytics_.last_filter.values[0].second, values);
    if (!fixed.empty()) {
      const auto wrong = Get("/api/v1/stats?" + name + "=banana", Role::kSupervisor);
      EXPECT_EQ(wrong.status, 400);
      EXPECT_EQ(Json(wrong)["parameter"], name);
    }
  }
  // A date and a time the wrong way round.
  EXPECT_EQ(Json(Get("/api/v1/stats?from=2026-11-20&to=2026-11-10T00:00:00Z"))["parameter"], "to");
  EXPECT_EQ(Json(Get("/api/v1/stats?from=2026-11-20T00:00:00Z&to=2026-11-10"))["parameter"], "to");
  EXPECT_EQ(Get("/api/v1/stats?from=2026-11-20&to=2026-11-20T10:00:00Z").status, 200);
  ASSERT_EQ(Get("/api/v1/stats?from=2026-11-01&to=2026-11-30").status, 200);
  EXPECT_EQ(analytics_.last_filter.from_day, "2026-11-01");
  EXPECT_EQ(analytics_.last_filter.to_day, "2026-11-30");
  EXPECT_FALSE(analytics_.last_filter.UsesInstants());
  ASSERT_EQ(Get("/api/v1/stats?from=2026-11-01T10:00:00Z").status, 200);
  EXPECT_EQ(analytics_.last_filter.from, ParseRfc3339("2026-11-01T10:00:00Z"));
}

TEST_F(AnalyticsApiTest, EveryGroupByReachesTheStore) {
  for (Dimension d : store::AllDimensions()) {
    const std::string name = store::DimensionName(d);
    SCOPED_TRACE(name);
    const bool supervised = d == Dimension::kOfficer || d == Dimension::kOperator;
    EXPECT_EQ(Get("/api/v1/stats?group_by=" + name, Role::kAnalyst).status, supervised ? 403 : 200);
    ASSERT_EQ(Get("/api/v1/stats?group_by=day," + name + (d == Dimension::kDay ? "x" : ""),
                  Role::kSupervisor)
                  .status,
              d == Dimension::kDay ? 400 : 200);
    if (d == Dimension::kDay) continue;
    EXPECT_EQ(analytics_.last_group_by, (std::vector<Dimension>{Dimension::kDay, d}));
  }
}

TEST_F(AnalyticsApiTest, ABadParameterIsA400NamingIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/v1/stats?from=yesterday", "from"},
      {"/api/v1/stats?from=2026-02-30", "from"},
      // Dates PostgreSQL refuses: a 400 here, not a failed statement read as an outage (503).
      {"/api/v1/stats?from=0000-01-01", "from"},
      {"/api/v1/stats?to=0001-01-01T00:30:00%2B01:00", "to"},  // 0000-12-31 in UTC
      {"/api/v1/stats?to=9999-12-31T23:00:00-01:00", "to"},
      {"/api/v1/responses?after=9223372036854775807_42", "after"},
      {"/api/v1/stats?to=2026-11-01&from=2026-11-02", "to"},
      {"/api/v1/stats?group_by=nope", "group_by"},
      {"/api/v1/stats?group_by=npu,npu", "group_by"},
      {"/api/v1/stats?group_by=npu,beat,grade,channel", "group_by"},
      {"/api/v1/stats?group_by=npu&group_by=beat", "group_by"},
      {"/api/v1/stats?format=xml", "format"},
      {"/api/v1/stats?npu=", "npu"},
      {"/api/v1/stats?surprise=1", "surprise"},
      {"/api/v1/responses?limit=0", "limit"},
      {"/api/v1/responses?limit=1001", "limit"},
      {"/api/v1/responses?after=-3", "after"},
      {"/api/v1/responses?after=42", "after"},  // the old form, a survey id alone
      {"/api/v1/responses?after=1795167000123456_", "after"},
      {"/api/v1/responses?after=_42", "after"},
      {"/api/v1/responses?after=1795167000123456_42_1", "after"},
      {"/api/v1/comments?after=-1_42", "after"},
      {"/api/v1/representativeness?dimension=beat", "dimension"},
      {"/api/v1/representativeness", "dimension"},
      {"/api/v1/funnel?from=2026-11-01T00:00:00Z", "from"},
      {"/api/v1/funnel?npu=X", "npu"},
      {"/api/v1/surveys/abc", "id"},
  };
  for (const auto& [target, parameter] : cases) {
    const auto response = Get(target);
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_EQ(Json(response).value("parameter", ""), parameter) << target;
  }
  EXPECT_EQ(analytics_.calls, 0) << "nothing reached the store";
}

TEST_F(AnalyticsApiTest, BytesThatAreNotTextAre400sNeverErrors) {
  // Found by fuzz_stats_query: a parameter's name that is not UTF-8 threw while its 400 was
  // written (a 500), and a value that is not reached PostgreSQL, which refuses it (a 500 too).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/v1/stats?%FF=1", "\xFF"},
      {"/api/v1/stats?npu=%FF", "npu"},
      {"/api/v1/stats?npu=a%00b", "npu"},
      {"/api/v1/stats?npu=%C0%80", "npu"},        // an overlong NUL
      {"/api/v1/stats?npu=%ED%A0%80", "npu"},     // a surrogate
      {"/api/v1/stats?npu=%F4%90%80%80", "npu"},  // past U+10FFFF
      {"/api/v1/stats?npu=%E2%82", "npu"},        // cut short
      {"/api/v1/comments?q=%E9t%E9", "q"},        // Latin-1
  };
  for (const auto& [target, parameter] : cases) {
    const auto response = Get(target);
    EXPECT_EQ(response.status, 400) << target;
    const auto body = Json(response);
    ASSERT_FALSE(body.is_discarded()) << target;
    EXPECT_EQ(body.value("error", ""), "bad_parameter") << target;
    if (parameter != "\xFF") {
      EXPECT_EQ(body.value("parameter", ""), parameter) << target;
    }
  }
  // Text in any script is fine.
  EXPECT_EQ(Get("/api/v1/stats?npu=W%C3%A9st&npu=%E2%82%AC&npu=%F0%9F%91%8D").status, 200);
  EXPECT_EQ(analytics_.calls, 1) << "only the last reached the store";
  const auto team = Get("/api/v1/recognition?team=%FF", Role::kSupervisor);
  EXPECT_EQ(team.status, 400);
  EXPECT_FALSE(Json(team).is_discarded());
  EXPECT_EQ(Get("/api/v1/alerts?%FF=1", Role::kSupervisor).status, 400);
  // The alerts' and recognition's parameters are named as the analysts' are.
  for (const auto& [target, parameter] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/alerts?limit=0", "limit"},
           {"/api/v1/alerts?status=closed", "status"},
           {"/api/v1/alerts?since=2026-11-01", "since"},
           {"/api/v1/recognition?to=tomorrow", "to"},
           {"/api/v1/recognition?table=teams", "table"},
           {"/api/v1/recognition?dates=submitted", "dates"}}) {
    const auto response = Get(target, Role::kSupervisor);
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_EQ(Json(response).value("error", ""), "bad_parameter") << target;
    EXPECT_EQ(Json(response).value("parameter", ""), parameter) << target;
  }
}

TEST_F(AnalyticsApiTest, ACellNobodyAnsweredHidesWhoWasAskedWithAPartner) {
  // Asian: nobody answered, but 3 were texted: the total (no group_by) less the others' figures
  // would say so, with exact figures (api.figures_noise off) to the person.
  store::StatsCell asked = Cell({"asian"}, 0, 0);
  asked.surveys = 3;
  asked.sent = 3;
  asked.reached = 3;
  analytics_.stats.cells = {asked, Cell({"white"}, 25, 15), Cell({"mixed"}, 40, 20)};
  const json body = Json(Get("/api/v1/stats?group_by=ethnicity"));
  ASSERT_EQ(body["cells"].size(), 3u);
  EXPECT_TRUE(body["cells"][0]["suppressed"].get<bool>());
  EXPECT_TRUE(body["cells"][1]["suppressed"].get<bool>()) << "its partner, the fewest asked";
  EXPECT_TRUE(body["cells"][1]["sent"].is_null());
  EXPECT_FALSE(body["cells"][2]["suppressed"].get<bool>());
}

TEST_F(AnalyticsApiTest, SmallCellsAreSuppressed) {
  store::StatsCell small = Cell({"N1"}, 9, 5);
  store::StatsCell enough = Cell({"N2"}, 20, 14);
  enough.questions["q5"] = {4, 30, 2};  // few answered this one
  // Suppressed too, as the cell least missed, or the total less N2 would be N1's figures
  // (ASmallCellIsSuppressedWithTheNextSmallest).
  store::StatsCell partner = Cell({"N3"}, 10, 5);
  analytics_.stats.cells = {small, enough, partner};
  const json body = Json(Get("/api/v1/stats?group_by=npu"));
  ASSERT_EQ(body["cells"].size(), 3u);
  const json& s = body["cells"][0];
  EXPECT_EQ(s["npu"], "N1");
  EXPECT_TRUE(s["suppressed"].get<bool>());
  for (const char* field :
       {"surveys", "sent", "reached", "answered", "response_rate_pct", "response_rate_ci95"}) {
    EXPECT_TRUE(s[field].is_null()) << field;
  }
  for (const auto& [key, q] : s["questions"].items()) {
    EXPECT_TRUE(q["suppressed"].get<bool>());
    EXPECT_TRUE(q["respondents"].is_null() && q["mean"].is_null() && q["pct_8_10"].is_null());
  }
  const json& e = body["cells"][1];
  EXPECT_FALSE(e["suppressed"].get<bool>());
  EXPECT_EQ(e["answered"], 20);
  EXPECT_EQ(e["questions"]["q1"]["respondents"], 20);
  EXPECT_DOUBLE_EQ(e["questions"]["q1"]["mean"].get<double>(), 7.0);
  EXPECT_DOUBLE_EQ(e["questions"]["q1"]["pct_8_10"].get<double>(), 70.0);
  EXPECT_TRUE(e["questions"]["q5"]["suppressed"].get<bool>());
  EXPECT_TRUE(e["questions"]["q5"]["mean"].is_null());
  EXPECT_EQ(body["min_cell_size"], 10);
  EXPECT_EQ(body["questions"][0]["text"], "Polite?");
  EXPECT_EQ(body["questions"][0]["label"], "Polite");

  // A suppressed cell has every field a counted one has, each null (its text is written once and
  // shared by every suppressed cell).
  for (const auto& [field, value] : e.items()) EXPECT_TRUE(s.contains(field)) << field;
  for (const auto& [key, q] : e["questions"].items()) {
    for (const auto& [field, value] : q.items()) {
      EXPECT_TRUE(s["questions"][key].contains(field)) << key << "." << field;
    }
  }
  // The same when the questions are a breakdown of their own; each row keeps its own keys.
  const json rows = Json(Get("/api/v1/stats?group_by=npu,question"));
  ASSERT_EQ(rows["cells"].size(), 15u);
  const json& counted = rows["cells"][5];
  EXPECT_FALSE(counted["suppressed"].get<bool>());
  for (int k = 0; k < 5; ++k) {
    const json& row = rows["cells"][k];
    EXPECT_EQ(row["npu"], "N1");
    EXPECT_EQ(row["question"], "q" + std::to_string(k + 1));
    EXPECT_TRUE(row["suppressed"].get<bool>());
    EXPECT_EQ(row.size(), counted.size());
    for (const auto& [field, value] : counted.items()) {
      if (field == "npu" || field == "question" || field == "suppressed") continue;
      EXPECT_TRUE(row.contains(field) && row[field].is_null()) << field;
    }
  }
}

// One small officer in a breakdown would be the total (asked for without the breakdown) less the
// others: the smallest other is suppressed with it, and reads the same (core/disclosure.hpp).
// The note the dashboard shows under the figures says what was hidden, and with a minimum cell
// size of 1 (the demo's) that nothing was, not "Fewer than 1 respondents".
TEST_F(AnalyticsApiTest, TheDisclosureNoteSaysWhatTheMinimumHides) {
  analytics_.stats.cells = {Cell({"N1"}, 20, 14)};
  json body = Json(Get("/api/v1/stats?group_by=npu"));
  EXPECT_EQ(body["disclosure"]["note"].get<std::string>().rfind(
                "Fewer than 10 respondents: not shown", 0),
            0u)
      << body["disclosure"];
  options_.min_cell_size = 1;
  handler_ = MakeApiHandler(options_);
  body = Json(Get("/api/v1/stats?group_by=npu"));
  EXPECT_EQ(body["disclosure"]["note"].get<std::string>().rfind(
                "Every cell is shown: no minimum number of respondents is set", 0),
            0u)
      << body["disclosure"];
}

TEST_F(AnalyticsApiTest, ASmallCellIsSuppressedWithTheNextSmallest) {
  analytics_.stats.cells = {Cell({"O1"}, 30, 20), Cell({"O2"}, 4, 2), Cell({"O3"}, 12, 6),
                            Cell({"O4"}, 25, 10)};
  const json body = Json(Get("/api/v1/stats?group_by=officer", Role::kSupervisor));
  ASSERT_EQ(body["cells"].size(), 4u);
  std::vector<bool> suppressed;
  for (const json& cell : body["cells"]) suppressed.push_back(cell["suppressed"].get<bool>());
  EXPECT_EQ(suppressed, (std::vector<bool>{false, true, true, false}));
  json small = body["cells"][1], partner = body["cells"][2];
  EXPECT_TRUE(partner["answered"].is_null());
  EXPECT_TRUE(partner["questions"]["q1"]["mean"].is_null());
  small.erase("officer");
  partner.erase("officer");
  EXPECT_EQ(small, partner) << "nothing tells which of the two was small";

  const auto csv = Get("/api/v1/stats?group_by=officer&format=csv", Role::kSupervisor).body;
  EXPECT_NE(csv.find("\nO3,,,,,,,,true,,,,,,,,true,"), std::string::npos) << csv;
  const json rows = Json(Get("/api/v1/stats?group_by=officer,question", Role::kSupervisor));
  ASSERT_EQ(rows["cells"].size(), 20u);
  for (const json& row : rows["cells"]) {
    const bool hidden = row["officer"] == "O2" || row["officer"] == "O3";
    EXPECT_EQ(row["suppressed"].get<bool>(), hidden) << row;
    EXPECT_EQ(row["respondents"].is_null(), hidden) << row;
  }

  // Per question: every officer counted, but few answered q2 for O1; q2 is suppressed for O4,
  // the fewest other answers to it, too.
  analytics_.stats.cells = {Cell({"O1"}, 30, 20), Cell({"O2"}, 20, 10), Cell({"O3"}, 40, 6),
                            Cell({"O4"}, 15, 10)};
  analytics_.stats.cells[0].questions["q2"] = {3, 21, 1};
  const json by_question = Json(Get("/api/v1/stats?group_by=officer", Role::kSupervisor));
  for (std::size_t i = 0; i < 4; ++i) {
    const json& cell = by_question["cells"][i];
    EXPECT_FALSE(cell["suppressed"].get<bool>()) << i;
    EXPECT_FALSE(cell["questions"]["q1"]["suppressed"].get<bool>()) << i;
    EXPECT_EQ(cell["questions"]["q2"]["suppressed"].get<bool>(), i == 0 || i == 3) << i;
    EXPECT_EQ(cell["questions"]["q2"]["mean"].is_null(), i == 0 || i == 3) << i;
  }
}

// The JSON is written by hand (stats_routes.cpp: JsonOut): whatever a key holds, it must parse
// back to the same text, and a missing key is null.
TEST_F(AnalyticsApiTest, KeysReadBackExactlyWhateverTheyHold) {
  const std::vector<std::string> odd = {"Quote \" and \\ back", "tab\there", "Ysgol G\xc3\xaemraeg",
                                        "\x01"
                                        "control",
                                        "plain"};
  analytics_.stats.cells.clear();
  for (const auto& key : odd) analytics_.stats.cells.push_back(Cell({key, "B1"}, 12, 6));
  analytics_.stats.cells.push_back(Cell({std::nullopt, std::nullopt}, 12, 6));
  const json body = Json(Get("/api/v1/stats?group_by=npu,beat"));
  ASSERT_EQ(body["cells"].size(), odd.size() + 1);
  for (std::size_t i = 0; i < odd.size(); ++i) {
    EXPECT_EQ(body["cells"][i]["npu"], odd[i]);
    EXPECT_EQ(body["cells"][i]["beat"], "B1");
    EXPECT_EQ(body["cells"][i]["questions"]["q3"]["respondents"], 12);
  }
  EXPECT_TRUE(body["cells"][odd.size()]["npu"].is_null());
  EXPECT_TRUE(body["cells"][odd.size()]["beat"].is_null());

  // One object per cell and question when the questions are a breakdown of their own.
  const json by_question = Json(Get("/api/v1/stats?group_by=question,npu"));
  ASSERT_EQ(by_question["cells"].size(), (odd.size() + 1) * 5);
  const json& first = by_question["cells"][0];
  EXPECT_EQ(first["npu"], odd[0]);
  EXPECT_EQ(first["question"], "q1");
  EXPECT_EQ(first["answered"], 12);
  EXPECT_EQ(first["respondents"], 12);
  EXPECT_DOUBLE_EQ(first["pct_8_10"].get<double>(), 50.0);
  EXPECT_EQ(first["pct_8_10_ci95"].size(), 2u);
  // Twelve answers of mean 7 and sample sd 2.089: 7 -+ t(11) 2.201 * 2.089 / sqrt 12.
  EXPECT_EQ(first["mean"], 7.0);
  EXPECT_EQ(first["mean_ci95"], json::parse("[5.67, 8.33]"));
  EXPECT_FALSE(first["suppressed"].get<bool>());
  EXPECT_EQ(by_question["cells"][4]["question"], "q5");
}

TEST_F(AnalyticsApiTest, IntervalsAreWilsonsAgainstPublishedValues) {
  // Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (score, no continuity
  // correction): 81/263 -> 0.2553-0.3662, 15/148 -> 0.0624-0.1605, 0/20 -> 0-0.1611,
  // 1/29 -> 0.0061-0.1718. The API gives percentages to one decimal (0.16049 is 16.0).
  struct Case {
    std::int64_t k, n;
    double low, high;
  };
  for (const Case& c : {Case{81, 263, 25.5, 36.6}, Case{15, 148, 6.2, 16.0}, Case{0, 20, 0.0, 16.1},
                        Case{1, 29, 0.6, 17.2}}) {
    store::StatsCell cell = Cell({"x"}, c.n, c.k);
    analytics_.stats.cells = {cell};
    const json q = Json(Get("/api/v1/stats?group_by=npu"))["cells"][0]["questions"]["q1"];
    EXPECT_DOUBLE_EQ(q["pct_8_10_ci95"][0].get<double>(), c.low) << c.k << "/" << c.n;
    EXPECT_DOUBLE_EQ(q["pct_8_10_ci95"][1].get<double>(), c.high) << c.k << "/" << c.n;
  }
}

// The dashboard shows a group by its name, from the rules in force, and keeps its id for the API.
TEST_F(AnalyticsApiTest, StatsNameTheSurveyGroupsOfTheRulesInForce) {
  analytics_.stats.cells = {Cell({"force_contact"}, 30, 20)};
  const json body = Json(Get("/api/v1/stats?group_by=survey_group"));
  EXPECT_EQ(body["survey_groups"], json::parse(R"([{"id": "force_contact", "name": "Force Contact"},
                                                   {"id": "attendance", "name": "Force Response"}])"));
  EXPECT_EQ(body["cells"][0]["survey_group"], "force_contact");
}

TEST_F(AnalyticsApiTest, ResponseRateIsAnsweredOverReached) {
  store::StatsCell cell = Cell({}, 30, 20);
  cell.reached = 100;
  analytics_.stats.cells = {cell};
  const json c = Json(Get("/api/v1/stats"))["cells"][0];
  EXPECT_DOUBLE_EQ(c["response_rate_pct"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(c["response_rate_ci95"][0].get<double>(), 21.9);
  EXPECT_DOUBLE_EQ(c["response_rate_ci95"][1].get<double>(), 39.6);
  // Reached is the store's, decided per text (a text replied to counts, whatever the gateway
  // said of it): shown as it is, never raised to a cell's answers.
  cell.reached = 45;
  analytics_.stats.cells = {cell};
  const json some = Json(Get("/api/v1/stats"))["cells"][0];
  EXPECT_EQ(some["reached"], 45);
  EXPECT_DOUBLE_EQ(some["response_rate_pct"].get<double>(), 66.7);
}

// Noise moves reached and answered apart: where every text reached answered, it must not read
// more answered than reached.
TEST_F(AnalyticsApiTest, NoiseNeverPutsTheResponseRatePast100) {
  options_.figures_noise_key = "the server's key for the figures";
  handler_ = MakeApiHandler(options_);
  for (std::int64_t n = 20; n < 80; ++n) {
    store::StatsCell cell = Cell({}, n, n / 2);
    cell.reached = n;
    analytics_.stats.cells = {cell};
    const json c = Json(Get("/api/v1/stats"))["cells"][0];
    EXPECT_LE(c["answered"].get<double>(), c["reached"].get<double>()) << n;
    EXPECT_LE(c["response_rate_pct"].get<double>(), 100.0) << n;
  }
}

// Many officers' cells of mostly high scores, as a force's are, from a seeded source: 300 cells of
// 12 to 51 respondents, each question's answers drawn apart. The first question of every tenth
// cell is every answer the same (10).
std::vector<store::StatsCell> OfficersCells() {
  std::mt19937 random(20261130);
  std::uniform_int_distribution<int> high(7, 10), any(0, 10), coin(0, 9);
  std::vector<store::StatsCell> cells;
  for (int c = 0; c < 300; ++c) {
    store::StatsCell cell;
    cell.keys = {"PC" + std::to_string(10000 + c)};
    cell.answered = 12 + c % 40;
    cell.reached = cell.answered + c % 3;
    cell.sent = cell.reached + c % 2;
    cell.surveys = cell.sent + c % 4;
    for (int q = 1; q <= 5; ++q) {
      // q3 and q5 are answered whenever a survey is; the others may be left blank.
      const std::int64_t n = q == 3 || q == 5 ? cell.answered : cell.answered - (c + q) % 3;
      store::ScoreSums sums;
      sums.respondents = n;
      for (std::int64_t i = 0; i < n; ++i) {
        const int score = q == 1 && c % 10 == 0 ? 10
                          : coin(random) < 8    ? high(random)
                                                : any(random);
        sums.total += score;
        sums.squares += score * score;
        sums.top_box += score >= 8;
      }
      cell.questions["q" + std::to_string(q)] = sums;
    }
    cells.push_back(std::move(cell));
  }
  return cells;
}

// GET /api/v1/stats by NPU over `truth`, with figure noise on.
class NoisyFiguresTest : public AnalyticsApiTest {
 protected:
  json NoisyBreakdown(const std::vector<store::StatsCell>& truth) {
    options_.figures_noise_key = "the server's key for the figures";
    handler_ = MakeApiHandler(options_);
    analytics_.stats.cells = truth;
    return Json(Get("/api/v1/stats?group_by=npu"));
  }
};

// The noise on a mean was the count's as well as the sum's: the respondents shown (+-2) were its
// denominator, so a mean of 9 from 21 answers read 9/23 more or less on top of the sum's +-10; and
// the sum of squares rebuilt from those figures, moved by +-100 and clamped, could close the
// interval to the mean itself, or narrow it past the true mean (found by an analyst's review: a
// true mean of 8.09 shown as 9.19, 9.14-9.24). Now a mean moves by at most (10 + 0.5) / the
// respondents shown, and its interval holds the true mean and the true interval, and is a point
// only where every answer is the same and there is no noise.
TEST_F(NoisyFiguresTest, NoisyMeansStayNearAndTheirIntervalsHoldTheTrueOnes) {
  const std::vector<store::StatsCell> truth = OfficersCells();
  const json body = NoisyBreakdown(truth);
  ASSERT_EQ(body["cells"].size(), truth.size());
  auto round2 = [](double value) { return std::round(value * 100) / 100; };
  int figures = 0, moved_too_far = 0, mean_outside = 0, narrower = 0, points = 0;
  std::string first;
  for (std::size_t c = 0; c < truth.size(); ++c) {
    for (const auto& [key, sums] : truth[c].questions) {
      const json& shown = body["cells"][c]["questions"][key];
      ASSERT_FALSE(shown["suppressed"].get<bool>()) << c << key;
      ++figures;
      const double n = shown["respondents"].get<double>();
      const double mean = shown["mean"].get<double>();
      const double low = shown["mean_ci95"][0].get<double>();
      const double high = shown["mean_ci95"][1].get<double>();
      const double true_mean =
          static_cast<double>(sums.total) / static_cast<double>(sums.respondents);
      const auto [true_low, true_high] =
          stats::MeanInterval(sums.respondents, sums.total, sums.squares, 0, 10);
      const std::string where = "cell " + std::to_string(c) + " " + key + ": " + shown.dump() +
                                ", true mean " + std::to_string(true_mean) + " (" +
                                std::to_string(true_low) + "-" + std::to_string(true_high) + ")";
      bool wrong = false;
      // Both rounded to two decimals: a hundredth more.
      if (std::abs(mean - true_mean) > 10.5 / n + 0.01) ++moved_too_far, wrong = true;
      if (round2(true_mean) < low || round2(true_mean) > high) ++mean_outside, wrong = true;
      if (round2(true_low) < low || round2(true_high) > high) ++narrower, wrong = true;
      if (low == high) ++points, wrong = true;  // with noise, not even where the answers agree
      if (wrong && first.empty()) first = where;
    }
  }
  EXPECT_EQ(figures, 1500);
  EXPECT_EQ(moved_too_far, 0) << first;
  EXPECT_EQ(mean_outside, 0) << first;
  EXPECT_EQ(narrower, 0) << first;
  EXPECT_EQ(points, 0) << first;
}

// The 8-10s' and response rates' Wilson intervals were read from the noisy counts as if exact:
// with few respondents the true share, and its interval, could lie outside (documented as a
// limit). Each is now the widest interval of the true counts the figures shown could stand for.
TEST_F(NoisyFiguresTest, NoisySharesIntervalsHoldTheTrueOnes) {
  const std::vector<store::StatsCell> truth = OfficersCells();
  const json body = NoisyBreakdown(truth);
  ASSERT_EQ(body["cells"].size(), truth.size());
  auto round1 = [](double value) { return std::round(value * 1000) / 10; };
  int shares = 0, narrower = 0;
  std::string first;
  auto check = [&](const json& interval, std::int64_t k, std::int64_t n, const std::string& where) {
    ++shares;
    const auto [true_low, true_high] = stats::WilsonInterval(k, n);
    if (round1(true_low) < interval[0].get<double>() ||
        round1(true_high) > interval[1].get<double>()) {
      ++narrower;
      if (first.empty()) {
        first = where + ": " + interval.dump() + ", true " + std::to_string(k) + "/" +
                std::to_string(n);
      }
    }
  };
  for (std::size_t c = 0; c < truth.size(); ++c) {
    const json& cell = body["cells"][c];
    check(cell["response_rate_ci95"], truth[c].answered, truth[c].reached,
          "cell " + std::to_string(c));
    for (const auto& [key, sums] : truth[c].questions) {
      check(cell["questions"][key]["pct_8_10_ci95"], sums.top_box, sums.respondents,
            "cell " + std::to_string(c) + " " + key);
    }
  }
  EXPECT_EQ(shares, 1800);
  EXPECT_EQ(narrower, 0) << first;
}

// Each count was drawn on its own, and only answered was held at reached: a cell read 101 texts
// sent of 100 surveys, more reached than sent, and 201 respondents to q3 of 198 answered, where
// every survey answered answers q3 (found by an analyst's review). Each is now held at the noisy
// count it is part of, as answered was.
TEST_F(NoisyFiguresTest, NoisyCountsWithinACellStayPossible) {
  std::vector<store::StatsCell> truth = OfficersCells();
  for (std::size_t c = 0; c < truth.size(); c += 2) {  // every one asked reached and answered
    store::StatsCell& cell = truth[c];
    cell.surveys = cell.sent = cell.reached = cell.answered;
  }
  const json body = NoisyBreakdown(truth);
  ASSERT_EQ(body["cells"].size(), truth.size());
  int impossible = 0;
  std::string first;
  for (const json& cell : body["cells"]) {
    const double answered = cell["answered"].get<double>();
    bool wrong = cell["sent"].get<double>() > cell["surveys"].get<double>() ||
                 cell["reached"].get<double>() > cell["sent"].get<double>() ||
                 answered > cell["reached"].get<double>();
    for (const auto& [key, q] : cell["questions"].items()) {
      wrong = wrong || q["respondents"].get<double>() > answered;
    }
    impossible += wrong;
    if (wrong && first.empty()) first = cell.dump();
  }
  EXPECT_EQ(impossible, 0) << first;
}

// The rollups keep a row for a question whose one score was taken back (0 respondents), where
// the raw tables have none: the same people must draw the same noise from both, or two draws
// could be averaged.
TEST_F(AnalyticsApiTest, AQuestionNobodyAnsweredDrawsNoNoise) {
  options_.figures_noise_key = "the server's key for the figures";
  handler_ = MakeApiHandler(options_);
  store::StatsCell raw = Cell({}, 40, 20);
  raw.questions.erase("q2");
  store::StatsCell rollup = raw;
  rollup.questions["q2"] = {0, 0, 0, 0};
  analytics_.stats.cells = {raw};
  const json from_raw = Json(Get("/api/v1/stats"))["cells"][0];
  analytics_.stats.cells = {rollup};
  const json from_rollup = Json(Get("/api/v1/stats"))["cells"][0];
  for (const char* figure : {"surveys", "sent", "reached", "answered", "response_rate_pct"}) {
    EXPECT_EQ(from_raw[figure], from_rollup[figure]) << figure;
  }
  for (const char* q : {"q1", "q3", "q4", "q5"}) {
    EXPECT_EQ(from_raw["questions"][q], from_rollup["questions"][q]) << q;
  }
}

TEST_F(AnalyticsApiTest, StatsAsCsvOneRowPerCellOrPerQuestion) {
  analytics_.stats.cells = {Cell({"N1", std::nullopt}, 12, 6), Cell({"N,2", "x"}, 3, 1)};
  auto response = Get("/api/v1/stats?group_by=npu,beat&format=csv");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(http::FindHeader(response.headers, "Content-Type"), "text/csv; charset=utf-8");
  EXPECT_EQ(http::FindHeader(response.headers, "X-Row-Count"), "2");
  std::istringstream lines(response.body);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(header.substr(0, 81),
            "\xEF\xBB\xBF"
            "npu,beat,surveys,sent,reached,answered,response_rate_pct,response_rate_ci_low,");
  EXPECT_NE(header.find("q1_respondents,q1_mean,q1_mean_ci_low,q1_mean_ci_high,q1_pct_8_10,"
                        "q1_pct_8_10_ci_low"),
            std::string::npos);
  EXPECT_EQ(first.substr(0, 31), "N1,,48,36,35,12,34.3,20.8,50.8,");
  EXPECT_EQ(second.substr(0, 16), "\"N,2\",x,,,,,,,,t") << "quoted, and suppressed";

  response = Call("GET", "/api/v1/stats?group_by=question,npu", secrets_[Role::kAdmin], "",
                  "198.51.100.7", {{"Accept", "text/csv"}});
  EXPECT_EQ(http::FindHeader(response.headers, "X-Row-Count"), "10") << "5 questions x 2 cells";
  EXPECT_NE(response.body.find("npu,question,surveys"), std::string::npos);
}

// An answer of survey `id`, contacted on 20 November at `hour`, answered `now`, with `comment`.
store::ResponseRecord Answered(std::int64_t id, const std::string& hour, const std::string& comment,
                               TimePoint now) {
  store::ResponseRecord record;
  record.survey_id = id;
  record.contact_day = "2026-11-20";
  record.contact_hour = hour;
  record.submitted_at = now;
  record.comment = comment;
  return record;
}

// Excel, which analysts open CSVs in, reads a file without UTF-8's byte-order mark in the Windows
// code page: a Welsh or Polish comment came out as mojibake. Every CSV starts with it.
TEST_F(AnalyticsApiTest, EveryCsvStartsWithUtf8sByteOrderMark) {
  analytics_.stats.cells = {Cell({"N1"}, 12, 6)};
  const store::ResponseRecord record =
      Answered(7, "10", "diolch\u2019n fawr \u0175 \u0177; Dzi\u0119kuj\u0119", clock_.Now());
  analytics_.responses.records = {record};
  for (const char* target :
       {"/api/v1/stats?format=csv", "/api/v1/stats?group_by=question,npu&format=csv",
        "/api/v1/funnel?format=csv", "/api/v1/representativeness?dimension=npu&format=csv",
        "/api/v1/responses?format=csv", "/api/v1/comments?format=csv",
        "/api/v1/audit?format=csv"}) {
    const auto response = Get(target);
    ASSERT_EQ(response.status, 200) << target << response.body;
    EXPECT_EQ(response.body.substr(0, 3), "\xEF\xBB\xBF") << target;
    EXPECT_EQ(response.body.find("\xEF\xBB\xBF", 3), std::string::npos) << target << ": once";
  }
  EXPECT_NE(Get("/api/v1/comments?format=csv").body.find(record.comment), std::string::npos)
      << "the comment's UTF-8 as stored";
}

TEST_F(AnalyticsApiTest, CsvNeverHandsASpreadsheetAFormula) {
  const store::ResponseRecord record =
      Answered(7, "10", "=HYPERLINK(\"http://evil\",\"x\")", clock_.Now());
  analytics_.responses.records = {record};
  const auto response = Get("/api/v1/comments?format=csv");
  EXPECT_NE(response.body.find("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""), std::string::npos)
      << response.body;
}

TEST_F(AnalyticsApiTest, ResponsesPageWithACursorAndHideOfficersFromAnalysts) {
  store::ResponseRecord record = Answered(42, "09", "fine", clock_.Now());
  for (Dimension d : store::AllDimensions()) {
    if (store::IsFilter(d)) record.context.emplace_back(d, std::string("v"));
  }
  record.q[0] = 9;
  analytics_.responses.records = {record};
  // The cursor is the last answer's time, to the microsecond, and its survey.
  const TimePoint answered_at = ParseRfc3339("2026-11-20T09:30:00Z").value() + 123456us;
  analytics_.responses.next_after = store::ResponseCursor{answered_at, 42};
  auto response = Get("/api/v1/responses?limit=1&after=1795000000000001_100", Role::kAnalyst);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(analytics_.last_query.limit, 1);
  ASSERT_TRUE(analytics_.last_query.after);
  EXPECT_EQ(analytics_.last_query.after->submitted_at.time_since_epoch(), 1795000000000001us);
  EXPECT_EQ(analytics_.last_query.after->survey_id, 100);
  EXPECT_FALSE(analytics_.last_query.comments_only);
  EXPECT_EQ(http::FindHeader(response.headers, "X-Next-Cursor"), "1795167000123456_42");
  json body = Json(response);
  EXPECT_EQ(body["next"], "1795167000123456_42");
  // What `next` says is what `after` reads.
  ASSERT_EQ(Get("/api/v1/responses?after=1795167000123456_42").status, 200);
  EXPECT_EQ(analytics_.last_query.after, analytics_.responses.next_after);
  // A cursor of the old form, a survey id alone, is refused with a reason, not misread.
  response = Get("/api/v1/responses?after=42");
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(Json(response).value("message", "").find("old form"), std::string::npos)
      << response.body;
  EXPECT_EQ(body["responses"][0]["answers"]["q1"], 9);
  EXPECT_TRUE(body["responses"][0]["answers"]["q2"].is_null());
  EXPECT_FALSE(body["responses"][0].contains("officer"));
  EXPECT_FALSE(body["responses"][0].contains("operator"));
  EXPECT_EQ(body["responses"][0]["npu"], "v");
  body = Json(Get("/api/v1/responses", Role::kSupervisor));
  EXPECT_EQ(body["responses"][0]["officer"], "v");

  ASSERT_EQ(Get("/api/v1/comments?q=waited%20long").status, 200);
  EXPECT_TRUE(analytics_.last_query.comments_only);
  EXPECT_EQ(analytics_.last_query.search, "waited long");
}

TEST_F(AnalyticsApiTest, TheFunnelHasAGroupPerRowAndATotal) {
  store::FunnelRow a;
  a.group = "force_contact";
  a.received = 10;
  a.excluded = 3;
  a.excluded_by_rule = {{"exclusion:domestic", 3}};
  a.sent = 5;
  store::FunnelRow none;
  none.received = 4;
  none.rejected = 1;
  analytics_.funnel = {none, a};
  json body = Json(Get("/api/v1/funnel?from=2026-11-01&to=2026-11-02"));
  EXPECT_TRUE(body["groups"][0]["survey_group"].is_null());
  EXPECT_EQ(body["total"]["received"], 14);
  EXPECT_EQ(body["total"]["excluded_by_rule"]["exclusion:domestic"], 3);
  const auto csv = Get("/api/v1/funnel?format=csv").body;
  EXPECT_NE(csv.find("excluded:exclusion:domestic"), std::string::npos);
  EXPECT_NE(csv.find("(total),14,1"), std::string::npos) << csv;
}

// Two survey groups' funnels: one excluded `landlines` landlines and 20 withheld numbers, the
// other a sexual offence among many others, and cancelled 12 surveys held by ops.
std::vector<store::FunnelRow> TwoGroups(std::int64_t landlines = 30) {
  store::FunnelRow attendance;
  attendance.group = "attendance";
  attendance.received = 80;
  attendance.excluded = landlines + 20;
  attendance.excluded_by_rule = {{"phone_landline", landlines}, {"phone_withheld", 20}};
  store::FunnelRow contact;
  contact.group = "force_contact";
  contact.received = 100;
  contact.excluded = 66;
  contact.excluded_by_rule = {
      {"phone_landline", 40}, {"phone_withheld", 25}, {"exclusion:sexual_offence", 1}};
  contact.cancelled = 12;
  contact.cancelled_by_reason = {{"held_by_ops", 12}};
  return {attendance, contact};
}

// "Excluded: sexual offence, 1" could say what someone's contact concerned: analysts and
// supervisors get small counts of a reason hidden, and the reasons too rare to name counted
// together; ops, who run the service and count the decisions by rule in /metrics, get them
// exact. The stages' counts are exact for everyone.
TEST_F(AnalyticsApiTest, TheFunnelHidesSmallCountsOfAReasonFromAllButOps) {
  analytics_.funnel = TwoGroups();
  const std::string target = "/api/v1/funnel?from=2026-11-01&to=2026-11-07";
  for (Role role : {Role::kAnalyst, Role::kSupervisor}) {
    const json body = Json(Get(target, role));
    const json& total = body["total"];
    EXPECT_EQ(total["received"], 180) << RoleName(role);
    EXPECT_EQ(total["excluded"], 116);
    // The sexual offence is not named: counted with the least common reason beside it.
    EXPECT_EQ(total["excluded_by_rule"], (json{{"phone_landline", 70}, {"(other)", 46}})) << total;
    EXPECT_EQ(body["groups"][0]["excluded_by_rule"],
              (json{{"phone_landline", 30}, {"(other)", 20}}));
    EXPECT_EQ(body["groups"][1]["excluded_by_rule"],
              (json{{"phone_landline", 40}, {"(other)", 26}}));
    // A group with none of a reason reads as one with a few.
    EXPECT_EQ(body["groups"][0]["cancelled_by_reason"], (json{{"held_by_ops", nullptr}}));
    EXPECT_EQ(body["groups"][1]["cancelled_by_reason"], (json{{"held_by_ops", 12}}));
    EXPECT_EQ(body["disclosure"]["reasons"], "suppressed");
    EXPECT_EQ(body["disclosure"]["min_cell_size"], 10);
    const auto csv = Get(target + "&format=csv", role).body;
    EXPECT_EQ(csv.find("sexual_offence"), std::string::npos) << csv;
    EXPECT_NE(csv.find("(total),180,0,0,0,116,0,0,0,12,0,0,0,0,0,0,0,0,0,70,46,12"),
              std::string::npos)
        << csv;
  }
  const auto ops = Get(target, Role::kOps);
  ASSERT_EQ(ops.status, 200);
  const json exact = Json(ops);
  EXPECT_EQ(exact["total"]["excluded_by_rule"]["exclusion:sexual_offence"], 1);
  EXPECT_EQ(exact["groups"][1]["excluded_by_rule"]["exclusion:sexual_offence"], 1);
  EXPECT_FALSE(exact["groups"][0]["excluded_by_rule"].contains("exclusion:sexual_offence"));
  EXPECT_EQ(exact["disclosure"]["reasons"], "exact");
  EXPECT_EQ(Json(Get(target, Role::kAdmin))["disclosure"]["reasons"], "exact");
}

// Two funnels a day apart would tell by subtraction what a contact that day concerned: analysts
// and supervisors get the reasons' counts with noise (decided after what to hide, drawn from what
// the group holds); ops, the counts exact. The stages stay exact for everyone.
TEST_F(AnalyticsApiTest, TheFunnelsReasonsCarryNoiseForThoseWhoGetThemSuppressed) {
  const std::string target = "/api/v1/funnel?from=2026-11-01&to=2026-11-07";
  analytics_.funnel = TwoGroups();
  const auto plain = Get(target, Role::kAnalyst);
  EXPECT_EQ(http::FindHeader(plain.headers, "X-Figures"), "exact");
  json exact = Json(plain);  // not const: a key missing reads as null, failing the check only
  EXPECT_EQ(exact["disclosure"]["noise"], false);

  options_.figures_noise_key = "the server's key for the figures";
  handler_ = MakeApiHandler(options_);
  int moved = 0, redrawn = 0;
  json previous;
  for (std::int64_t landlines = 30; landlines < 60; ++landlines) {
    analytics_.funnel = TwoGroups(landlines);
    for (Role role : {Role::kAnalyst, Role::kSupervisor}) {
      const auto response = Get(target, role);
      EXPECT_EQ(http::FindHeader(response.headers, "X-Figures"), "noise");
      json body = Json(response);
      EXPECT_EQ(body["disclosure"]["noise"], true);
      EXPECT_EQ(body["disclosure"]["count_within"], 2);
      EXPECT_NE(body["disclosure"]["note"].get<std::string>().find("within 2"), std::string::npos);
      // The stages are exact; what is hidden stays hidden, the rare reason unnamed.
      EXPECT_EQ(body["total"]["excluded"], landlines + 86);
      EXPECT_EQ(body["groups"][0]["excluded"], landlines + 20);
      EXPECT_TRUE(body["groups"][0]["cancelled_by_reason"]["held_by_ops"].is_null());
      EXPECT_FALSE(body["total"]["excluded_by_rule"].contains("exclusion:sexual_offence"));
      const json truth = {{"phone_landline", landlines}, {"(other)", 20}};
      const json& shown = body["groups"][0]["excluded_by_rule"];
      ASSERT_EQ(shown.size(), truth.size()) << shown;
      for (const auto& [reason, count] : truth.items()) {
        const int figure = shown.at(reason).get<int>();
        EXPECT_LE(std::abs(figure - count.get<int>()), 2) << shown;
        EXPECT_GE(figure, 10) << shown;
        moved += figure != count.get<int>();
      }
      // The same contacts asked for again, over more days: the same figures.
      EXPECT_EQ(Json(Get("/api/v1/funnel?from=2026-10-01&to=2026-11-30", role))["groups"],
                body["groups"]);
      if (role == Role::kAnalyst) {
        // One landline more draws afresh, the other reasons beside it too (their 20 did not
        // change: were it the same figure each time, the reason that moved would show).
        const json& other = shown.at("(other)");
        redrawn += !previous.is_null() && previous != other;
        previous = other;
      }
      const auto csv = Get(target + "&format=csv", role);
      EXPECT_EQ(http::FindHeader(csv.headers, "X-Figures"), "noise");
      EXPECT_EQ(csv.body.find("sexual_offence"), std::string::npos) << csv.body;
    }
    // Ops (and admins) run the service: theirs are exact.
    for (Role role : {Role::kOps, Role::kAdmin}) {
      const auto ops = Get(target, role);
      EXPECT_EQ(http::FindHeader(ops.headers, "X-Figures"), "exact");
      json body = Json(ops);
      EXPECT_EQ(body["disclosure"]["noise"], false);
      EXPECT_EQ(body["groups"][0]["excluded_by_rule"]["phone_landline"], landlines);
      EXPECT_EQ(body["groups"][1]["excluded_by_rule"]["exclusion:sexual_offence"], 1);
    }
  }
  EXPECT_GT(moved, 20) << "of 120 counts shown";
  EXPECT_GT(redrawn, 10) << "of 29";
}

// Two selections that differ by one person (a day less, a filter value less) would give that
// person's answers away by subtraction: the figures carry noise, drawn from what each cell holds,
// so the same people read the same however asked, and one person more or less draws afresh.
TEST_F(AnalyticsApiTest, FiguresCarryNoiseTheSameForTheSamePeopleAsked) {
  analytics_.stats.cells = {Cell({}, 40, 20)};
  const json plain = Json(Get("/api/v1/stats"));
  EXPECT_EQ(plain["disclosure"]["noise"], false);
  EXPECT_EQ(plain["cells"][0]["answered"], 40);

  options_.figures_noise_key = "the server's key for the figures";
  handler_ = MakeApiHandler(options_);
  const auto response = Get("/api/v1/stats?group_by=question");
  EXPECT_EQ(http::FindHeader(response.headers, "X-Figures"), "noise");
  const json body = Json(response);
  EXPECT_EQ(body["disclosure"]["noise"], true);
  EXPECT_EQ(body["disclosure"]["count_within"], 2);
  EXPECT_NE(body["disclosure"]["note"].get<std::string>().find("within 2"), std::string::npos);
  // Asked another way (another period, the same people): the same figures.
  const json again = Json(Get("/api/v1/stats?group_by=question&from=2026-10-01"));
  EXPECT_EQ(body["cells"], again["cells"]);
  bool moved = false;
  for (const json& row : body["cells"]) {
    EXPECT_NEAR(row["answered"].get<double>(), 40, 2);
    EXPECT_NEAR(row["respondents"].get<double>(), 40, 2);
    EXPECT_NEAR(row["mean"].get<double>(), 7, 0.7);
    moved = moved || row["respondents"] != 40 || row["mean"] != 7;
  }
  EXPECT_TRUE(moved) << body["cells"];

  // Pairs of selections one person apart: their difference is that person's only by chance.
  int answered_by_one = 0, total_by_one = 0;
  for (std::int64_t n = 20; n < 120; ++n) {
    analytics_.stats.cells = {Cell({}, n, n / 2)};
    const json with = Json(Get("/api/v1/stats?group_by=question"))["cells"][0];
    analytics_.stats.cells = {Cell({}, n - 1, n / 2)};
    const json without = Json(Get("/api/v1/stats?group_by=question"))["cells"][0];
    answered_by_one += with["answered"].get<int>() - without["answered"].get<int>() == 1;
    const double sum_with = with["mean"].get<double>() * with["respondents"].get<double>();
    const double sum_without = without["mean"].get<double>() * without["respondents"].get<double>();
    total_by_one += std::abs(sum_with - sum_without - 7) < 0.5;
  }
  EXPECT_LT(answered_by_one, 60);
  EXPECT_LT(total_by_one, 30);
  // Who answers against who was asked, too.
  EXPECT_EQ(Json(Get("/api/v1/representativeness?dimension=gender"))["disclosure"]["noise"], true);
  // What is hidden is decided on the true counts, and stays hidden: the 4, and the 30 beside it.
  analytics_.stats.cells = {Cell({"A"}, 40, 20), Cell({"B"}, 4, 2), Cell({"C"}, 30, 10)};
  const json parts = Json(Get("/api/v1/stats?group_by=npu"));
  EXPECT_FALSE(parts["cells"][0]["suppressed"]);
  EXPECT_NEAR(parts["cells"][0]["answered"].get<double>(), 40, 2);
  for (std::size_t hidden : {1u, 2u}) {
    EXPECT_TRUE(parts["cells"][hidden]["suppressed"]) << parts;
    EXPECT_TRUE(parts["cells"][hidden]["answered"].is_null()) << parts;
  }
}

TEST_F(AnalyticsApiTest, RepresentativenessComparesSharesAndSuppressesSmallGroups) {
  store::StatsCell young;
  young.keys = {"18-24"};
  young.surveys = 260;  // 60 cancelled or expired before they left: nobody was asked
  young.sent = 200;
  young.answered = 5;
  store::StatsCell old;
  old.keys = {"65-74"};
  old.surveys = 200;
  old.sent = 200;
  old.answered = 95;
  store::StatsCell rare;  // asked so seldom that the count itself could point at someone
  rare.keys = {"90+"};
  rare.surveys = 3;
  rare.sent = 3;
  rare.answered = 1;
  store::StatsCell middle;  // answering and asked less than the others: hidden beside the small
  middle.keys = {"35-44"};
  middle.surveys = 100;
  middle.sent = 100;
  middle.answered = 20;
  // Every text reached someone (as a store counts them, never fewer than answered).
  for (store::StatsCell* cell : {&young, &old, &rare, &middle}) cell->reached = cell->sent;
  analytics_.stats.cells = {young, old, rare, middle};
  const json body = Json(Get("/api/v1/representativeness?dimension=age_band"));
  EXPECT_EQ(analytics_.last_group_by, std::vector<Dimension>{Dimension::kAgeBand});
  EXPECT_EQ(body["values"][0]["surveyed"], 200) << "asked often, answering rarely: the point";
  EXPECT_EQ(body["values"][0]["share_surveyed_pct"], 50.0) << "of those shown";
  EXPECT_TRUE(body["values"][0]["suppressed"].get<bool>());
  EXPECT_TRUE(body["values"][0]["respondents"].is_null());
  EXPECT_EQ(body["values"][1]["share_respondents_pct"], 100.0) << "of those shown";
  EXPECT_EQ(body["values"][1]["representation"], 2.0);
  EXPECT_TRUE(body["values"][2]["suppressed"].get<bool>());
  EXPECT_TRUE(body["values"][2]["surveyed"].is_null());
  EXPECT_TRUE(body["values"][2]["share_surveyed_pct"].is_null());
  // Beside those, as /api/v1/stats does, so that neither the young's answers nor the rare's, nor
  // who of the rare was asked, is the total (/api/v1/stats for everyone) less the others.
  EXPECT_TRUE(body["values"][3]["suppressed"].get<bool>());
  EXPECT_TRUE(body["values"][3]["respondents"].is_null());
  EXPECT_TRUE(body["values"][3]["surveyed"].is_null());
  // The totals are of the counts shown: none hidden is the total less the others.
  EXPECT_EQ(body["surveyed"], 400);
  EXPECT_EQ(body["respondents"], 95);
  const auto csv = Get("/api/v1/representativeness?dimension=age_band&format=csv").body;
  EXPECT_NE(csv.find("\n90+,,,,"), std::string::npos) << csv;
}

TEST_F(AnalyticsApiTest, EveryProtectedCallIsAuditedWithoutValues) {
  ASSERT_EQ(Get("/api/v1/stats?npu=Secret%20Street&group_by=beat", Role::kAnalyst).status, 200);
  ASSERT_EQ(Call("GET", "/api/v1/comments?q=07700900123", "svd_wrong").status, 401);
  ASSERT_EQ(Call("GET", "/healthz").status, 200);
  ASSERT_EQ(Get("/api/v1/stats?07700900123=1").status, 400);
  ASSERT_EQ(audit_.entries.size(), 3u) << "public routes are not audited";
  const auto& ok = audit_.entries[0];
  EXPECT_EQ(ok.token_id, tokens_.tokens[0].first.id);
  EXPECT_EQ(ok.role, "analyst");
  EXPECT_EQ(ok.route, "/api/v1/stats");
  EXPECT_EQ(ok.params, (std::vector<std::string>{"npu", "group_by"}));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.rows, 0);
  const auto& refused = audit_.entries[1];
  EXPECT_TRUE(refused.token_id.empty());
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.params, std::vector<std::string>{"q"});
  EXPECT_EQ(audit_.entries[2].params, std::vector<std::string>{"?"}) << "no odd names kept";
  for (const auto& entry : audit_.entries) {
    for (const auto& p : entry.params) EXPECT_EQ(p.find("0770"), std::string::npos);
    EXPECT_EQ(entry.subject, "") << "no record named: " << entry.route;
  }
  // A record the path names is kept: who opened which alert (and its comment).
  Get("/api/v1/alerts/42", Role::kSupervisor);
  ASSERT_EQ(audit_.entries.size(), 4u);
  EXPECT_EQ(audit_.entries[3].route, "/api/v1/alerts/{id}");
  EXPECT_EQ(audit_.entries[3].subject, "42");
  Get("/api/v1/alerts/07700%20900123", Role::kSupervisor);
  EXPECT_EQ(audit_.entries.back().subject, "?") << "only what looks like an id";
  // Unaudited data does not leave.
  audit_.unavailable = true;
  EXPECT_EQ(Get("/api/v1/stats").status, 503);
  EXPECT_EQ(Get("/api/v1/audit", Role::kAdmin).status, 503);
  // Except health, which holds no personal data and is what ops need when the database cannot
  // be written.
  EXPECT_EQ(Get("/api/v1/health", Role::kOps).status, 200);
}

// An ops poll of health every second through a database outage: the trail's failure is said as
// an outage (once, then once when it ends), not a warning per request.
TEST_F(AnalyticsApiTest, TheTrailsOutageIsSaidOnceEachWay) {
  surveyd::testing::CapturedLog log;
  audit_.unavailable = true;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Get("/api/v1/health", Role::kOps).status, 200);
  EXPECT_EQ(Get("/api/v1/stats").status, 503);
  audit_.unavailable = false;
  EXPECT_EQ(Get("/api/v1/health", Role::kOps).status, 200);
  std::vector<std::string> lines;
  std::istringstream said(log.Text());
  for (std::string line; std::getline(said, line);) {
    if (line.find("audit") != std::string::npos) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 2u) << log.Text();
  EXPECT_EQ(
      lines[0],
      "error api: audit trail: cannot write the audit trail: audit: database connection lost");
  EXPECT_EQ(lines[1].rfind("info api: audit trail: working again, after 6 failure(s)", 0), 0u)
      << lines[1];
}

// Someone trying methods on a protected route (deleting the tokens' list, changing an alert with
// PUT) is on the trail as any other caller of it is; a public route's wrong method is not.
TEST_F(AnalyticsApiTest, AWrongMethodAtAProtectedRouteIsAudited) {
  auto response = Call("DELETE", "/api/v1/tokens?all=1", secrets_[Role::kAdmin]);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(http::FindHeader(response.headers, "Allow"), "GET, POST");
  ASSERT_EQ(audit_.entries.size(), 1u);
  EXPECT_EQ(audit_.entries[0].route, "/api/v1/tokens");
  EXPECT_EQ(audit_.entries[0].method, "DELETE");
  EXPECT_EQ(audit_.entries[0].status, 405);
  EXPECT_EQ(audit_.entries[0].params, std::vector<std::string>{"all"});
  EXPECT_TRUE(audit_.entries[0].token_id.empty()) << "answered without reading the token";
  EXPECT_EQ(Call("PUT", "/api/v1/alerts/42", "").status, 405);
  ASSERT_EQ(audit_.entries.size(), 2u);
  EXPECT_EQ(audit_.entries[1].route, "/api/v1/alerts/{id}");
  EXPECT_EQ(audit_.entries[1].subject, "42");
  EXPECT_EQ(Call("POST", "/healthz").status, 405);
  EXPECT_EQ(audit_.entries.size(), 2u) << "public routes are not audited";
}

// A change is on record as begun before it is made: one the trail cannot hold is not made, and
// one made is answered as made, whatever becomes of the record of its outcome.
TEST_F(AnalyticsApiTest, AChangeIsAuditedBeforeItIsMade) {
  const std::size_t tokens = tokens_.tokens.size();
  audit_.unavailable = true;
  EXPECT_EQ(
      Call("POST", "/api/v1/tokens", secrets_[Role::kAdmin], R"({"role":"analyst","name":"A"})")
          .status,
      503);
  EXPECT_EQ(tokens_.tokens.size(), tokens) << "no token made unaudited";
  audit_.unavailable = false;
  const auto made =
      Call("POST", "/api/v1/tokens", secrets_[Role::kAdmin], R"({"role":"analyst","name":"A"})");
  EXPECT_EQ(made.status, 201);
  ASSERT_GE(audit_.entries.size(), 2u);
  const auto& begun = audit_.entries[audit_.entries.size() - 2];
  const auto& done = audit_.entries.back();
  EXPECT_EQ(begun.route, "/api/v1/tokens");
  EXPECT_EQ(begun.method, "POST");
  EXPECT_EQ(begun.status, 0) << "begun";
  EXPECT_EQ(begun.token_id, done.token_id);
  EXPECT_EQ(done.status, 201);
  // A read is recorded once, after.
  const std::size_t entries = audit_.entries.size();
  Get("/api/v1/stats");
  EXPECT_EQ(audit_.entries.size(), entries + 1);
}

TEST_F(AnalyticsApiTest, RepeatedWrongTokensFromOneClientAreSlowedDown) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(
        Call("GET", "/api/v1/stats", "svd_guess" + std::to_string(i), "", "203.0.113.5").status,
        401);
  }
  auto response = Call("GET", "/api/v1/stats", secrets_[Role::kAnalyst], "", "203.0.113.5");
  EXPECT_EQ(response.status, 429) << "even the right token waits";
  EXPECT_EQ(http::FindHeader(response.headers, "Retry-After"), "60");
  EXPECT_EQ(Call("GET", "/api/v1/stats", secrets_[Role::kAnalyst], "", "203.0.113.6").status, 200)
      << "another client is not affected";
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_EQ(Call("GET", "/api/v1/stats", secrets_[Role::kAnalyst], "", "203.0.113.5").status, 200);
}

TEST_F(AnalyticsApiTest, TokensAreIssuedOnceAndNeverAboveTheIssuer) {
  auto response = Call("POST", "/api/v1/tokens", secrets_[Role::kAdmin],
                       R"({"role":"supervisor","name":"Sgt"})");
  ASSERT_EQ(response.status, 201);
  const json issued = Json(response);
  const std::string secret = issued["token"];
  EXPECT_EQ(secret.substr(0, 4), "svd_");
  EXPECT_EQ(tokens_.tokens.back().second, crypto::Sha256Hex(secret)) << "only the hash is kept";
  EXPECT_EQ(tokens_.tokens.back().first.created_by, tokens_.tokens[3].first.id);
  EXPECT_EQ(Call("GET", "/api/v1/stats?group_by=officer", secret).status, 200);
  const json list = Json(Get("/api/v1/tokens"));
  EXPECT_EQ(list["tokens"].size(), 6u);
  EXPECT_EQ(list.dump().find(secret), std::string::npos) << "never listed";
  EXPECT_EQ(Call("POST", "/api/v1/tokens", secrets_[Role::kAdmin],
                 R"({"role":"safeguarding","name":"x"})")
                .status,
            403);
  EXPECT_EQ(Call("POST", "/api/v1/tokens", secrets_[Role::kAdmin], R"({"role":"chief"})").status,
            400);
  EXPECT_EQ(
      Call("DELETE", "/api/v1/tokens/" + issued["id"].get<std::string>(), secrets_[Role::kAdmin])
          .status,
      204);
  EXPECT_EQ(Call("GET", "/api/v1/stats", secret).status, 401);
  EXPECT_EQ(Call("DELETE", "/api/v1/tokens/tok_nope", secrets_[Role::kAdmin]).status, 404);
}

TEST_F(AnalyticsApiTest, ATokenStoreThatIsDownIsA503) {
  tokens_.unavailable = true;
  EXPECT_EQ(Get("/api/v1/stats").status, 503);
}

TEST_F(AnalyticsApiTest, AFullAnalyticsQueueIsA503AndOtherRoutesStillAnswer) {
  WorkQueue queue(1, 0);
  options_.analytics_queue = &queue;
  std::mutex mutex;
  std::condition_variable cv;
  bool started = false;
  bool release = false;
  std::thread busy([&] {
    queue.Run([&] {
      std::unique_lock lock(mutex);
      started = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    });
  });
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return started; });
  }
  auto handler = MakeApiHandler(options_);
  http::Request request;
  request.method = "GET";
  request.path = "/api/v1/stats";
  request.headers = {{"Authorization", "Bearer " + secrets_[Role::kAnalyst]}};
  auto response = handler(request);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(Json(response)["error"], "busy");
  request.path = "/api/v1/rules";
  request.headers = {{"Authorization", "Bearer " + secrets_[Role::kOps]}};
  EXPECT_EQ(handler(request).status, 200) << "not an analytics query";
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  busy.join();
  request.path = "/api/v1/stats";
  request.headers = {{"Authorization", "Bearer " + secrets_[Role::kAnalyst]}};
  EXPECT_EQ(handler(request).status, 200);
}

TEST_F(AnalyticsApiTest, TheDashboardIsServedWithAStrictPolicy) {
  for (const char* path :
       {"/dashboard", "/dashboard/", "/dashboard/app.js", "/dashboard/app.css"}) {
    const auto response = Call("GET", path);
    EXPECT_EQ(response.status, 200) << path;
    const auto policy = http::FindHeader(response.headers, "Content-Security-Policy");
    EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << path;
    EXPECT_EQ(policy.find("unsafe"), std::string::npos) << path;
  }
  EXPECT_EQ(http::FindHeader(Call("GET", "/dashboard").headers, "Content-Type"),
            "text/html; charset=utf-8");
  EXPECT_EQ(Call("GET", "/dashboard/../openapi.json").status, 404);
  EXPECT_EQ(Call("GET", "/dashboard/nope.js").status, 404);
  const std::string page = Call("GET", "/dashboard").body;
  EXPECT_EQ(page.find("http://"), std::string::npos) << "nothing loaded from elsewhere";
  EXPECT_EQ(page.find("https://"), std::string::npos) << "nothing loaded from elsewhere";
}

TEST_F(AnalyticsApiTest, ATimelineForOps) {
  store::SurveyTimeline t;
  t.survey_id = 5;
  t.decision = "survey";
  t.reason = "survey";
  t.decision_trace = R"(["group:force_contact","survey"])";
  t.contact_at = clock_.Now() - std::chrono::hours(2);
  t.received_at = clock_.Now() - std::chrono::hours(1);
  t.created_at = t.received_at;
  t.opened_at = clock_.Now();
  store::SurveyTimeline::Attempt attempt;
  attempt.attempt = 1;
  attempt.at = t.received_at + std::chrono::minutes(30);
  attempt.result = "accepted";
  t.attempts = {attempt};
  analytics_.timeline = t;
  const json body = Json(Get("/api/v1/surveys/5", Role::kOps));
  std::vector<std::string> steps;
  for (const auto& e : body["timeline"]) steps.push_back(e["what"]);
  EXPECT_EQ(steps, (std::vector<std::string>{"contact", "event_received", "decided",
                                             "survey_created", "send_attempt", "opened"}));
  EXPECT_EQ(body["timeline"][2]["trace"][0], "group:force_contact");
  EXPECT_EQ(Get("/api/v1/surveys/6", Role::kOps).status, 404);
}

}  // namespace
}  // namespace surveyd::api
