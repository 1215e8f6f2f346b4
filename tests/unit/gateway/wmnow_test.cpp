#include "surveyd/gateway/wmnow.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <future>
#include <mutex>

#include "surveyd/core/crypto.hpp"
#include "surveyd/core/utf8.hpp"
#include "surveyd/http/server.hpp"

namespace surveyd::gateway {
namespace {

// A stand-in WMNow: answers whatever the test scripted and remembers the request it got.
class WmnowGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::ServerOptions options;
    options.port = 0;
    server_ = http::MakeServer(options, [this](const http::Request& request) {
      std::unique_lock lock(mutex_);
      seen_.push_back(request);
      const http::Response reply = reply_;
      const bool slow = slow_;
      lock.unlock();
      if (slow) release_future_.wait_for(std::chrono::seconds(10));
      return reply;
    });
    server_->Start();
  }

  void TearDown() override {
    release_.set_value();
    server_->Stop();
  }

  WmnowOptions Options() const {
    WmnowOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(server_->Port());
    options.api_key = "test-key";
    options.sender = "WMPolice";
    options.status_callback = "http://127.0.0.1:1/api/v1/gateway/wmnow/status";
    options.timeout = std::chrono::milliseconds(3000);
    return options;
  }

  static OutgoingSms Sms() {
    return {.client_ref = "msg-42", .to_e164 = "+447700900123", .body = "Survey: https://s/x"};
  }

  void Reply(int status, std::string body, http::Headers extra = {}) {
    std::lock_guard lock(mutex_);
    reply_ = http::Response::Json(status, std::move(body));
    for (auto& [name, value] : extra) reply_.Set(name, value);
  }

  std::vector<http::Request> Seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  std::unique_ptr<http::Server> server_;
  http::Response reply_;
  bool slow_ = false;
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
  std::mutex mutex_;
  std::vector<http::Request> seen_;
};

TEST_F(WmnowGatewayTest, PostsTheMessageAndRecordsTheMessageIdOn201) {
  Reply(201, R"({"message_id":"m-123","status":"queued"})");
  auto gateway = MakeWmnowGateway(Options());
  const SendResult result = gateway->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAccepted);
  EXPECT_EQ(result.message_id, "m-123");
  EXPECT_EQ(result.http_status, 201);

  const auto seen = Seen();
  ASSERT_EQ(seen.size(), 1u);
  const http::Request& request = seen[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/messages");
  EXPECT_EQ(request.Header("Authorization"), "Bearer test-key");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  const auto json = nlohmann::json::parse(request.body);
  EXPECT_EQ(json.at("to"), "+447700900123");
  EXPECT_EQ(json.at("body"), "Survey: https://s/x");
  EXPECT_EQ(json.at("sender"), "WMPolice");
  EXPECT_EQ(json.at("client_ref"), "msg-42");
  EXPECT_EQ(json.at("status_callback"), "http://127.0.0.1:1/api/v1/gateway/wmnow/status");
}

TEST_F(WmnowGatewayTest, IgnoresATrailingSlashOnTheBaseUrl) {
  Reply(201, R"({"message_id":"m-1"})");
  WmnowOptions options = Options();
  options.base_url += "/";
  EXPECT_EQ(MakeWmnowGateway(options)->Send(Sms()).status, SendStatus::kAccepted);
  ASSERT_EQ(Seen().size(), 1u);
  EXPECT_EQ(Seen()[0].target, "/v1/messages");
}

TEST_F(WmnowGatewayTest, TreatsAConflictAsAlreadyAccepted) {
  Reply(409, R"({"message_id":"m-77","status":"delivered"})");
  const SendResult result = MakeWmnowGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAccepted);
  EXPECT_EQ(result.message_id, "m-77");
  EXPECT_EQ(result.http_status, 409);
}

TEST_F(WmnowGatewayTest, FailsPermanentlyOn400WithTheGatewaysErrorCode) {
  Reply(400, R"({"error":"invalid_number"})");
  const SendResult result = MakeWmnowGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kPermanent);
  EXPECT_EQ(result.error, "invalid_number");
  EXPECT_EQ(result.http_status, 400);
}

TEST_F(WmnowGatewayTest, KeepsDigitsOfAnEchoedNumberOutOfTheError) {
  // However it is written: the separators between its digits do not make it a code.
  for (const char* echoed : {"+447700900123", "+44 7700 900556", "(0)7700-900-556", "07700.900.556",
                             "44 7700 900 556"}) {
    Reply(400, std::string(R"({"error":"invalid_number: )") + echoed + "\"}");
    const SendResult result = MakeWmnowGateway(Options())->Send(Sms());
    EXPECT_EQ(result.status, SendStatus::kPermanent);
    EXPECT_EQ(result.error.find_first_of("0123456789"), std::string::npos) << result.error;
    EXPECT_EQ(result.error.substr(0, 14), "invalid_number") << result.error;
  }
  // A vendor's code keeps its digits.
  Reply(400, R"({"error":"E-30003 rejected"})");
  EXPECT_EQ(MakeWmnowGateway(Options())->Send(Sms()).error, "E-30003rejected");
}

