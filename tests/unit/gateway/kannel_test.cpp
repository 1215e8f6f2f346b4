#include "surveyd/gateway/kannel.hpp"

#include <gtest/gtest.h>

#include <map>

#include "fakes/callback_server.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::gateway {
namespace {

using testing::RecordingServer;

constexpr char kSecret[] = "kannel-secret-0123456789";

std::map<std::string, std::string> Query(const std::string& query) {
  std::map<std::string, std::string> out;
  for (auto& [name, value] : http::ParseForm(query)) out[name] = value;
  return out;
}

// Kannel's sendsms interface is played by a loopback server answering with smsbox's own words
// (gw/smsbox.c); tests/kannel/ runs the real thing.
class KannelGatewayTest : public ::testing::Test {
 protected:
  KannelOptions Options() const {
    KannelOptions options;
    options.sendsms_url = smsbox_.BaseUrl() + "/cgi-bin/sendsms";
    options.username = "surveyd";
    options.password = "p&ss word";
    options.sender = "WMPolice";
    options.webhook_secret = kSecret;
    options.public_base_url = "https://survey.example/";
    options.timeout = std::chrono::milliseconds(3000);
    return options;
  }

  static OutgoingSms Sms(std::string body = "How did we do? https://s.example/s/x") {
    return {.client_ref = "msg-42", .to_e164 = "+447700900123", .body = std::move(body)};
  }

  SendResult SendWithAnswer(int status, const std::string& body) {
    smsbox_.Reply(status, body);
    return MakeKannelGateway(Options())->Send(Sms());
  }

  RecordingServer smsbox_;
};

TEST_F(KannelGatewayTest, SendsOneGetWithTheMessageAndADlrUrlCarryingTheSecretAndRef) {
  smsbox_.Reply(202, "0: Accepted for delivery");
  const SendResult result = MakeKannelGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAccepted) << result.error;
  EXPECT_EQ(result.http_status, 202);
  EXPECT_EQ(result.message_id, "") << "Kannel gives no id: the ref in the dlr-url is the key";

  const auto requests = smsbox_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/cgi-bin/sendsms");
  auto query = Query(requests[0].query);
  EXPECT_EQ(query["username"], "surveyd");
  EXPECT_EQ(query["password"], "p&ss word");
  EXPECT_EQ(query["from"], "WMPolice");
  EXPECT_EQ(query["to"], "+447700900123");
  EXPECT_EQ(query["text"], "How did we do? https://s.example/s/x");
  EXPECT_EQ(query["charset"], "UTF-8");
  EXPECT_EQ(query.count("coding"), 0u) << "GSM-7 text goes with Kannel's default coding";
  EXPECT_EQ(query["dlr-mask"], "31");
  EXPECT_EQ(query["dlr-url"],
            "https://survey.example/api/v1/gateway/kannel/status?secret=kannel-secret-0123456789"
            "&ref=msg-42&type=%d&ts=%T");
  EXPECT_EQ(query.count("smsc"), 0u);
}

TEST_F(KannelGatewayTest, TextOutsideGsm7GoesAsUcs2) {
  smsbox_.Reply(202, "0: Accepted for delivery");
  MakeKannelGateway(Options())->Send(Sms("Dziękujemy! Jak nam poszło?"));
  ASSERT_EQ(smsbox_.Requests().size(), 1u);
  auto query = Query(smsbox_.Requests()[0].query);
  EXPECT_EQ(query["text"], "Dziękujemy! Jak nam poszło?");
  EXPECT_EQ(query["charset"], "UTF-8");
  EXPECT_EQ(query["coding"], "2");
}

TEST_F(KannelGatewayTest, RoutesThroughTheConfiguredSmsc) {
  smsbox_.Reply(202, "0: Accepted for delivery");
  KannelOptions options = Options();
  options.smsc = "vodafone";
  options.sendsms_url += "?account=force";  // an operator's own parameters are kept
  MakeKannelGateway(options)->Send(Sms());
  auto query = Query(smsbox_.Requests().at(0).query);
  EXPECT_EQ(query["smsc"], "vodafone");
  EXPECT_EQ(query["account"], "force");
}

