#pragma once
// The daemon's HTTP surface, as one handler: feed push, gateway callbacks, health, analyst stats,
// and the citizen's survey pages (delegated to survey::SurveyPages).
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "surveyd/core/clock.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/store/store.hpp"

namespace surveyd::api {

struct Readiness {
  bool ready = false;
  std::string body;  // JSON describing each check
};

struct ApiOptions {
  store::Store* store = nullptr;
  const Clock* clock = nullptr;
  std::function<store::DecideFn()> decider;  // decisions under the rules in force right now
  std::string feed_secret;                   // HMAC key of POST /api/v1/feed/events
  std::string wmnow_webhook_secret;          // HMAC key of WMNow callbacks
  std::string analyst_token;                 // bearer token of /api/v1/stats/*; empty: disabled
  http::Handler survey_pages;                // /s/...
  http::FastHandler survey_pages_fast;       // /s/... answered on the I/O thread; may be empty
  std::function<Readiness()> readiness;      // /readyz
  std::function<void()> on_ingested;         // new surveys may be due: wake the dispatcher
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For names the client
};

// The client's address: the peer, or, when the peer is a trusted proxy, the right-most address
// in X-Forwarded-For (every such header, in order) that is not itself a trusted proxy: the left
// part can be forged. Addresses are compared in canonical form ("::ffff:10.0.0.1" is 10.0.0.1);
// a trusted proxy may be an address or a CIDR range ("10.0.0.0/8"). A hop that is not an address
// ends the walk at the last trusted hop, so junk never becomes a client of its own.
std::string ClientAddress(const http::Request& request,
                          const std::vector<std::string>& trusted_proxies);

http::Handler MakeApiHandler(ApiOptions options);
// The part of the API that never blocks, for the server's I/O threads (http::FastHandler):
// /healthz, and the survey pages' own fast path.
http::FastHandler MakeApiFastHandler(ApiOptions options);

// Feed push (delivery 2): checks the timestamp (at most 5 minutes old) and the signature, stores
// the events and answers 202 with one result per event, only after they are committed.
http::Response HandleFeedPush(const ApiOptions& options, const http::Request& request);
http::Response HandleWmnowStatus(const ApiOptions& options, const http::Request& request);
http::Response HandleWmnowInbound(const ApiOptions& options, const http::Request& request);

// "STOP", " stop ", "Unsubscribe"... (../shared/spec/gateway.md): true when the whole message
// is one opt-out word.
bool IsOptOutWord(std::string_view body);

// k out of n as a fraction (0 when n == 0).
double Rate(std::int64_t k, std::int64_t n);

// 95% Wilson score interval for k successes out of n: honest for small n, where the plain
// proportion misleads. Returns {0, 0} for n == 0.
std::pair<double, double> WilsonInterval(std::int64_t k, std::int64_t n);

}  // namespace surveyd::api
