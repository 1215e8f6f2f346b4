#pragma once
// The daemon's HTTP surface, as one handler: feed push, gateway callbacks, health, analyst stats,
// and the citizen's survey pages (delegated to survey::MakeSurveyHandler).
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "surveyd/core/clock.hpp"
#include "surveyd/gateway/gateway.hpp"
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
  std::function<store::DecideFn()> decider;   // decisions under the rules in force right now
  std::string feed_secret;                    // HMAC key of POST /api/v1/feed/events
  const gateway::Gateway* gateway = nullptr;  // reads /api/v1/gateway/{its name}/...
  std::string analyst_token;                  // bearer token of /api/v1/stats/*; empty: disabled
  http::Handler survey_pages;                 // /s/...
  std::function<Readiness()> readiness;       // /readyz
  std::function<void()> on_ingested;          // new surveys may be due: wake the dispatcher
  std::vector<std::string> trusted_proxies;   // peers whose X-Forwarded-For names the client
};

// The client's address: the peer, or, when the peer is a trusted proxy, the right-most address
// in X-Forwarded-For that is not itself a trusted proxy (the left part can be forged).
std::string ClientAddress(const http::Request& request,
                          const std::vector<std::string>& trusted_proxies);

http::Handler MakeApiHandler(ApiOptions options);

// Feed push (delivery 2): checks the timestamp (at most 5 minutes old) and the signature, stores
// the events and answers 202 with one result per event, only after they are committed.
http::Response HandleFeedPush(const ApiOptions& options, const http::Request& request);
// A gateway's callback (CallbackPath(gateway->Name(), kind)): the adapter verifies and reads
// it; a delivery report moves the message on, an opt-out reply opts the number out. Refused
// callbacks (401, 400) change nothing. The answer is the one the adapter says its gateway is owed.
http::Response HandleGatewayCallback(const ApiOptions& options, gateway::CallbackKind kind,
                                     const http::Request& request);

// k out of n as a fraction (0 when n == 0).
double Rate(std::int64_t k, std::int64_t n);

// 95% Wilson score interval for k successes out of n: honest for small n, where the plain
// proportion misleads. Returns {0, 0} for n == 0.
std::pair<double, double> WilsonInterval(std::int64_t k, std::int64_t n);

}  // namespace surveyd::api
