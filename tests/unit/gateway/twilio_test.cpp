#include "surveyd/gateway/twilio.hpp"

#include <gtest/gtest.h>

#include "fakes/callback_server.hpp"
#include "sim/twilio_api.hpp"
#include "surveyd/core/crypto.hpp"

namespace surveyd::gateway {
namespace {

using testing::CallbackReceiver;
using testing::RecordingServer;

constexpr char kSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kToken[] = "twilio-auth-token-0123456789";

// Twilio's documentation example (and twilio-python's test): the same vector for both the
// adapter's check and the fake's signing, which are written separately.
TEST(TwilioSignature, MatchesTwilioDocumentedExample) {
  const std::vector<std::pair<std::string, std::string>> params = {{"CallSid", "CA1234567890ABCDE"},
                                                                   {"Caller", "+12349013030"},
                                                                   {"Digits", "1234"},
                                                                   {"From", "+12349013030"},
                                                                   {"To", "+18005551212"}};
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  EXPECT_EQ(TwilioSignature("12345", url, params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
  EXPECT_EQ(sim::SignLikeTwilio("12345", url, params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
  // Order of the parameters as posted does not matter; their sorted order does.
  auto reversed = params;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(TwilioSignature("12345", url, reversed), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

class TwilioGatewayTest : public ::testing::Test {
 protected:
  void StartFake(sim::TwilioApiOptions options) {
    options.account_sid = kSid;
    options.auth_token = kToken;
    fake_ = std::make_unique<sim::TwilioApi>(options);
    server_ = std::make_unique<RecordingServer>(
        [this](const http::Request& request) { return fake_->Handle(request); });
  }
  void SetUp() override {
    StartFake({});
    adapter_ = MakeTwilioGateway(Options());
    receiver_.Use(adapter_.get());
  }
  void TearDown() override { receiver_.Use(nullptr); }

  TwilioOptions Options() const {
    TwilioOptions options;
    options.base_url = server_->BaseUrl() + "/";
    options.account_sid = kSid;
    options.auth_token = kToken;
    options.from = "+447700900001";
    options.public_base_url = receiver_.BaseUrl();
    options.timeout = std::chrono::milliseconds(3000);
    return options;
  }

  static OutgoingSms Sms(std::string to = "+447700900123") {
    return {.client_ref = "msg-42", .to_e164 = std::move(to), .body = "How did we do? https://s/x"};
  }

  TimePoint now_ = *ParseRfc3339("2026-11-26T10:00:00Z");
  CallbackReceiver receiver_{[this] { return now_; }};
  std::unique_ptr<sim::TwilioApi> fake_;
  std::unique_ptr<RecordingServer> server_;
  std::unique_ptr<Gateway> adapter_;  // configured like the service: reads the callbacks
};

TEST_F(TwilioGatewayTest, PostsAFormWithBasicAuthAndAStatusCallbackCarryingTheRef) {
  const SendResult result = MakeTwilioGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAccepted) << result.error;
  EXPECT_EQ(result.http_status, 201);
  EXPECT_EQ(result.message_id.substr(0, 2), "SM");
  EXPECT_EQ(result.message_id.size(), 34u);

  const auto requests = server_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, std::string("/2010-04-01/Accounts/") + kSid + "/Messages.json");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/x-www-form-urlencoded");
  const auto messages = fake_->Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].sid, result.message_id);
  EXPECT_EQ(messages[0].to, "+447700900123");
  EXPECT_EQ(messages[0].from, "+447700900001");
  EXPECT_EQ(messages[0].body, "How did we do? https://s/x");
  EXPECT_EQ(messages[0].status_callback,
            receiver_.BaseUrl() + "/api/v1/gateway/twilio/status?ref=msg-42");
}

TEST_F(TwilioGatewayTest, AMessagingServiceIsSentAsOneNotAsTheSender) {
  auto options = Options();
  options.from = "MG" + std::string(32, 'a');
  EXPECT_EQ(MakeTwilioGateway(options)->Send(Sms()).status, SendStatus::kAccepted);
  const auto messages = fake_->Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].messaging_service_sid, options.from);
  EXPECT_EQ(messages[0].from, "");
  EXPECT_FALSE(IsMessagingServiceSid("MG123")) << "too short: a sender id";
}

TEST_F(TwilioGatewayTest, WrongCredentialsAreAuth) {
  TwilioOptions options = Options();
  options.auth_token = "not-the-token";
  const SendResult result = MakeTwilioGateway(options)->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAuth);
  EXPECT_EQ(result.http_status, 401);
  EXPECT_TRUE(fake_->Messages().empty());
}

TEST_F(TwilioGatewayTest, RefusedParametersArePermanentWithTwiliosCodeAndNoNumber) {
  SendResult result = MakeTwilioGateway(Options())->Send(Sms("+44770090012345678"));
  EXPECT_EQ(result.status, SendStatus::kPermanent);
  EXPECT_EQ(result.error, "twilio_21211");
  result = MakeTwilioGateway(Options())->Send(Sms("07700 900123"));
  EXPECT_EQ(result.status, SendStatus::kPermanent);
  EXPECT_EQ(result.error, "twilio_21211");
  OutgoingSms empty = Sms();
  empty.body.clear();
  result = MakeTwilioGateway(Options())->Send(empty);
  EXPECT_EQ(result.status, SendStatus::kPermanent);
  EXPECT_EQ(result.error, "twilio_21602");
  TwilioOptions no_from = Options();
  no_from.from.clear();
  EXPECT_EQ(MakeTwilioGateway(no_from)->Send(Sms()).error, "twilio_21603");
  EXPECT_TRUE(fake_->Messages().empty());
}

TEST_F(TwilioGatewayTest, ServiceUnavailableIsTransientAndThrottlingIsThrottled) {
  StartFake({.fail_rate = 1.0});
  SendResult result = MakeTwilioGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kTransient);
  EXPECT_EQ(result.http_status, 503);