TEST_F(KannelGatewayTest, MapsSmsboxAnswers) {
  struct Case {
    int status;
    const char* body;
    SendStatus expected;
  };
  const Case cases[] = {
      {202, "0: Accepted for delivery", SendStatus::kAccepted},
      {202, "3: Queued for later delivery", SendStatus::kAccepted},
      {202, "Sent.", SendStatus::kAccepted},  // immediate-sendsms-reply = true
      {200, "<html>proxy says hi</html>", SendStatus::kInDoubt},
      {403, "Authorization failed for sendsms", SendStatus::kAuth},
      {401, "", SendStatus::kAuth},
      {403, "Not routable. Do not try again.", SendStatus::kPermanent},
      {400, "Number(s) has/have been denied by white- and/or black-lists.", SendStatus::kPermanent},
      {400, "Charset or body misformed, rejected", SendStatus::kPermanent},
      {503, "Temporal failure, try again later.", SendStatus::kTransient},
      {500, "Sending failed.", SendStatus::kInDoubt},
      {502, "Bad gateway", SendStatus::kInDoubt},
      {429, "", SendStatus::kThrottled},
      {404, "Not found", SendStatus::kTransient},
  };
  for (const Case& c : cases) {
    const SendResult result = SendWithAnswer(c.status, c.body);
    EXPECT_EQ(result.status, c.expected)
        << c.status << " " << c.body << ": " << SendStatusName(result.status);
    EXPECT_EQ(result.http_status, c.status);
    EXPECT_EQ(result.error.find("7700"), std::string::npos) << result.error;
  }
}

TEST_F(KannelGatewayTest, ATimeoutAfterSendingIsInDoubtAndNeverRetriedAsTransient) {
  smsbox_.HoldAnswers();
  KannelOptions options = Options();
  options.timeout = std::chrono::milliseconds(200);
  const SendResult result = MakeKannelGateway(options)->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kInDoubt);
  EXPECT_EQ(result.http_status, 0);
}

TEST(KannelGatewayTransportTest, ARefusedConnectionIsTransientAndTheAdapterIsNotIdempotent) {
  KannelOptions options;
  options.sendsms_url = "http://127.0.0.1:1/cgi-bin/sendsms";
  auto gateway = MakeKannelGateway(options);
  EXPECT_EQ(gateway->Send({.client_ref = "r", .to_e164 = "+447700900123", .body = "b"}).status,
            SendStatus::kTransient);
  EXPECT_FALSE(gateway->Idempotent());
  EXPECT_EQ(gateway->Name(), "kannel");
}

// ---- Callbacks, as smsbox makes them -------------------------------------------------------

class KannelCallbackTest : public ::testing::Test {
 protected:
  KannelCallbackTest() {
    KannelOptions options;
    options.webhook_secret = kSecret;
    options.public_base_url = "http://127.0.0.1:8080";
    gateway_ = MakeKannelGateway(options);
  }

  static http::Request Get(const std::string& path, const std::string& query) {
    http::Request request;
    request.method = "GET";
    request.path = path;
    request.query = query;
    request.target = path + "?" + query;
    return request;
  }

  Callback Report(const std::string& query) const {
    return gateway_->ParseCallback(CallbackKind::kStatus,
                                   Get("/api/v1/gateway/kannel/status", query), now_);
  }
  Callback Inbound(const std::string& query) const {
    return gateway_->ParseCallback(CallbackKind::kInbound,
                                   Get("/api/v1/gateway/kannel/inbound", query), now_);
  }

