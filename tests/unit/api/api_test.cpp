#include "surveyd/api/api.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "fakes/manual_clock.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/gateway/wmnow.hpp"

namespace surveyd::api {
namespace {

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

TEST(ApiClientAddress, HostileForwardedForNeverBecomesTheClient) {
  const std::vector<std::string> proxies = {"10.0.0.1"};
  http::Request request;
  request.remote_address = "10.0.0.1";
  auto client = [&](http::Headers headers) {
    request.headers = std::move(headers);
    return ClientAddress(request, proxies);
  };
  // Junk, names and empty hops: the walk stops at the last trusted hop, so a client cannot mint
  // a fresh rate-limit key per request.
  EXPECT_EQ(client({{"X-Forwarded-For", "not-an-address"}}), "10.0.0.1");
  EXPECT_EQ(client({{"X-Forwarded-For", "198.51.100.7, unknown"}}), "10.0.0.1");
  EXPECT_EQ(client({{"X-Forwarded-For", "<script>, 198.51.100.7"}}), "198.51.100.7");
  EXPECT_EQ(client({{"X-Forwarded-For", ", ,198.51.100.7,, "}}), "198.51.100.7");
  EXPECT_EQ(client({{"X-Forwarded-For", ""}}), "10.0.0.1");
  EXPECT_EQ(client({{"X-Forwarded-For", std::string(10000, ',')}}), "10.0.0.1");
  EXPECT_EQ(client({{"X-Forwarded-For", "198.51.100.7:5555"}}), "198.51.100.7");
  EXPECT_EQ(client({{"X-Forwarded-For", "[2001:db8::7]:443"}}), "2001:db8::7");
  EXPECT_EQ(client({{"X-Forwarded-For", "1.2.3.4.5"}}), "10.0.0.1");
  EXPECT_EQ(client({{"X-Forwarded-For", "999.1.1.1"}}), "10.0.0.1");
  // A second header line: a proxy that adds its own line is believed for the last one only.
  EXPECT_EQ(client({{"X-Forwarded-For", "6.6.6.6"}, {"x-forwarded-for", "198.51.100.7"}}),
            "198.51.100.7");
  // A client claiming to be our proxy gains nothing: the hop left of it is taken.
  EXPECT_EQ(client({{"X-Forwarded-For", "6.6.6.6, 10.0.0.1, 198.51.100.7"}}), "198.51.100.7");
  EXPECT_EQ(client({{"X-Forwarded-For", "6.6.6.6, 10.0.0.1"}}), "6.6.6.6");
  // The same address spelt another way is the same client.
  EXPECT_EQ(client({{"X-Forwarded-For", "::ffff:198.51.100.7"}}), "198.51.100.7");
}

TEST(ApiClientAddress, TrustedProxiesMayBeRangesAndAnySpelling) {
  http::Request request;
  request.remote_address = "::ffff:10.1.2.3";  // a dual-stack listener's view of 10.1.2.3
  request.headers = {{"X-Forwarded-For", "198.51.100.7, 10.9.9.9"}};
  EXPECT_EQ(ClientAddress(request, {"10.0.0.0/8"}), "198.51.100.7");
  EXPECT_EQ(ClientAddress(request, {"10.1.2.3"}), "10.9.9.9");
  EXPECT_EQ(ClientAddress(request, {"10.1.2.0/30"}), "10.9.9.9");
  EXPECT_EQ(ClientAddress(request, {"10.1.2.4/30"}), "10.1.2.3") << "not in the range";
  EXPECT_EQ(ClientAddress(request, {"bogus", "10.0.0.0/99"}), "10.1.2.3");
  request.remote_address = "2001:db8::1";
  EXPECT_EQ(ClientAddress(request, {"2001:db8::/32"}), "10.9.9.9");
  EXPECT_EQ(ClientAddress(request, {"2001:db9::/32"}), "2001:db8::1");
}

TEST(ApiFastPath, AnswersHealthzWithoutTheStoreAndPassesTheRestOn) {
  ApiOptions options;  // no store, no clock: the fast path must not need them
  auto fast = MakeApiFastHandler(options);
  http::Request request;
  request.method = "GET";
  request.path = "/healthz";
  auto alive = fast(request);
  ASSERT_TRUE(alive.has_value());
  EXPECT_EQ(alive->status, 200);
  EXPECT_EQ(http::FindHeader(alive->headers, "Cache-Control"), "no-store");
  request.method = "HEAD";
  EXPECT_TRUE(fast(request).has_value());
  request.method = "POST";
  EXPECT_FALSE(fast(request).has_value());
  request.method = "GET";
  for (const char* path : {"/readyz", "/api/v1/stats", "/dashboard", "/s/AAAAAAAAAAAAAAAAAAAAAA"}) {
    request.path = path;
    EXPECT_FALSE(fast(request).has_value()) << path;
  }
}

TEST(ApiFastPath, SurveyPagesSeeTheClientBehindTrustedProxies) {
  ApiOptions options;
  options.trusted_proxies = {"127.0.0.1"};
  std::string seen;
  options.survey_pages_fast = [&seen](const http::Request& request) {
    seen = request.remote_address;
    return std::optional<http::Response>(http::Response::Text(404, "no"));
  };
  auto fast = MakeApiFastHandler(options);
  http::Request request;
  request.method = "GET";
  request.path = "/s/x";
  request.remote_address = "127.0.0.1";
  request.headers = {{"X-Forwarded-For", "198.51.100.7"}};
  auto response = fast(request);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(seen, "198.51.100.7");
  EXPECT_EQ(http::FindHeader(response->headers, "X-Content-Type-Options"), "nosniff");
}

class ApiSignature : public ::testing::Test {
 protected:
  ApiSignature() : clock_(*ParseRfc3339("2026-11-26T10:00:00Z")) {
    options_.clock = &clock_;
    options_.feed_secret = "feed-secret-feed-secret";
    gateway::WmnowOptions wmnow;
    wmnow.webhook_secret = "hook-secret-hook-secret";
    gateway_ = gateway::MakeWmnowGateway(wmnow);
    options_.gateway = gateway_.get();
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
  std::unique_ptr<gateway::Gateway> gateway_;
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

// Stores nothing: holds each push until released, and answers it accepted.
class HeldIngest : public store::IngestStore {
 public:
  std::vector<store::IngestResult> IngestBatch(const std::vector<IngestItem>& items,
                                               const store::DecideFn&,
                                               const std::string&) override {
    ++held;
    while (!released) std::this_thread::yield();
    std::vector<store::IngestResult> results;
    for (const auto& item : items) {
      results.push_back({item.event_id, store::IngestOutcome::kAccepted, "survey"});
    }
    return results;
  }
  std::optional<std::int64_t> FeedCursor(const std::string&) override { return std::nullopt; }
  // Nothing stored here is read back, so nothing needs screening.
  ScreenPass ScreenEvents(const EventScreen&, TimePoint, TimePoint, int) override { return {}; }
  std::atomic<int> held{0};
  std::atomic<bool> released{false};
};

TEST_F(ApiSignature, PushesPastTheLimitAreAskedToComeBackAndLeaveWorkersFree) {
  HeldIngest ingest;
  options_.ingest = &ingest;
  options_.decider = [] { return store::DecideFn(); };
  options_.max_pushes_in_flight = 2;
  const auto now = ToUnixSeconds(clock_.Now());
  auto push = [&](const std::string& id) {
    const std::string body = R"({"event_id":")" + id + R"(","type":"call.ended"})";
    return HandleFeedPush(
        options_, Signed(options_.feed_secret, now, body, "X-Feed-Timestamp", "X-Feed-Signature"));
  };
  auto first = std::async(std::launch::async, [&] { return push("a"); });
  auto second = std::async(std::launch::async, [&] { return push("b"); });
  while (ingest.held < 2) std::this_thread::yield();
  const auto refused = push("c");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(http::FindHeader(refused.headers, "Retry-After"), "1");
  EXPECT_EQ(ingest.held, 2) << "refused before the store";
  ingest.released = true;
  EXPECT_EQ(first.get().status, 202);
  EXPECT_EQ(second.get().status, 202);
  EXPECT_EQ(push("d").status, 202) << "a place is free again";
  EXPECT_EQ(*options_.pushes_in_flight, 0);
}

TEST_F(ApiSignature, WmnowCallbacksRefuseBadSignatures) {
  const auto now = ToUnixSeconds(clock_.Now());
  auto bad = Signed("not-the-webhook-secret", now, R"({"status":"delivered"})", "X-WMNow-Timestamp",
                    "X-WMNow-Signature");
  bad.method = "POST";
  EXPECT_EQ(HandleGatewayCallback(options_, gateway::CallbackKind::kStatus, bad).status, 401);
  EXPECT_EQ(HandleGatewayCallback(options_, gateway::CallbackKind::kInbound, bad).status, 401);
  // Routed by path, and only for the gateway in use.
  auto handler = MakeApiHandler(options_);
  bad.path = "/api/v1/gateway/wmnow/status";
  EXPECT_EQ(handler(bad).status, 401);
  bad.path = "/api/v1/gateway/kannel/status";
  EXPECT_EQ(handler(bad).status, 404);
}

TEST_F(ApiSignature, RoutesAndBaselineHeaders) {
  options_.readiness = [] {
    return Readiness{false, R"({"checks":{"database":{"ok":false}}})", {}};
  };
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

// Sending paused is no reason to take the survey pages and the callbacks away: ready, with what
// works only in part named.
TEST_F(ApiSignature, ADegradedPartIsNamedOnAReadyInstance) {
  options_.readiness = [] {
    return Readiness{true, R"({"ready":true,"degraded":["dispatcher"]})", {"dispatcher"}};
  };
  auto handler = MakeApiHandler(options_);
  http::Request request;
  request.method = "GET";
  request.path = "/readyz";
  const auto response = handler(request);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"degraded":["dispatcher"],"ready":true})");
}

TEST_F(ApiSignature, ReadinessDetailsAreForOpsOnly) {
  options_.readiness = [] {
    return Readiness{false, R"({"checks":{"database":{"ok":false}}})", {}};
  };
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

// The site's address alone is the citizen's pages' to answer (their "this link does not work"),
// not the API's JSON: a citizen may type it to check that a text is genuine.
TEST_F(ApiSignature, TheSitesAddressAloneIsAnsweredByTheSurveyPages) {
  options_.survey_pages = [](const http::Request& request) {
    return http::Response::Html(404, "pages: " + request.path);
  };
  auto handler = MakeApiHandler(options_);
  http::Request request;
  request.method = "GET";
  request.path = "/";
  const auto response = handler(request);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "pages: /");
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
