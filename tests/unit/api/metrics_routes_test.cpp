#include <gtest/gtest.h>

#include "surveyd/api/api.hpp"

namespace surveyd::api {
namespace {

http::Request Get(const std::string& path, const std::string& from) {
  http::Request request;
  request.method = "GET";
  request.path = path;
  request.target = path;
  request.remote_address = from;
  return request;
}

TEST(MetricsRoute, AnsweredOnlyToAllowedClientsInPrometheusText) {
  metrics::Registry registry;
  registry.Counters("surveyd_test_total", "A test counter.").With({}).Inc(7);
  ApiOptions options;
  options.metrics = &registry;
  options.metrics_allow = {"127.0.0.0/8", "::1"};
  auto handler = MakeApiHandler(options);

  auto response = handler(Get("/metrics", "127.0.0.1"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(http::FindHeader(response.headers, "Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response.body.find("surveyd_test_total 7\n"), std::string::npos) << response.body;
  EXPECT_EQ(handler(Get("/metrics", "::1")).status, 200);
  EXPECT_EQ(handler(Get("/metrics", "203.0.113.9")).status, 404);
  EXPECT_EQ(handler(Get("/metrics", "")).status, 404);
}

TEST(MetricsRoute, BehindATrustedProxyTheForwardedClientCounts) {
  metrics::Registry registry;
  ApiOptions options;
  options.metrics = &registry;
  options.metrics_allow = {"127.0.0.0/8"};
  options.trusted_proxies = {"127.0.0.1"};
  auto handler = MakeApiHandler(options);
  auto via_proxy = Get("/metrics", "127.0.0.1");
  via_proxy.headers = {{"X-Forwarded-For", "203.0.113.9"}};
  EXPECT_EQ(handler(via_proxy).status, 404) << "a public client behind the proxy";
  EXPECT_EQ(handler(Get("/metrics", "127.0.0.1")).status, 200) << "the proxy host itself";
}

TEST(MetricsRoute, OffWhenTheAllowListIsEmpty) {
  metrics::Registry registry;
  ApiOptions options;
  options.metrics = &registry;
  EXPECT_EQ(MakeApiHandler(options)(Get("/metrics", "127.0.0.1")).status, 404);
}

TEST(MetricsRoute, RequestsAreCountedByRouteNameNeverByPath) {
  metrics::Registry registry;
  ApiOptions options;
  options.metrics = &registry;
  options.metrics_allow = {"127.0.0.1"};
  options.survey_pages = [](const http::Request&) { return http::Response::Text(200, "page"); };
  auto handler = MakeApiHandler(options);
  const auto page = handler(Get("/s/SECRETTOKEN123", "127.0.0.1"));
  EXPECT_EQ(http::FindHeader(page.headers, "X-Request-Id").size(), 16u);
  handler(Get("/s/SECRETTOKEN123/stop", "127.0.0.1"));   // opt-outs count apart
  handler(Get("/s/SECRETTOKEN123/stop.", "127.0.0.1"));  // a copied link: the pages redirect it
  handler(Get("/healthz", "127.0.0.1"));
  handler(Get("/nowhere", "127.0.0.1"));
  const std::string text = handler(Get("/metrics", "127.0.0.1")).body;
  EXPECT_NE(text.find(R"(surveyd_http_requests_total{route="/s/{token}",status="200"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(surveyd_http_requests_total{route="/s/{token}/stop",status="200"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(surveyd_http_requests_total{route="/healthz",status="200"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(surveyd_http_requests_total{route="unmatched",status="404"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(surveyd_http_request_seconds_count{route="/healthz"} 1)"),
            std::string::npos);
  EXPECT_EQ(text.find("SECRETTOKEN123"), std::string::npos);
}

}  // namespace
}  // namespace surveyd::api