  TimePoint now_ = *ParseRfc3339("2026-11-26T10:00:00Z");
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(KannelCallbackTest, DlrTypesBecomeDeliveryStates) {
  struct Case {
    int type;
    DeliveryState state;
    const char* error_code;
  };
  const Case cases[] = {{1, DeliveryState::kDelivered, ""},
                        {2, DeliveryState::kUndeliverable, "delivery_failed"},
                        {4, DeliveryState::kSent, ""},
                        {8, DeliveryState::kSent, ""},
                        {16, DeliveryState::kFailed, "smsc_rejected"}};
  for (const Case& c : cases) {
    const Callback callback =
        Report(std::string("secret=") + kSecret + "&ref=msg-42&type=" + std::to_string(c.type) +
               "&ts=1795600000");
    ASSERT_EQ(callback.verdict, CallbackVerdict::kOk) << c.type << ": " << callback.problem;
    ASSERT_TRUE(callback.report.has_value());
    EXPECT_EQ(callback.report->gateway, "kannel");
    EXPECT_EQ(callback.report->message_ref, "msg-42");
    EXPECT_EQ(callback.report->gateway_message_id, "");
    EXPECT_EQ(callback.report->state, c.state) << c.type;
    EXPECT_EQ(callback.report->error_code, c.error_code);
    EXPECT_EQ(callback.report->at, FromUnixSeconds(1795600000));
    EXPECT_FALSE(callback.inbound.has_value());
  }
}

TEST_F(KannelCallbackTest, UntrackedTypesAreAcknowledgedAndIgnored) {
  const Callback callback = Report(std::string("secret=") + kSecret + "&ref=msg-42&type=32");
  EXPECT_EQ(callback.verdict, CallbackVerdict::kIgnored);
  EXPECT_FALSE(callback.report.has_value());
  EXPECT_EQ(gateway_->CallbackAnswer(CallbackKind::kStatus, callback.verdict, "").status, 200);
}

TEST_F(KannelCallbackTest, AMissingTimestampMeansNow) {
  const Callback callback = Report(std::string("secret=") + kSecret + "&ref=msg-42&type=1&ts=");
  ASSERT_TRUE(callback.report.has_value());
  EXPECT_EQ(callback.report->at, now_);
}

TEST_F(KannelCallbackTest, ATimestampFarFromNowMeansNow) {
  // The last one once overflowed the time type (found by fuzz_gateway_callback).
  for (const char* ts :
       {"0", "-5", "1", "1795600000000", "17956000000000", "9223372036854775807"}) {
    const Callback callback =
        Report(std::string("secret=") + kSecret + "&ref=msg-42&type=1&ts=" + ts);
    ASSERT_TRUE(callback.report.has_value()) << ts;
    EXPECT_EQ(callback.report->at, now_) << ts;
  }
  const Callback late = Report(std::string("secret=") + kSecret + "&ref=msg-42&type=1&ts=" +
                               std::to_string(ToUnixSeconds(now_) - 3 * 24 * 3600));
  EXPECT_EQ(late.report->at, now_ - std::chrono::hours(72));
}

TEST_F(KannelCallbackTest, RefusesAMissingOrWrongSecretBeforeReadingAnything) {
  for (const std::string& query : std::vector<std::string>{
           "ref=msg-42&type=1", "secret=&ref=msg-42&type=1", "secret=guess&ref=msg-42&type=1",
           std::string("secret=") + kSecret + "x&ref=msg-42&type=1",
           std::string("Secret=") + kSecret + "&ref=msg-42&type=1"}) {
    EXPECT_EQ(Report(query).verdict, CallbackVerdict::kUnauthorized) << query;
    EXPECT_FALSE(Report(query).report.has_value());
    EXPECT_EQ(Inbound(query + "&from=%2B447700900123&text=STOP").verdict,
              CallbackVerdict::kUnauthorized);
  }
  // An adapter without a secret takes no callbacks at all, not even ones with an empty secret.
  KannelOptions options;
  auto unconfigured = MakeKannelGateway(options);
  EXPECT_FALSE(unconfigured->VerifyCallback(
      CallbackKind::kStatus, Get("/api/v1/gateway/kannel/status", "secret=&ref=r&type=1"), now_));
}

TEST_F(KannelCallbackTest, RefusesReportsItCannotRead) {
  EXPECT_EQ(Report(std::string("secret=") + kSecret + "&type=1").verdict,
            CallbackVerdict::kMalformed);
  EXPECT_EQ(Report(std::string("secret=") + kSecret + "&ref=msg-42&type=%d").verdict,
            CallbackVerdict::kMalformed)
      << "a dlr-url Kannel did not fill in";
  EXPECT_EQ(Report(std::string("secret=") + kSecret + "&ref=msg-42").verdict,
            CallbackVerdict::kMalformed);
}

TEST_F(KannelCallbackTest, InboundFromTheSmsServiceGetUrl) {
  // get-url = ".../inbound?secret=S&from=%p&to=%P&text=%a": %a joins the words with '+'.
  const Callback callback = Inbound(std::string("secret=") + kSecret +
                                    "&from=%2B447700900123&to=60001&text=Stop+please%21");
  ASSERT_EQ(callback.verdict, CallbackVerdict::kOk) << callback.problem;
  ASSERT_TRUE(callback.inbound.has_value());
  EXPECT_EQ(callback.inbound->gateway, "kannel");
  EXPECT_EQ(callback.inbound->from_e164, "+447700900123");
  EXPECT_EQ(callback.inbound->to, "60001");
  EXPECT_EQ(callback.inbound->body, "Stop please!");
  EXPECT_EQ(callback.inbound->received_at, now_);
  EXPECT_EQ(callback.inbound->gateway_message_id, "");

  // Numbers as an SMSC gives them, an id when the get-url adds &id=%I, and bytes that are not
  // UTF-8 kept (replaced), never dropped.
  const Callback national = Inbound(std::string("secret=") + kSecret +
                                    "&from=07700900123&text=Dzi%C4%99kuj%C4%99+%FF&id=abc-1");
  ASSERT_TRUE(national.inbound.has_value());
  EXPECT_EQ(national.inbound->from_e164, "+447700900123");
  EXPECT_EQ(national.inbound->body, "Dziękuję \xEF\xBF\xBD");
  EXPECT_EQ(national.inbound->gateway_message_id, "abc-1");

  const Callback alphanumeric =
      Inbound(std::string("secret=") + kSecret + "&from=NOTANUMBER&text=hi");
  ASSERT_TRUE(alphanumeric.inbound.has_value());
  EXPECT_EQ(alphanumeric.inbound->from_e164, "") << "kept and counted, but opts nobody out";

  EXPECT_EQ(Inbound(std::string("secret=") + kSecret + "&text=hi").verdict,
            CallbackVerdict::kMalformed);
}

// &ts=%T on the get-url: Kannel's time of the text, the same on each delivery of it, by which a
// second delivery without an id is known. None when absent or garbled.
TEST_F(KannelCallbackTest, InboundCarriesKannelsTimeOfTheText) {
  const std::string base =
      std::string("secret=") + kSecret + "&from=%2B447700900123&to=60001&text=8";
  const Callback timed = Inbound(base + "&ts=" + std::to_string(ToUnixSeconds(now_) - 90));
  ASSERT_TRUE(timed.inbound.has_value());
  EXPECT_EQ(timed.inbound->gateway_time, now_ - std::chrono::seconds(90));
  EXPECT_EQ(timed.inbound->received_at, now_);
  for (const char* ts : {"", "&ts=", "&ts=%T", "&ts=0", "&ts=99999999999999999999"}) {
    const Callback callback = Inbound(base + ts);
    ASSERT_TRUE(callback.inbound.has_value()) << ts;
    EXPECT_FALSE(callback.inbound->gateway_time.has_value()) << ts;
  }
}

TEST_F(KannelCallbackTest, AnswersWithEmptyBodiesSoSmsboxTextsNothingBack) {
  for (auto kind : {CallbackKind::kStatus, CallbackKind::kInbound}) {
    const auto ok = gateway_->CallbackAnswer(kind, CallbackVerdict::kOk, "");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "");
    const auto refused = gateway_->CallbackAnswer(kind, CallbackVerdict::kUnauthorized, "x");
    EXPECT_EQ(refused.status, 401);
    EXPECT_EQ(refused.body, "");
    const auto malformed = gateway_->CallbackAnswer(kind, CallbackVerdict::kMalformed, "x");
    EXPECT_EQ(malformed.status, 400);
    EXPECT_EQ(malformed.body, "");
  }
}