  StartFake({.throttle_rate = 1.0});
  result = MakeTwilioGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kThrottled);
  EXPECT_EQ(result.http_status, 429);
  EXPECT_TRUE(fake_->Messages().empty());
}

// A compatible API that answers 200 or 202 took the message as Twilio's 201 says: sending it
// again would text twice.
TEST_F(TwilioGatewayTest, AnyTwoHundredIsAccepted) {
  for (int status : {200, 202, 204}) {
    const std::string body = status == 204 ? "" : R"({"sid":"SM0123","status":"queued"})";
    server_ = std::make_unique<RecordingServer>(
        [&](const http::Request&) { return http::Response::Json(status, body); });
    const SendResult result = MakeTwilioGateway(Options())->Send(Sms());
    EXPECT_EQ(result.status, SendStatus::kAccepted) << status;
    EXPECT_EQ(result.message_id, status == 204 ? "" : "SM0123") << status;
  }
}

// Twilio created the message, then answered 500: only its StatusCallback can tell.
TEST_F(TwilioGatewayTest, AServerErrorAfterCreationIsInDoubt) {
  StartFake({.error_rate = 1.0});
  auto gateway = MakeTwilioGateway(Options());
  const SendResult result = gateway->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kInDoubt);
  EXPECT_EQ(result.http_status, 500);
  EXPECT_EQ(fake_->Messages().size(), 1u) << "the message exists: resending would text twice";
  EXPECT_FALSE(gateway->Idempotent());
}

TEST_F(TwilioGatewayTest, ATimeoutAfterSendingIsInDoubt) {
  StartFake({.hang_rate = 1.0, .hang = std::chrono::milliseconds(600)});
  TwilioOptions options = Options();
  options.timeout = std::chrono::milliseconds(200);
  EXPECT_EQ(MakeTwilioGateway(options)->Send(Sms()).status, SendStatus::kInDoubt);
}

TEST_F(TwilioGatewayTest, AMissingAccountIsAConfigurationError) {
  TwilioOptions options = Options();
  options.base_url = server_->BaseUrl() + "/nowhere";
  const SendResult result = MakeTwilioGateway(options)->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAuth) << SendStatusName(result.status);
}

// ---- Callbacks from the fake to a receiver running the adapter ------------------------------

