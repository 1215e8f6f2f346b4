#include "surveyd/gateway/factory.hpp"

#include <gtest/gtest.h>

#include "fakes/callback_server.hpp"
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
