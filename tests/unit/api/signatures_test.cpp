// Every signed thing the service takes, through the API as the server calls it: feed pushes
// (X-Feed-Signature), WMNow callbacks (X-WMNow-Signature), Twilio callbacks (X-Twilio-Signature)
// and Kannel's (a shared secret in the query). One changed byte anywhere that is signed, a
// timestamp out of its five minutes, and nothing reaches the store. A replay of a genuine request
// verifies again where nothing signed says when (or within the five minutes), and reaches the
// store as the very same event, report or text, which the store then reads once
// (StoreTest.IngestingTheSameBatchTwiceChangesNothing, DeliveryStatesOnlyMoveForward,
// ATextDeliveredAgainByItsGatewayIdChangesNothing). A text without the gateway's id (Kannel's
// get-url without &id=%I), which the store cannot recognise again, is still read as an answer.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fakes/empty_outbox.hpp"
#include "fakes/manual_clock.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/gateway/kannel.hpp"
#include "surveyd/gateway/twilio.hpp"
#include "surveyd/gateway/wmnow.hpp"
#include "surveyd/store/ingest_store.hpp"
#include "surveyd/store/outbox_store.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::api {
namespace {

using gateway::CallbackKind;

constexpr char kFeedSecret[] = "feed-secret-feed-secret";
constexpr char kWmnowSecret[] = "hook-secret-hook-secret";
constexpr char kKannelSecret[] = "kannel-secret-0123456789";
constexpr char kTwilioToken[] = "twilio-auth-token-0123456789";
constexpr char kTwilioAccount[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kPublicBase[] = "https://surveys.example.police.uk";
constexpr char kEvent[] =
    R"({"event_id":"F-1","type":"call.ended","occurred_at":"2026-11-26T09:00:00Z",)"
    R"("incident":{"id":"I-1","type_code":"BURG-RES"},"call":{"id":"C-1","channel":"101"},)"
    R"("caller":{"phone":"07700 900123"}})";

// Records what reaches it. Its replies are read against an open two-way conversation, as the
// real store would give them, so that what a text would answer shows.
class RecordingStore final : public store::IngestStore,
                             public testing::EmptyOutbox<store::OutboxStore>,
                             public store::SurveyStore {
 public:
  std::vector<store::IngestResult> IngestBatch(const std::vector<store::IngestItem>& items,
                                               const store::DecideFn&,
                                               const std::string&) override {
    std::vector<store::IngestResult> results;
    for (const auto& item : items) {
      events.push_back(item.event_id);
      results.push_back({item.event_id, store::IngestOutcome::kAccepted, decision});
      if (decision == "survey") results.back().send_at = send_at;
    }
    return results;
  }
  std::optional<std::int64_t> FeedCursor(const std::string&) override { return std::nullopt; }
  // Nothing stored here is read back, so nothing needs screening.
  ScreenPass ScreenEvents(const EventScreen&, TimePoint, TimePoint, int) override { return {}; }
  bool ApplyDeliveryReport(const DeliveryReport& report) override {
    reports.push_back(report);
    return true;
  }
  std::optional<store::SurveyView> FindSurveyByTokenHash(const std::string&) override {
    return std::nullopt;
  }
  void MarkOpened(std::int64_t, TimePoint) override {}
  store::SubmitOutcome SubmitResponse(std::int64_t, const store::SurveyAnswers&,
                                      TimePoint) override {
    return store::SubmitOutcome::kStored;
  }
  void OptOut(const std::string&, const std::string&, TimePoint) override {}
  bool OptOutBySurvey(std::int64_t, const std::string&, TimePoint) override { return false; }
  bool KeepLateText(std::int64_t, const std::string&, const std::vector<NewAlert>&,
                    TimePoint) override {
    return false;
  }
  store::ReplyOutcome ReceiveReply(const InboundSms& sms, const store::ReplyFn& plan,
                                   const store::AlertFn&, TimePoint now) override {
    store::ReplyContext context;
    context.latest_survey_id = 7;
    context.latest_language = "en";
    store::ReplyContext::TwoWay two_way;
    two_way.survey_id = 7;
    two_way.language = "en";
    two_way.begun_at = now;
    context.two_way = two_way;
    inbound.push_back(sms);
    plans.push_back(plan(context, sms.body));
    return {false, plans.back().disposition, static_cast<int>(plans.back().texts.size())};
  }

  std::size_t Reached() const { return events.size() + reports.size() + inbound.size(); }

  std::string decision = "survey";                     // what every event stored is decided
  TimePoint send_at = FromUnixSeconds(1'800'000'000);  // when a survey's text is due
  std::vector<std::string> events;
  std::vector<DeliveryReport> reports;
  std::vector<InboundSms> inbound;
  std::vector<store::ReplyPlan> plans;
};

// Changes one byte of `text` at `at` (a character that stays printable and differs).
std::string Flip(std::string text, std::size_t at) {
  text[at] = text[at] == 'A' ? 'B' : 'A';
  return text;
}

// First, middle and last byte.
std::vector<std::size_t> Places(const std::string& text) {
  return {0, text.size() / 2, text.size() - 1};
}

class SignaturesTest : public ::testing::Test {
 protected:
  SignaturesTest() : clock_(*ParseRfc3339("2026-11-26T10:00:00Z")) {
    gateway::WmnowOptions wmnow;
    wmnow.webhook_secret = kWmnowSecret;
    gateway::KannelOptions kannel;
    kannel.webhook_secret = kKannelSecret;
    kannel.public_base_url = kPublicBase;
    gateway::TwilioOptions twilio;
    twilio.account_sid = kTwilioAccount;
    twilio.auth_token = kTwilioToken;
    twilio.public_base_url = kPublicBase;
    gateways_["wmnow"] = gateway::MakeWmnowGateway(wmnow);
    gateways_["kannel"] = gateway::MakeKannelGateway(kannel);
    gateways_["twilio"] = gateway::MakeTwilioGateway(twilio);
  }

  // The API with `gateway` in use, as serve builds it (the replier answers any score).
  http::Handler Api(const std::string& gateway) {
    ApiOptions options;
    options.clock = &clock_;
    options.ingest = &store_;
    options.outbox = &store_;
    options.surveys = &store_;
    options.feed_secret = kFeedSecret;
    options.decider = [] {
      return [](const Event&, const ContactHistory&, const RelatedEvents&) { return Decision{}; };
    };
    options.gateway = gateways_.at(gateway).get();
    options.replier = [] {
      return [](const store::ReplyContext& context, const std::string& body) {
        store::ReplyPlan plan;
        plan.survey_id = context.latest_survey_id;
        if (context.two_way && body == "8") {
          plan.disposition = "answer";
          plan.question = context.two_way->question;
          plan.score = 8;
        }
        return plan;
      };
    };
    options.readiness = [] { return Readiness{true, "{}", {}}; };
    options.on_surveys_created = [this](TimePoint due) {
      ++wakes_;
      woken_for_ = due;
    };
    return MakeApiHandler(options);
  }

  std::int64_t Now() const { return ToUnixSeconds(clock_.Now()); }

  static http::Request Post(const std::string& target, const std::string& body) {
    http::Request request;
    request.method = "POST";
    request.target = target;
    const auto question = target.find('?');
    request.path = target.substr(0, question);
    request.query = question == std::string::npos ? "" : target.substr(question + 1);
    request.body = body;
    request.remote_address = "192.0.2.7";
    return request;
  }

  // A request signed as feed pushes and WMNow callbacks are: HMAC-SHA256 over "timestamp.body".
  static http::Request Timestamped(const std::string& target, const std::string& prefix,
                                   const std::string& secret, std::int64_t ts,
                                   const std::string& body) {
    http::Request request = Post(target, body);
    request.headers = {
        {prefix + "-Timestamp", std::to_string(ts)},
        {prefix + "-Signature", crypto::SignTimestamped(secret, std::to_string(ts), body)}};
    return request;
  }

  static http::Request TwilioSigned(const std::string& target, const std::string& body) {
    http::Request request = Post(target, body);
    request.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"X-Twilio-Signature",
         gateway::TwilioSignature(kTwilioToken, kPublicBase + target, http::ParseForm(body))}};
    return request;
  }

  // Every one-byte change of the signed parts of `genuine` (body, timestamp, signature): 401,
  // and nothing reached the store.
  void ExpectEveryChangedByteRefused(const http::Handler& api, const http::Request& genuine,
                                     const std::vector<std::string>& signed_headers) {
    const std::size_t before = store_.Reached();
    for (std::size_t at : Places(genuine.body)) {
      http::Request changed = genuine;
      changed.body = Flip(changed.body, at);
      EXPECT_EQ(api(changed).status, 401) << genuine.path << " body byte " << at;
    }
    for (const auto& name : signed_headers) {
      for (auto& [key, value] : genuine.headers) {
        if (key != name) continue;
        for (std::size_t at : Places(value)) {
          http::Request changed = genuine;
          for (auto& header : changed.headers) {
            if (header.first == name) header.second = Flip(value, at);
          }
          EXPECT_EQ(api(changed).status, 401) << genuine.path << " " << name << " byte " << at;
        }
      }
      http::Request missing = genuine;
      std::erase_if(missing.headers, [&](const auto& header) { return header.first == name; });
      EXPECT_EQ(api(missing).status, 401) << genuine.path << " without " << name;
    }
    EXPECT_EQ(store_.Reached(), before) << genuine.path;
  }

  testing::ManualClock clock_;
  RecordingStore store_;
  std::map<std::string, std::unique_ptr<gateway::Gateway>> gateways_;
  int wakes_ = 0;        // times a push woke the dispatcher
  TimePoint woken_for_;  // the due time the last wake named
};

TEST_F(SignaturesTest, FeedPushes) {
  const auto api = Api("wmnow");
  const std::string target = "/api/v1/feed/events";
  const auto genuine = Timestamped(target, "X-Feed", kFeedSecret, Now(), kEvent);
  ExpectEveryChangedByteRefused(api, genuine, {"X-Feed-Timestamp", "X-Feed-Signature"});
  // Stale or from the future by more than five minutes: refused; at the edge: taken.
  EXPECT_EQ(api(Timestamped(target, "X-Feed", kFeedSecret, Now() - 301, kEvent)).status, 401);
  EXPECT_EQ(api(Timestamped(target, "X-Feed", kFeedSecret, Now() + 301, kEvent)).status, 401);
  EXPECT_TRUE(store_.events.empty());
  EXPECT_EQ(api(Timestamped(target, "X-Feed", kFeedSecret, Now() - 300, kEvent)).status, 202);
  EXPECT_EQ(api(genuine).status, 202);
  // Replayed within the five minutes: the same event id again, which the store keeps once.
  clock_.Advance(std::chrono::seconds(120));
  EXPECT_EQ(api(genuine).status, 202);
  EXPECT_EQ(store_.events, (std::vector<std::string>{"F-1", "F-1", "F-1"}));
  // Replayed later: refused.
  clock_.Advance(std::chrono::seconds(181));
  EXPECT_EQ(api(genuine).status, 401);
  EXPECT_EQ(store_.events.size(), 3u);
}

// A push wakes the dispatcher when it created a survey, and only then, for when the text is due:
// each wake is a claim.
TEST_F(SignaturesTest, APushWakesTheDispatcherOnlyForANewSurvey) {
  const auto api = Api("wmnow");
  const std::string target = "/api/v1/feed/events";
  EXPECT_EQ(api(Timestamped(target, "X-Feed", kFeedSecret, Now(), kEvent)).status, 202);
  EXPECT_EQ(wakes_, 1);
  EXPECT_EQ(woken_for_, store_.send_at);
  store_.decision = "exclusion:domestic";
  EXPECT_EQ(api(Timestamped(target, "X-Feed", kFeedSecret, Now(), kEvent)).status, 202);
  EXPECT_EQ(wakes_, 1);
  store_.decision = "survey";
  EXPECT_EQ(api(Timestamped(target, "X-Feed", kFeedSecret, Now(), kEvent)).status, 202);
  EXPECT_EQ(wakes_, 2);
  EXPECT_EQ(store_.events.size(), 3u);
}

TEST_F(SignaturesTest, WmnowCallbacks) {
  const auto api = Api("wmnow");
  const std::string status_path = "/api/v1/gateway/wmnow/status";
  const std::string inbound_path = "/api/v1/gateway/wmnow/inbound";
  const std::string report =
      R"({"message_id":"m-1","client_ref":"msg-42","status":"delivered","at":"2026-11-26T09:59:00Z"})";
  const std::string text =
      R"({"message_id":"in-77","from":"+447700900123","to":"WMPolice","body":"8"})";
  for (const auto& [path, body] : {std::pair{status_path, report}, std::pair{inbound_path, text}}) {
    const auto genuine = Timestamped(path, "X-WMNow", kWmnowSecret, Now(), body);
    ExpectEveryChangedByteRefused(api, genuine, {"X-WMNow-Timestamp", "X-WMNow-Signature"});
    EXPECT_EQ(api(Timestamped(path, "X-WMNow", kWmnowSecret, Now() - 301, body)).status, 401);
    EXPECT_EQ(api(Timestamped(path, "X-WMNow", kWmnowSecret, Now() + 301, body)).status, 401);
    EXPECT_EQ(store_.Reached(), 0u);
  }
  const auto genuine_report = Timestamped(status_path, "X-WMNow", kWmnowSecret, Now(), report);
  const auto genuine_text = Timestamped(inbound_path, "X-WMNow", kWmnowSecret, Now(), text);
  EXPECT_EQ(api(genuine_report).status, 200);
  EXPECT_EQ(api(genuine_text).status, 200);
  // Replays within the five minutes are the same report and the same text (same ids).
  clock_.Advance(std::chrono::seconds(299));
  EXPECT_EQ(api(genuine_report).status, 200);
  EXPECT_EQ(api(genuine_text).status, 200);
  ASSERT_EQ(store_.reports.size(), 2u);
  EXPECT_EQ(store_.reports[1].gateway_message_id, store_.reports[0].gateway_message_id);
  EXPECT_EQ(store_.reports[1].message_ref, "msg-42");
  EXPECT_EQ(store_.reports[1].state, store_.reports[0].state);
  EXPECT_EQ(store_.reports[1].at, store_.reports[0].at) << "the report's own time, not ours";
  ASSERT_EQ(store_.inbound.size(), 2u);
  EXPECT_EQ(store_.inbound[1].gateway_message_id, "in-77");
  // Then refused.
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(api(genuine_report).status, 401);
  EXPECT_EQ(api(genuine_text).status, 401);
  EXPECT_EQ(store_.Reached(), 4u);
}

TEST_F(SignaturesTest, TwilioCallbacks) {
  const auto api = Api("twilio");
  const std::string status_target = "/api/v1/gateway/twilio/status?ref=msg-42";
  const std::string report = "AccountSid=" + std::string(kTwilioAccount) +
                             "&MessageSid=SM0123456789abcdef&MessageStatus=delivered";
  const std::string text = "AccountSid=" + std::string(kTwilioAccount) +
                           "&MessageSid=SMin0123456789&From=%2B447700900123&To=60001&Body=8";
  const std::string inbound_target = "/api/v1/gateway/twilio/inbound";
  for (const auto& [target, body] :
       {std::pair{status_target, report}, std::pair{inbound_target, text}}) {
    const auto genuine = TwilioSigned(target, body);
    ExpectEveryChangedByteRefused(api, genuine, {"X-Twilio-Signature"});
    // The URL is signed too: another ref, or the same request at another address.
    http::Request moved = genuine;
    moved.target += target.find('?') == std::string::npos ? "?ref=other" : "x";
    moved.query = moved.target.substr(moved.target.find('?') + 1);
    EXPECT_EQ(api(moved).status, 401) << target;
    EXPECT_EQ(store_.Reached(), 0u);
  }
  // Twilio signs no time: a replay verifies, and is the same report (the sid and our ref) or
  // the same text (its MessageSid), read once by the store.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(api(TwilioSigned(status_target, report)).status, 200);
    EXPECT_EQ(api(TwilioSigned(inbound_target, text)).status, 200);
    clock_.Advance(std::chrono::hours(24));
  }
  ASSERT_EQ(store_.reports.size(), 2u);
  EXPECT_EQ(store_.reports[1].gateway_message_id, "SM0123456789abcdef");
  EXPECT_EQ(store_.reports[1].message_ref, "msg-42");
  ASSERT_EQ(store_.inbound.size(), 2u);
  EXPECT_EQ(store_.inbound[1].gateway_message_id, "SMin0123456789");
}