TEST_F(WmnowGatewayTest, ReportsRefusedCredentialsAsAuth) {
  for (int status : {401, 403}) {
    Reply(status, R"({"error":"unauthorized"})");
    const SendResult result = MakeWmnowGateway(Options())->Send(Sms());
    EXPECT_EQ(result.status, SendStatus::kAuth) << status;
    EXPECT_EQ(result.http_status, status);
  }
}

TEST_F(WmnowGatewayTest, ReportsThrottlingWithRetryAfter) {
  Reply(429, R"({"error":"throttled"})", {{"Retry-After", "7"}});
  const SendResult result = MakeWmnowGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kThrottled);
  ASSERT_TRUE(result.retry_after.has_value());
  EXPECT_EQ(*result.retry_after, std::chrono::seconds(7));
}

TEST_F(WmnowGatewayTest, ThrottlingWithoutAUsableRetryAfterLeavesItToTheBackoff) {
  Reply(429, "{}", {{"Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"}});
  const SendResult result = MakeWmnowGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kThrottled);
  EXPECT_FALSE(result.retry_after.has_value());
}

TEST_F(WmnowGatewayTest, TreatsServerErrorsAndOddStatusesAsTransient) {
  Reply(503, R"({"error":"unavailable"})");
  SendResult result = MakeWmnowGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kTransient);
  EXPECT_EQ(result.http_status, 503);

  Reply(418, "teapot");
  result = MakeWmnowGateway(Options())->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kTransient);
  EXPECT_NE(result.error.find("418"), std::string::npos) << result.error;
}

TEST_F(WmnowGatewayTest, ATimeoutAfterSendingIsInDoubt) {
  {
    std::lock_guard lock(mutex_);
    slow_ = true;
  }
  WmnowOptions options = Options();
  options.timeout = std::chrono::milliseconds(200);
  const SendResult result = MakeWmnowGateway(options)->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kInDoubt);
  EXPECT_EQ(result.http_status, 0);
  EXPECT_FALSE(result.error.empty());
}

TEST(WmnowGatewayTransportTest, ARefusedConnectionIsTransient) {
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(probe);

  WmnowOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  options.api_key = "k";
  const SendResult result =
      MakeWmnowGateway(options)->Send({.client_ref = "r", .to_e164 = "+447700900123", .body = "b"});
  EXPECT_EQ(result.status, SendStatus::kTransient);
  EXPECT_EQ(result.http_status, 0);
}

TEST(WmnowGatewayTransportTest, IsIdempotentAndNamed) {
  auto gateway = MakeWmnowGateway({});
  EXPECT_TRUE(gateway->Idempotent());
  EXPECT_EQ(gateway->Name(), "wmnow");
}

TEST(WmnowGatewayTransportTest, SendStatusNamesAreStable) {
  EXPECT_STREQ(SendStatusName(SendStatus::kAccepted), "accepted");
  EXPECT_STREQ(SendStatusName(SendStatus::kPermanent), "permanent");
  EXPECT_STREQ(SendStatusName(SendStatus::kTransient), "transient");
  EXPECT_STREQ(SendStatusName(SendStatus::kThrottled), "throttled");
  EXPECT_STREQ(SendStatusName(SendStatus::kAuth), "auth");
  EXPECT_STREQ(SendStatusName(SendStatus::kInDoubt), "in_doubt");
}

// ---- Callbacks ------------------------------------------------------------------------------

class WmnowCallbackTest : public ::testing::Test {
 protected:
  WmnowCallbackTest() {
    WmnowOptions options;
    options.webhook_secret = "hook-secret-hook-secret";
    gateway_ = MakeWmnowGateway(options);
  }

  http::Request Signed(const std::string& body, std::int64_t timestamp,
                       const std::string& secret = "hook-secret-hook-secret") const {
    http::Request request;
    request.method = "POST";
    request.body = body;
    request.headers = {
        {"X-WMNow-Timestamp", std::to_string(timestamp)},
        {"X-WMNow-Signature", crypto::SignTimestamped(secret, std::to_string(timestamp), body)}};
    return request;
  }

