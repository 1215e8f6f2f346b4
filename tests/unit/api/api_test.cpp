#include "surveyd/api/api.hpp"

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"
#include "surveyd/core/crypto.hpp"

namespace surveyd::api {
namespace {

TEST(ApiOptOut, RecognisesTheWordsInAnyCaseWithSpaces) {
  for (const char* word : {"STOP", "stop", " Stop ", "STOPALL", "unsubscribe", "Cancel", "END",
                           "quit", "STOP\n", "Stop."}) {
    EXPECT_TRUE(IsOptOutWord(word)) << word;
  }
  for (const char* text : {"", "  ", "please stop", "STOP IT", "stopp", "9", "don't stop"}) {
    EXPECT_FALSE(IsOptOutWord(text)) << text;
  }
}

TEST(ApiClientAddress, BelievesForwardedForOnlyFromTrustedProxies) {
  http::Request request;
  request.remote_address = "203.0.113.9";
  request.headers = {{"X-Forwarded-For", "198.51.100.1"}};
  EXPECT_EQ(ClientAddress(request, {}), "203.0.113.9");
  EXPECT_EQ(ClientAddress(request, {"127.0.0.1"}), "203.0.113.9") << "not a trusted peer";
  request.remote_address = "127.0.0.1";
  EXPECT_EQ(ClientAddress(request, {"127.0.0.1"}), "198.51.100.1");
  // A client can put anything on the left; only the hop our proxy added counts.
  request.headers = {{"X-Forwarded-For", "10.9.9.9, 198.51.100.7"}};
  EXPECT_EQ(ClientAddress(request, {"127.0.0.1"}), "198.51.100.7");
  // Chains of trusted proxies are walked from the right.
  request.headers = {{"X-Forwarded-For", "198.51.100.7 , 10.0.0.2"}};
  EXPECT_EQ(ClientAddress(request, {"127.0.0.1", "10.0.0.2"}), "198.51.100.7");
  request.headers = {};
  EXPECT_EQ(ClientAddress(request, {"127.0.0.1"}), "127.0.0.1");
}

class ApiSignature : public ::testing::Test {
 protected:
  ApiSignature() : clock_(*ParseRfc3339("2026-11-26T10:00:00Z")) {
    options_.clock = &clock_;
    options_.feed_secret = "feed-secret-feed-secret";
    options_.wmnow_webhook_secret = "hook-secret-hook-secret";
    // No store: every request here must be refused before the store is touched.
  }
  http::Request Signed(const std::string& secret, std::int64_t ts, const std::string& body,
                       const std::string& ts_header, const std::string& sig_header) {
    http::Request request;
    request.method = "POST";
    request.body = body;
    request.headers = {{ts_header, std::to_string(ts)},
                       {sig_header, crypto::SignTimestamped(secret, std::to_string(ts), body)}};
    return request;
  }
  testing::ManualClock clock_;
  ApiOptions options_;
};

TEST_F(ApiSignature, FeedPushRefusesBadStaleOrMissingSignatures) {
  const auto now = ToUnixSeconds(clock_.Now());
  const std::string body = R"({"event_id":"x"})";
  auto wrong_key =
      Signed("another-secret-entirely", now, body, "X-Feed-Timestamp", "X-Feed-Signature");
  EXPECT_EQ(HandleFeedPush(options_, wrong_key).status, 401);
  auto stale =
      Signed(options_.feed_secret, now - 301, body, "X-Feed-Timestamp", "X-Feed-Signature");
  EXPECT_EQ(HandleFeedPush(options_, stale).status, 401);
  auto future =
      Signed(options_.feed_secret, now + 301, body, "X-Feed-Timestamp", "X-Feed-Signature");
  EXPECT_EQ(HandleFeedPush(options_, future).status, 401);
  auto tampered = Signed(options_.feed_secret, now, body, "X-Feed-Timestamp", "X-Feed-Signature");
  tampered.body += " ";
  EXPECT_EQ(HandleFeedPush(options_, tampered).status, 401);
  http::Request missing;
  missing.body = body;
  EXPECT_EQ(HandleFeedPush(options_, missing).status, 401);
}

TEST_F(ApiSignature, WmnowCallbacksRefuseBadSignatures) {
  const auto now = ToUnixSeconds(clock_.Now());
  auto bad = Signed("not-the-webhook-secret", now, R"({"status":"delivered"})", "X-WMNow-Timestamp",
                    "X-WMNow-Signature");
  EXPECT_EQ(HandleWmnowStatus(options_, bad).status, 401);
  EXPECT_EQ(HandleWmnowInbound(options_, bad).status, 401);
}

TEST_F(ApiSignature, RoutesAndBaselineHeaders) {
  options_.readiness = [] { return Readiness{false, R"({"checks":{"database":{"ok":false}}})"}; };
  auto handler = MakeApiHandler(options_);
  http::Request request;
  request.method = "GET";
  request.path = "/healthz";
  auto response = handler(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(http::FindHeader(response.headers, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(http::FindHeader(response.headers, "Cache-Control"), "no-store");
  request.path = "/nope";
  EXPECT_EQ(handler(request).status, 404);
  request.path = "/api/v1/stats";
  EXPECT_EQ(handler(request).status, 403);  // no API tokens configured
  request.method = "DELETE";
  request.path = "/healthz";
  response = handler(request);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(http::FindHeader(response.headers, "Allow"), "GET");
}

TEST_F(ApiSignature, ReadinessDetailsAreForOpsOnly) {
  options_.readiness = [] { return Readiness{false, R"({"checks":{"database":{"ok":false}}})"}; };
  auto admin = MakeStaticAuthenticator("admin-token", {"t1", "bootstrap", Role::kAdmin});
  options_.authenticator = admin.get();
  auto handler = MakeApiHandler(options_);
  http::Request request;
  request.method = "GET";
  request.path = "/readyz";
  auto response = handler(request);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, R"({"ready":false})") << "the public answer says ready or not, no more";
  request.path = "/api/v1/health";
  EXPECT_EQ(handler(request).status, 401);
  request.headers = {{"Authorization", "Bearer wrong-token"}};
  EXPECT_EQ(handler(request).status, 401);
  request.headers = {{"Authorization", "Bearer admin-token"}};
  response = handler(request);
  EXPECT_EQ(response.status, 503);
  EXPECT_NE(response.body.find("database"), std::string::npos);
}

TEST_F(ApiSignature, AFailingSurveyPageIsA500WithoutTheTokenInTheLog) {
  options_.survey_pages = [](const http::Request&) -> http::Response {
    throw std::runtime_error("boom");
  };
  auto handler = MakeApiHandler(options_);
  http::Request request;
  request.method = "GET";
  request.path = "/s/SECRETTOKENSECRETTOKEN";
  // spdlog's default logger writes to stdout; capture both streams.
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  auto response = handler(request);
  const std::string log =
      ::testing::internal::GetCapturedStdout() + ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("/s/{token}"), std::string::npos) << "the failure is logged: " << log;
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(log.find("SECRETTOKEN"), std::string::npos) << log;
}

}  // namespace
}  // namespace surveyd::api