TEST_F(SignaturesTest, KannelCallbacks) {
  const auto api = Api("kannel");
  const std::string dlr = "/api/v1/gateway/kannel/status?secret=" + std::string(kKannelSecret) +
                          "&ref=msg-42&type=1&ts=1795600000";
  const std::string mo = "/api/v1/gateway/kannel/inbound?secret=" + std::string(kKannelSecret) +
                         "&from=%2B447700900123&to=60001&text=8&id=0f8fad5b-d9cb-469f";
  for (const std::string& target : {dlr, mo}) {
    http::Request genuine = Post(target, "");
    genuine.method = "GET";
    // Every byte of the secret, one at a time; none, or empty.
    const std::string secret = kKannelSecret;
    const auto at = target.find(secret);
    for (std::size_t i = 0; i < secret.size(); ++i) {
      http::Request changed = genuine;
      changed.target = target.substr(0, at) + Flip(secret, i) + target.substr(at + secret.size());
      changed.query = changed.target.substr(changed.target.find('?') + 1);
      EXPECT_EQ(api(changed).status, 401) << i;
    }
    http::Request cut = genuine;  // the secret's last byte gone
    const auto amp = genuine.query.find('&');
    cut.query = genuine.query.substr(0, amp - 1) + genuine.query.substr(amp);
    EXPECT_EQ(api(cut).status, 401);
    http::Request empty = genuine;
    empty.query = "secret=&" + genuine.query.substr(genuine.query.find('&') + 1);
    EXPECT_EQ(api(empty).status, 401);
    http::Request none = genuine;
    none.query = genuine.query.substr(genuine.query.find('&') + 1);
    EXPECT_EQ(api(none).status, 401);
    EXPECT_EQ(store_.Reached(), 0u);
  }
  // The secret is the same on every request: a replay is the same report (our ref, Kannel's
  // own time) or the same text (Kannel's id), read once by the store.
  for (int i = 0; i < 2; ++i) {
    for (const std::string& target : {dlr, mo}) {
      http::Request request = Post(target, "");
      request.method = "GET";
      EXPECT_EQ(api(request).status, 200);
    }
    clock_.Advance(std::chrono::hours(1));
  }
  ASSERT_EQ(store_.reports.size(), 2u);
  EXPECT_EQ(store_.reports[1].message_ref, "msg-42");
  EXPECT_EQ(store_.reports[1].at, store_.reports[0].at);
  ASSERT_EQ(store_.inbound.size(), 2u);
  EXPECT_EQ(store_.inbound[1].gateway_message_id, "0f8fad5b-d9cb-469f");
}

TEST_F(SignaturesTest, ATextWithoutTheGatewaysIdAnswersTheOpenConversation) {
  // Kannel's get-url as operators have it, without &id=%I: the text answers the conversation
  // the store finds open for the number, as one with Kannel's id does.
  const auto api = Api("kannel");
  const std::string base = "/api/v1/gateway/kannel/inbound?secret=" + std::string(kKannelSecret) +
                           "&from=%2B447700900123&to=60001&text=8";
  for (const std::string& target : {base + "&id=k-1", base}) {
    http::Request request = Post(target, "");
    request.method = "GET";
    EXPECT_EQ(api(request).status, 200);
  }
  ASSERT_EQ(store_.plans.size(), 2u);
  for (const auto& plan : store_.plans) {
    EXPECT_EQ(plan.disposition, "answer");
    EXPECT_EQ(plan.score, 8);
  }
  EXPECT_EQ(store_.inbound[1].gateway_message_id, "");
}

}  // namespace
}  // namespace surveyd::api