  TimePoint now_ = *ParseRfc3339("2026-11-26T10:00:00Z");
  std::int64_t now_s_ = ToUnixSeconds(now_);
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(WmnowCallbackTest, StatusCallbacksBecomeReports) {
  const Callback callback = gateway_->ParseCallback(
      CallbackKind::kStatus,
      Signed(R"({"message_id":"m-123","client_ref":"msg-42","status":"undeliverable",)"
             R"("error_code":"absent_subscriber","at":"2026-11-26T09:16:10Z"})",
             now_s_),
      now_);
  ASSERT_EQ(callback.verdict, CallbackVerdict::kOk) << callback.problem;
  ASSERT_TRUE(callback.report.has_value());
  EXPECT_EQ(callback.report->gateway, "wmnow");
  EXPECT_EQ(callback.report->gateway_message_id, "m-123");
  EXPECT_EQ(callback.report->message_ref, "msg-42");
  EXPECT_EQ(callback.report->state, DeliveryState::kUndeliverable);
  EXPECT_EQ(callback.report->error_code, "absent_subscriber");
  EXPECT_EQ(callback.report->at, *ParseRfc3339("2026-11-26T09:16:10Z"));
  EXPECT_EQ(gateway_->CallbackAnswer(CallbackKind::kStatus, callback.verdict, "").status, 200);

  for (const char* status : {"sent", "delivered", "failed", "expired"}) {
    const Callback other = gateway_->ParseCallback(
        CallbackKind::kStatus,
        Signed(std::string(R"({"message_id":"m-1","status":")") + status + R"("})", now_s_), now_);
    ASSERT_EQ(other.verdict, CallbackVerdict::kOk) << status;
    EXPECT_STREQ(DeliveryStateName(other.report->state), status);
    EXPECT_EQ(other.report->at, now_) << "no time given: now";
  }
}

TEST_F(WmnowCallbackTest, BadStaleOrMissingSignaturesAreUnauthorized) {
  const std::string body = R"({"message_id":"m-1","status":"delivered"})";
  http::Request unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.body = body;
  for (const http::Request& request :
       {Signed(body, now_s_, "another-secret-entirely"), Signed(body, now_s_ - 301),
        Signed(body, now_s_ + 301), unsigned_request}) {
    const Callback callback = gateway_->ParseCallback(CallbackKind::kStatus, request, now_);
    EXPECT_EQ(callback.verdict, CallbackVerdict::kUnauthorized);
    EXPECT_FALSE(callback.report.has_value());
    EXPECT_EQ(gateway_->CallbackAnswer(CallbackKind::kStatus, callback.verdict, "").status, 401);
  }
  http::Request tampered = Signed(body, now_s_);
  tampered.body += " ";
  EXPECT_EQ(gateway_->ParseCallback(CallbackKind::kStatus, tampered, now_).verdict,
            CallbackVerdict::kUnauthorized);
  EXPECT_EQ(
      gateway_->ParseCallback(CallbackKind::kStatus, Signed(body, now_s_ - 299), now_).verdict,
      CallbackVerdict::kOk);
  // No secret configured: nothing is believed.
  EXPECT_FALSE(
      MakeWmnowGateway({})->VerifyCallback(CallbackKind::kStatus, Signed(body, now_s_, ""), now_));
}

TEST_F(WmnowCallbackTest, UnreadableReportsAreMalformed) {
  for (const char* body : {"[]", "not json", R"({"message_id":"m-1","status":"teleported"})",
                           R"({"message_id":"m-1"})", R"({"status":"delivered"})"}) {
    const Callback callback =
        gateway_->ParseCallback(CallbackKind::kStatus, Signed(body, now_s_), now_);
    EXPECT_EQ(callback.verdict, CallbackVerdict::kMalformed) << body;
    EXPECT_EQ(gateway_->CallbackAnswer(CallbackKind::kStatus, callback.verdict, "").status, 400);
  }
}

TEST_F(WmnowCallbackTest, InboundMessages) {
  const Callback callback = gateway_->ParseCallback(
      CallbackKind::kInbound,
      Signed(R"({"message_id":"in-77","from":"+447700900123","to":"WMPolice","body":"STOP",)"
             R"("received_at":"2026-11-26T09:20:00Z"})",
             now_s_),
      now_);
  ASSERT_EQ(callback.verdict, CallbackVerdict::kOk) << callback.problem;
  ASSERT_TRUE(callback.inbound.has_value());
  EXPECT_EQ(callback.inbound->gateway, "wmnow");
  EXPECT_EQ(callback.inbound->gateway_message_id, "in-77");
  EXPECT_EQ(callback.inbound->from_e164, "+447700900123");
  EXPECT_EQ(callback.inbound->to, "WMPolice");
  EXPECT_EQ(callback.inbound->body, "STOP");
  EXPECT_EQ(callback.inbound->received_at, *ParseRfc3339("2026-11-26T09:20:00Z"));
  EXPECT_EQ(gateway_->ParseCallback(CallbackKind::kInbound, Signed(R"({"from":"x"})", now_s_), now_)
                .verdict,
            CallbackVerdict::kMalformed);
}

TEST_F(WmnowCallbackTest, AnInboundTextThatIsNotUtf8IsReadNotRefused) {
  // "STOP été" in Latin-1, and half an emoji's escape: refused with a 400, the STOP lost.
  for (const std::string& text : {std::string("STOP \xE9t\xE9"), std::string(R"(STOP \ud83d)")}) {
    const Callback callback = gateway_->ParseCallback(
        CallbackKind::kInbound,
        Signed(R"({"message_id":"in-78","from":"+447700900123","body":")" + text + "\"}", now_s_),
        now_);
    ASSERT_EQ(callback.verdict, CallbackVerdict::kOk) << text << ": " << callback.problem;
    EXPECT_EQ(callback.inbound->body.substr(0, 5), "STOP ") << text;
    EXPECT_NE(callback.inbound->body.find(kReplacementCharacter), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace surveyd::gateway
