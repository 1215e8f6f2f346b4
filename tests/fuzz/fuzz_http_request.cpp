// libFuzzer target: raw bytes through Beast's request parser, with the server's limits, into the
// whole API (the I/O-thread fast path first, then the full handler, as the server does), over an
// in-memory store. Pushed events are signed by the harness, so that the fuzzer reaches the event
// parser and ingest behind the signature check rather than stopping at it.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "fakes/manual_clock.hpp"
#include "fuzz/fuzz_store.hpp"
#include "http/beast_request.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/survey/handler.hpp"

namespace {

namespace bhttp = boost::beast::http;
using surveyd::http::Request;

constexpr char kFeedSecret[] = "feed-secret-feed-secret";
constexpr char kAnalystToken[] = "analyst-token-analyst-token";

struct Harness {
  Harness()
      : clock(surveyd::FromUnixSeconds(1'850'000'000)),
        authenticator(surveyd::api::MakeStaticAuthenticator(
            kAnalystToken, {"fuzz", "fuzz", surveyd::api::Role::kAdmin})) {
    surveyd::survey::SurveyHandlerOptions survey_options(store, clock);
    survey_options.open_flush_interval = std::chrono::hours(1);
    pages = std::make_unique<surveyd::survey::SurveyPages>(survey_options);
    surveyd::api::ApiOptions options;
    options.ingest = &store;
    options.outbox = &store;
    options.surveys = &store;
    options.stats = &store;
    options.authenticator = authenticator.get();
    options.clock = &clock;
    options.decider = [] {
      return
          [](const surveyd::Event&, const surveyd::ContactHistory&, const surveyd::RelatedEvents&) {
            surveyd::Decision d;
            d.reason = "no_group";
            return d;
          };
    };
    options.feed_secret = kFeedSecret;
    options.trusted_proxies = {"192.0.2.1", "10.0.0.0/8"};
    options.survey_pages = [this](const Request& r) { return pages->Handle(r); };
    options.survey_pages_fast = [this](const Request& r) { return pages->HandleFast(r); };
    options.readiness = [] { return surveyd::api::Readiness{true, "{}", {}}; };
    handler = surveyd::api::MakeApiHandler(options);
    fast = surveyd::api::MakeApiFastHandler(options);
  }

  surveyd::fuzz::FuzzStore store;
  surveyd::testing::ManualClock clock;
  std::unique_ptr<surveyd::api::Authenticator> authenticator;
  std::unique_ptr<surveyd::survey::SurveyPages> pages;
  surveyd::http::Handler handler;
  surveyd::http::FastHandler fast;
};

void Sign(Request& request, const std::string& prefix, std::int64_t now) {
  const std::string timestamp = std::to_string(now);
  request.headers.emplace_back(prefix + "-Timestamp", timestamp);
  request.headers.emplace_back(prefix + "-Signature", surveyd::crypto::SignTimestamped(
                                                          kFeedSecret, timestamp, request.body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness* harness = new Harness();  // lives for the whole run, like the daemon's
  bhttp::request_parser<bhttp::string_body> parser;
  surveyd::http::SetLimits(parser, 16 * 1024, 64 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (!parser.is_done() && used < size) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec) return 0;  // the server answers 400/413/431 and closes: nothing reaches a handler
    used += n;
    if (n == 0) break;
  }
  if (!parser.is_done()) {
    // The connection ends here. Nothing read at all is a client that went away, as for the server.
    if (!parser.got_some()) return 0;
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  Request request = surveyd::http::ToRequest(parser.release(), "192.0.2.1");
  const std::int64_t now = surveyd::ToUnixSeconds(harness->clock.Now());
  if (request.method == "POST" && request.path == "/api/v1/feed/events") {
    Sign(request, "X-Feed", now);
  } else if (request.method == "POST" && request.path.rfind("/api/v1/gateway/wmnow/", 0) == 0) {
    Sign(request, "X-WMNow", now);
  }

  auto response = harness->fast(request);
  if (!response) response = harness->handler(request);
  if (response->status < 100 || response->status > 599) std::abort();
  if (request.path.rfind("/s/", 0) == 0 &&
      surveyd::http::FindHeader(response->headers, "Content-Security-Policy").empty()) {
    std::abort();  // every survey answer carries the strict policy
  }
  harness->clock.Advance(std::chrono::seconds(1));  // caches and rate limits move on
  return 0;
}