class TwilioCallbackTest : public TwilioGatewayTest {
 protected:
  sim::TwilioMessage SentMessage() {
    const SendResult result = adapter_->Send(Sms());
    EXPECT_EQ(result.status, SendStatus::kAccepted) << result.error;
    return fake_->Messages().back();
  }
};

TEST_F(TwilioCallbackTest, StatusCallbacksBecomeReportsWithTheSidAndTheRef) {
  const auto message = SentMessage();
  ASSERT_EQ(fake_->PostStatus(message, "sent").status, 200);
  ASSERT_EQ(fake_->PostStatus(message, "delivered").status, 200);
  ASSERT_EQ(fake_->PostStatus(message, "undelivered", "30003").status, 200);
  const auto callbacks = receiver_.Callbacks();
  ASSERT_EQ(callbacks.size(), 3u);
  const DeliveryState expected[] = {DeliveryState::kSent, DeliveryState::kDelivered,
                                    DeliveryState::kUndeliverable};
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(callbacks[i].verdict, CallbackVerdict::kOk) << callbacks[i].problem;
    ASSERT_TRUE(callbacks[i].report.has_value());
    EXPECT_EQ(callbacks[i].report->gateway, "twilio");
    EXPECT_EQ(callbacks[i].report->gateway_message_id, message.sid);
    EXPECT_EQ(callbacks[i].report->message_ref, "msg-42");
    EXPECT_EQ(callbacks[i].report->state, expected[i]);
    EXPECT_EQ(callbacks[i].report->at, now_);
  }
  EXPECT_EQ(callbacks[2].report->error_code, "twilio_30003");
}

TEST_F(TwilioCallbackTest, StatusWordsMapToDeliveryStates) {
  const auto message = SentMessage();
  const std::pair<const char*, std::optional<DeliveryState>> cases[] = {
      {"queued", DeliveryState::kAccepted},           {"accepted", DeliveryState::kAccepted},
      {"sending", DeliveryState::kAccepted},          {"sent", DeliveryState::kSent},
      {"delivered", DeliveryState::kDelivered},       {"read", DeliveryState::kDelivered},
      {"undelivered", DeliveryState::kUndeliverable}, {"failed", DeliveryState::kFailed},
      {"canceled", DeliveryState::kFailed},           {"partially_delivered", std::nullopt}};
  for (const auto& [status, state] : cases) {
    ASSERT_EQ(fake_->PostStatus(message, status).status, 200) << status;
    const Callback last = receiver_.Callbacks().back();
    if (state) {
      ASSERT_EQ(last.verdict, CallbackVerdict::kOk) << status;
      EXPECT_EQ(last.report->state, *state) << status;
    } else {
      EXPECT_EQ(last.verdict, CallbackVerdict::kIgnored) << status;
      EXPECT_FALSE(last.report.has_value());
    }
  }
}

TEST_F(TwilioCallbackTest, BadSignaturesAre401AndChangeNothing) {
  auto message = SentMessage();
  // Signed with another token.
  sim::TwilioApiOptions other;
  other.account_sid = kSid;
  other.auth_token = "someone-elses-token";
  sim::TwilioApi impostor(other);
  EXPECT_EQ(impostor.PostStatus(message, "delivered").status, 401);

  // Tampered after signing: the URL's ref changed.
  const std::string url = message.status_callback;
  const sim::FormParams params = {
      {"MessageSid", message.sid}, {"MessageStatus", "delivered"}, {"AccountSid", kSid}};
  std::string body = "MessageSid=" + message.sid + "&MessageStatus=delivered&AccountSid=" + kSid;
  http::ClientRequest request;
  request.method = "POST";
  request.url = receiver_.BaseUrl() + "/api/v1/gateway/twilio/status?ref=msg-43";
  request.body = body;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"X-Twilio-Signature", sim::SignLikeTwilio(kToken, url, params)}};
  EXPECT_EQ(http::Fetch(request).status, 401);
  // Tampered: the status changed.
  request.url = url;
  request.body = "MessageSid=" + message.sid + "&MessageStatus=failed&AccountSid=" + kSid;
  EXPECT_EQ(http::Fetch(request).status, 401);
  // The untampered one passes, so the two above failed for the right reason.
  request.body = body;
  EXPECT_EQ(http::Fetch(request).status, 200);
  // No signature at all.
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  EXPECT_EQ(http::Fetch(request).status, 401);

  const auto callbacks = receiver_.Callbacks();
  ASSERT_EQ(callbacks.size(), 5u);
  for (std::size_t i : {0u, 1u, 2u, 4u}) {
    EXPECT_EQ(callbacks[i].verdict, CallbackVerdict::kUnauthorized) << i;
    EXPECT_FALSE(callbacks[i].report.has_value()) << i;
  }
  EXPECT_EQ(callbacks[3].verdict, CallbackVerdict::kOk);
}

