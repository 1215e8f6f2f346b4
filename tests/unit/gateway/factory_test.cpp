#include "surveyd/gateway/factory.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "fakes/callback_server.hpp"
#include "fakes/test_ca.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::gateway {
namespace {

TEST(GatewayFactory, OneAdapterPerKind) {
  GatewayConfig config;
  for (const std::string& kind : GatewayKinds()) {
    config.kind = kind;
    auto gateway = MakeGateway(config);
    ASSERT_NE(gateway, nullptr);
    EXPECT_EQ(gateway->Name(), kind);
    EXPECT_EQ(gateway->Idempotent(), kind == "wmnow") << kind;
  }
  config.kind = "carrier-pigeon";
  EXPECT_THROW(MakeGateway(config), std::invalid_argument);
}

TEST(GatewayFactory, CallbackPaths) {
  EXPECT_EQ(CallbackPath("kannel", CallbackKind::kStatus), "/api/v1/gateway/kannel/status");
  EXPECT_EQ(CallbackPath("twilio", CallbackKind::kInbound), "/api/v1/gateway/twilio/inbound");
  EXPECT_STREQ(CallbackVerdictName(CallbackVerdict::kUnauthorized), "unauthorized");
  EXPECT_STREQ(CallbackKindName(CallbackKind::kInbound), "inbound");
}

// Each adapter tells its gateway to call back on {public_base_url}/api/v1/gateway/{kind}/status.
TEST(GatewayFactory, CallbacksPointAtThePublicBaseUrl) {
  testing::RecordingServer server;
  server.Reply(202, "0: Accepted for delivery");
  GatewayConfig config;
  config.public_base_url = "https://survey.example/";
  config.wmnow.base_url = server.BaseUrl();
  config.kannel.sendsms_url = server.BaseUrl() + "/cgi-bin/sendsms";
  config.kannel.webhook_secret = "s3cret";
  config.twilio.base_url = server.BaseUrl();
  const OutgoingSms sms{.client_ref = "r-1", .to_e164 = "+447700900123", .body = "hi"};
  for (const char* kind : {"wmnow", "kannel", "twilio"}) {
    config.kind = kind;
    MakeGateway(config)->Send(sms);
  }
  const auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[0].body.find(
                R"("status_callback":"https://survey.example/api/v1/gateway/wmnow/status")"),
            std::string::npos)
      << requests[0].body;
  std::string dlr_url;
  for (const auto& [name, value] : http::ParseForm(requests[1].query)) {
    if (name == "dlr-url") dlr_url = value;
  }
  EXPECT_EQ(dlr_url.rfind("https://survey.example/api/v1/gateway/kannel/status?", 0), 0u)
      << dlr_url;
  std::string status_callback;
  for (const auto& [name, value] : http::ParseForm(requests[2].body)) {
    if (name == "StatusCallback") status_callback = value;
  }
  EXPECT_EQ(status_callback, "https://survey.example/api/v1/gateway/twilio/status?ref=r-1");

  // smsbox on a network of its own (docker/compose.yaml) calls back where it reaches us.
  config.kind = "kannel";
  config.kannel.callback_base_url = "http://surveyd:8080/";
  MakeGateway(config)->Send(sms);
  dlr_url.clear();
  for (const auto& [name, value] : http::ParseForm(server.Requests().back().query)) {
    if (name == "dlr-url") dlr_url = value;
  }
  EXPECT_EQ(dlr_url.rfind("http://surveyd:8080/api/v1/gateway/kannel/status?", 0), 0u) << dlr_url;
}

// A gateway behind HTTPS with a certificate of the force's own CA, through whichever adapter
// gateway.kind picks: trusted through gateway.ca_file, the text goes; without that CA nothing
// reaches the gateway, and the send is transient (never in doubt: no request went out), so the
// dispatcher retries it. The error says why, and never carries the number.
class GatewayCaFileTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { ca_ = std::make_unique<testing::TestCa>(); }
  static void TearDownTestSuite() { ca_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(ca_->Made()) << ca_->Problem();
    server_ = std::make_unique<testing::RecordingServer>(http::Handler{}, ca_->CertFile(),
                                                         ca_->KeyFile());
    // Each gateway's way of saying "accepted".
    if (GetParam() == "wmnow") server_->Reply(201, R"({"message_id":"m-1"})");
    if (GetParam() == "kannel") server_->Reply(202, "0: Accepted for delivery");
    if (GetParam() == "twilio") server_->Reply(201, R"({"sid":"SM1"})");
  }

  GatewayConfig Config(std::string ca_file) const {
    GatewayConfig config;
    config.kind = GetParam();
    config.timeout = std::chrono::seconds(5);
    config.wmnow.base_url = server_->BaseUrl();
    config.kannel.sendsms_url = server_->BaseUrl() + "/cgi-bin/sendsms";
    config.kannel.webhook_secret = "s3cret";
    config.twilio.base_url = server_->BaseUrl();
    config.ca_file = std::move(ca_file);
    return config;
  }

  static OutgoingSms Sms() {
    return {.client_ref = "r-1", .to_e164 = "+447700900123", .body = "Survey: https://s/x"};
  }

  static inline std::unique_ptr<testing::TestCa> ca_;
  std::unique_ptr<testing::RecordingServer> server_;
};

TEST_P(GatewayCaFileTest, SendsOverHttpsTrustingTheForcesCa) {
  ASSERT_EQ(server_->BaseUrl().rfind("https://", 0), 0u);
  const SendResult result = MakeGateway(Config(ca_->CaFile()))->Send(Sms());
  EXPECT_EQ(result.status, SendStatus::kAccepted) << result.error;
  EXPECT_EQ(server_->Requests().size(), 1u);
}

TEST_P(GatewayCaFileTest, WithoutThatCaNothingIsSentAndTheSendIsRetried) {
  for (const std::string& ca_file : {std::string(), ca_->OtherCaFile()}) {
    const SendResult result = MakeGateway(Config(ca_file))->Send(Sms());
    EXPECT_EQ(result.status, SendStatus::kTransient) << result.error;
    EXPECT_THAT(result.error, ::testing::HasSubstr("certificate verify failed"));
    EXPECT_THAT(result.error, ::testing::Not(::testing::HasSubstr("900123")));
  }
  EXPECT_TRUE(server_->Requests().empty());
}

INSTANTIATE_TEST_SUITE_P(EveryKind, GatewayCaFileTest, ::testing::ValuesIn(GatewayKinds()),
                         [](const ::testing::TestParamInfo<std::string>& kind) {
                           return kind.param;
                         });

TEST(DeliveryStates, NamesRoundTrip) {
  for (DeliveryState state :
       {DeliveryState::kAccepted, DeliveryState::kSent, DeliveryState::kDelivered,
        DeliveryState::kFailed, DeliveryState::kUndeliverable, DeliveryState::kExpired}) {
    EXPECT_EQ(ParseDeliveryState(DeliveryStateName(state)), state);
  }
  EXPECT_FALSE(ParseDeliveryState("queued").has_value());
  EXPECT_FALSE(IsFinal(DeliveryState::kSent));
  EXPECT_TRUE(IsFinal(DeliveryState::kUndeliverable));
}

}  // namespace
}  // namespace surveyd::gateway