// The dlr-url a send carries, filled in as smsbox fills it, reads back as the right report.
TEST_F(KannelGatewayTest, TheDlrUrlItSendsReadsBack) {
  smsbox_.Reply(202, "0: Accepted for delivery");
  auto gateway = MakeKannelGateway(Options());
  gateway->Send(Sms());
  std::string dlr_url = Query(smsbox_.Requests().at(0).query)["dlr-url"];
  dlr_url.replace(dlr_url.find("%d"), 2, "1");
  dlr_url.replace(dlr_url.find("%T"), 2, "1795600000");
  const std::string target = dlr_url.substr(std::string("https://survey.example").size());
  http::Request request;
  request.method = "GET";
  request.target = target;
  request.path = target.substr(0, target.find('?'));
  request.query = target.substr(target.find('?') + 1);
  EXPECT_EQ(request.path, CallbackPath("kannel", CallbackKind::kStatus));
  const Callback callback =
      gateway->ParseCallback(CallbackKind::kStatus, request, FromUnixSeconds(1795600100));
  ASSERT_EQ(callback.verdict, CallbackVerdict::kOk) << callback.problem;
  EXPECT_EQ(callback.report->message_ref, "msg-42");
  EXPECT_EQ(callback.report->state, DeliveryState::kDelivered);
}

TEST(KannelSecret, UrlSafeCharactersOnly) {
  EXPECT_TRUE(IsUrlSafeSecret("abcXYZ019-._~"));
  EXPECT_FALSE(IsUrlSafeSecret(""));
  EXPECT_FALSE(IsUrlSafeSecret("a%db"));
  EXPECT_FALSE(IsUrlSafeSecret("a&b"));
  EXPECT_FALSE(IsUrlSafeSecret("a b"));
}

}  // namespace
}  // namespace surveyd::gateway