TEST_F(TwilioCallbackTest, AnotherAccountsCallbackIsRefused) {
  auto message = SentMessage();
  sim::TwilioApiOptions other;
  other.account_sid = "AC99999999999999999999999999999999";
  other.auth_token = kToken;  // same token, another account: not ours
  EXPECT_EQ(sim::TwilioApi(other).PostStatus(message, "delivered").status, 401);
}

TEST_F(TwilioCallbackTest, SignaturesCoverThePublicUrlTwilioCalled) {
  TwilioOptions options = Options();
  options.public_base_url = "https://survey.example";
  auto elsewhere = MakeTwilioGateway(options);
  http::Request request;
  request.method = "POST";
  request.target = "/api/v1/gateway/twilio/status?ref=r";
  request.path = "/api/v1/gateway/twilio/status";
  request.query = "ref=r";
  request.body = "MessageSid=SM1&MessageStatus=sent";
  request.headers = {{"X-Twilio-Signature",
                      sim::SignLikeTwilio(kToken, "https://survey.example" + request.target,
                                          {{"MessageSid", "SM1"}, {"MessageStatus", "sent"}})}};
  EXPECT_TRUE(elsewhere->VerifyCallback(CallbackKind::kStatus, request, now_));
  request.headers = {{"X-Twilio-Signature",
                      sim::SignLikeTwilio(kToken, "http://survey.example" + request.target,
                                          {{"MessageSid", "SM1"}, {"MessageStatus", "sent"}})}};
  EXPECT_FALSE(elsewhere->VerifyCallback(CallbackKind::kStatus, request, now_));
}

TEST_F(TwilioCallbackTest, InboundMessagesAreReadAndAnsweredWithEmptyTwiml) {
  const auto response = fake_->PostInbound(receiver_.BaseUrl() + "/api/v1/gateway/twilio/inbound",
                                           "+447700900123", "+447700900001", "Stop please");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("Content-Type").substr(0, 8), "text/xml");
  EXPECT_EQ(response.body, R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)");
  const auto callbacks = receiver_.Callbacks();
  ASSERT_EQ(callbacks.size(), 1u);
  ASSERT_EQ(callbacks[0].verdict, CallbackVerdict::kOk) << callbacks[0].problem;
  ASSERT_TRUE(callbacks[0].inbound.has_value());
  EXPECT_EQ(callbacks[0].inbound->gateway, "twilio");
  EXPECT_EQ(callbacks[0].inbound->gateway_message_id.substr(0, 2), "SM");
  EXPECT_EQ(callbacks[0].inbound->from_e164, "+447700900123");
  EXPECT_EQ(callbacks[0].inbound->to, "+447700900001");
  EXPECT_EQ(callbacks[0].inbound->body, "Stop please");
  EXPECT_EQ(callbacks[0].inbound->received_at, now_);
}

TEST_F(TwilioCallbackTest, RefusalsAreJsonAndStatusAnswersAreEmpty) {
  EXPECT_EQ(adapter_->CallbackAnswer(CallbackKind::kStatus, CallbackVerdict::kOk, "").status, 200);
  EXPECT_EQ(adapter_->CallbackAnswer(CallbackKind::kStatus, CallbackVerdict::kOk, "").body, "");
  EXPECT_EQ(
      adapter_->CallbackAnswer(CallbackKind::kInbound, CallbackVerdict::kUnauthorized, "x").status,
      401);
  EXPECT_EQ(
      adapter_->CallbackAnswer(CallbackKind::kStatus, CallbackVerdict::kMalformed, "x").status,
      400);
}

}  // namespace
}  // namespace surveyd::gateway
