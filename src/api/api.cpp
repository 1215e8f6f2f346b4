// The API handler: finds the route, authenticates and authorises, runs the handler, and catches
// what it throws, once, here.
#include "surveyd/api/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "routes.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/failure_log.hpp"
#include "surveyd/core/log_context.hpp"
#include "surveyd/survey/rate_limiter.hpp"

namespace surveyd::api {

constexpr std::int64_t kMaxSignatureAgeSeconds = 300;

TimePoint ApiNow(const ApiOptions& options) {
  return options.clock != nullptr ? options.clock->Now() : SystemClock().Now();
}

http::Response JsonError(int status, std::string_view code, std::string_view message) {
  // The message may quote a request's bytes (an unknown parameter's name): never a throw for them.
  return http::Response::Json(status,
                              nlohmann::json{{"error", code}, {"message", message}}.dump(
                                  -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {

// The body as a JSON object: an empty body is an empty object; nullopt with `error` set when it
// is something else.
std::optional<nlohmann::json> BodyObject(const http::Request& request, std::string& error) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return nlohmann::json::object();
  }
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  return body;
}

}  // namespace

std::optional<std::string> BodyText(const http::Request& request, const char* name,
                                    std::string& error) {
  const auto body = BodyObject(request, error);
  if (!body) return std::nullopt;
  if (!body->contains(name)) return std::string();
  if (!(*body)[name].is_string()) {
    error = std::string(name) + " must be text";
    return std::nullopt;
  }
  std::string text = (*body)[name].get<std::string>();
  text.erase(0, text.find_first_not_of(" \t\r\n"));
  text.erase(text.find_last_not_of(" \t\r\n") + 1);
  if (text.size() > 2000) {
    error = std::string(name) + " is longer than 2,000 characters";
    return std::nullopt;
  }
  return text;
}

std::optional<bool> BodyFlag(const http::Request& request, const char* name, std::string& error) {
  const auto body = BodyObject(request, error);
  if (!body) return std::nullopt;
  if (!body->contains(name)) return false;
  if (!(*body)[name].is_boolean()) {
    error = std::string(name) + " must be true or false";
    return std::nullopt;
  }
  return (*body)[name].get<bool>();
}

bool SignatureValid(const http::Request& request, std::string_view secret,
                    std::string_view timestamp_header, std::string_view signature_header,
                    TimePoint now) {
  if (secret.empty()) return false;
  const auto timestamp = std::string(request.Header(timestamp_header));
  std::int64_t seconds = 0;
  try {
    std::size_t used = 0;
    seconds = std::stoll(timestamp, &used);
    if (used != timestamp.size()) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (std::llabs(ToUnixSeconds(now) - seconds) > kMaxSignatureAgeSeconds) return false;
  return crypto::VerifyTimestampedSignature(secret, timestamp, request.body,
                                            request.Header(signature_header));
}

Router BuildRouter(const ApiOptions& options) {
  Router router;
  AddHealthRoutes(router, options);
  AddFeedRoutes(router, options);
  AddGatewayRoutes(router, options);
  AddStatsRoutes(router, options);
  AddAlertRoutes(router, options);
  AddRecognitionRoutes(router, options);
  AddResponsesRoutes(router, options);
  AddOpsRoutes(router, options);
  AddAdminRoutes(router, options);
  AddDocsRoutes(router, options);
  AddMetricsRoutes(router, options);
  // The citizen's pages: the token is in the path, so the route's name is what gets logged. The
  // stop link has its own, first, so that opt-outs count apart; the rest of a path (a link copied
  // with what followed it) is the pages' to answer.
  const RouteHandler pages = [&options](const Call& call) {
    return options.survey_pages(call.request);
  };
  for (const char* method : {"GET", "POST"}) {
    router.Add({method, "/s/{token}/stop", std::nullopt, "/s/{token}/stop", pages});
    router.Add({method, "/s/{*rest}", std::nullopt, "/s/{token}", pages});
  }
  // The site's address alone (a citizen checking that the text is genuine, or a link cut to it):
  // the pages' "this link does not work", with how to reach the force, not the API's JSON.
  router.Add({"GET", "/", std::nullopt, "/", pages});
  return router;
}

namespace {

// Baseline headers for every answer; the survey pages and the dashboard set their own.
void AddBaselineHeaders(http::Response& response) {
  static constexpr std::pair<const char*, const char*> kDefaults[] = {
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"Cache-Control", "no-store"},
      {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
  };
  for (const auto& [name, value] : kDefaults) {
    if (http::FindHeader(response.headers, name).empty()) response.Set(name, value);
  }
}

struct Api {
  explicit Api(ApiOptions o)
      : options(std::move(o)),
        router(BuildRouter(options)),
        bad_tokens(options.clock != nullptr ? *options.clock : system_clock,
                   options.bad_token_limit_per_minute),
        audit_failures("api: audit trail",
                       options.clock != nullptr ? *options.clock : system_clock) {
    if (options.metrics != nullptr) {
      requests = &options.metrics->Counters(
          "surveyd_http_requests_total", "HTTP requests by route and status.", {"route", "status"});
      seconds = &options.metrics->Histograms("surveyd_http_request_seconds",
                                             "Time to answer an HTTP request, by route.", {"route"},
                                             metrics::LatencyBuckets());
    }
  }
  const ApiOptions options;
  const Router router;
  const SystemClock system_clock;
  survey::RateLimiter bad_tokens;  // per client: wrong bearer tokens
  // The trail's write failures, said as an outage (once, now and then, once when it ends): an
  // ops poll of health every second wrote a warning a second through a database outage.
  FailureLog audit_failures;
  metrics::CounterFamily* requests = nullptr;
  metrics::HistogramFamily* seconds = nullptr;
};

http::Response Unauthorized() {
  auto response = JsonError(401, "unauthorized", "a valid bearer token is required");
  response.Set("WWW-Authenticate", "Bearer");
  return response;
}

http::Response MethodNotAllowed(const std::string& allow) {
  auto response = JsonError(405, "method_not_allowed", "method not allowed here");
  response.Set("Allow", allow);
  return response;
}

http::Response Unavailable() {
  auto response = JsonError(503, "unavailable", "the database is unavailable; try again shortly");
  response.Set("Retry-After", "5");
  return response;
}

// Runs a route's handler. Exceptions are caught here, once, and logged with the route's name:
// survey paths hold tokens, so the path itself is never logged.
http::Response Run(const Route& route, const Call& call) {
  try {
    return route.handler(call);
  } catch (const store::Unavailable& e) {
    spdlog::warn("{} {}: store unavailable: {}", call.request.method, route.name, e.what());
    return Unavailable();
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", call.request.method, route.name, e.what());
    return JsonError(500, "internal", "internal error");
  }
}

// Authenticates and authorises a call to a role-protected route, then runs it. Sets `principal`
// when the token was valid. Wrong tokens count against the client; past the limit it is
// answered 429 without even looking at the token.
// `before_run`, once the caller may call the route: an answer instead of running it, or nothing.
http::Response Protected(Api& api, const Route& route, const Router::Match& match,
                         const http::Request& request, std::optional<Principal>& principal,
                         const std::function<std::optional<http::Response>()>& before_run) {
  if (api.options.authenticator == nullptr) {
    return JsonError(403, "disabled", "no API tokens are configured");
  }
  const std::string client = survey::RateLimitKey(request.remote_address);
  if (api.bad_tokens.IsLimited(client)) {
    auto response = JsonError(429, "too_many_attempts", "too many wrong tokens; try again later");
    response.Set("Retry-After", "60");
    return response;
  }
  const std::string_view token = BearerToken(request);
  if (token.empty()) return Unauthorized();
  try {
    principal = api.options.authenticator->Authenticate(token);
  } catch (const store::Unavailable& e) {
    spdlog::warn("{} {}: cannot check the token: {}", request.method, route.name, e.what());
    return Unavailable();
  }
  if (!principal) {
    api.bad_tokens.RecordFailure(client);
    return Unauthorized();
  }
  if (!route.Allows(principal->role)) {
    std::string roles = RoleName(*route.role);
    for (Role other : route.also) roles += std::string(" or ") + RoleName(other);
    return JsonError(403, "forbidden", "this needs the " + roles + " role");
  }
  if (auto instead = before_run()) return std::move(*instead);
  return Run(route, Call{request, match.params, &*principal});
}

// The names of the query parameters, for the audit trail; anything that does not look like one
// of ours (it could be anything a client typed) is recorded as "?".
std::vector<std::string> ParameterNames(const http::Request& request) {
  std::vector<std::string> names;
  for (const auto& [name, value] : http::ParseForm(request.query)) {
    const bool ours = !name.empty() && name.size() <= 32 &&
                      std::all_of(name.begin(), name.end(),
                                  [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
    names.push_back(ours ? name : "?");
  }
  return names;
}

// The record a protected route's path names (alerts/{id}, surveys/{id}, tokens/{id}), for the
// audit trail: who opened which alert's comment. Ids only; anything else is recorded as "?".
std::string Subject(const Router::Match& match) {
  std::string subject;
  for (const auto& [name, value] : match.params) {
    const bool id =
        !value.empty() && value.size() <= 64 && std::all_of(value.begin(), value.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        });
    subject += (subject.empty() ? "" : " ") + (id ? value : std::string("?"));
  }
  return subject;
}

// `route_name` is set to the matched route's name (never the path: survey paths hold tokens).
http::Response Dispatch(Api& api, const http::Request& request, std::string& route_name) {
  const Router::Match match = api.router.Find(request.method, request.path);
  route_name = match.route == nullptr ? "unmatched" : match.route->name;
  if (match.route == nullptr && match.allow.empty()) {
    return JsonError(404, "not_found", "no such endpoint");
  }
  const Route& route = match.route != nullptr ? *match.route : *match.path_route;
  if (!route.role) {
    if (match.route == nullptr) return MethodNotAllowed(match.allow);
    return Run(route, Call{request, match.params, nullptr});
  }

  const auto started = std::chrono::steady_clock::now();
  std::optional<Principal> principal;
  auto entry_of = [&](const http::Response* response) {
    store::AuditEntry entry;
    entry.at = ApiNow(api.options);
    if (principal) {
      entry.token_id = principal->id;
      entry.role = RoleName(principal->role);
    }
    entry.method = request.method;
    entry.route = route.name;
    entry.params = ParameterNames(request);
    entry.subject = Subject(match);
    if (response != nullptr) {
      entry.status = response->status;
      if (const auto rows = http::FindHeader(response->headers, "X-Row-Count"); !rows.empty()) {
        entry.rows = std::strtoll(std::string(rows).c_str(), nullptr, 10);
      }
      entry.duration_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
    }
    return entry;
  };
  // A change (a token made or revoked, an alert resolved, a number revealed, texts held) is on
  // record before it is made, as begun (status 0; its outcome follows): one the trail cannot
  // hold is not made. Recorded after, it would be made and then answered 503, unaudited, and a
  // retry would make it twice.
  const bool changes = request.method != "GET" && request.method != "HEAD";
  auto record_begun = [&]() -> std::optional<http::Response> {
    if (!changes || api.options.audit == nullptr) return std::nullopt;
    try {
      api.options.audit->RecordCall(entry_of(nullptr));
    } catch (const store::Unavailable& e) {
      spdlog::warn("{} {}: cannot write the audit trail: {}; nothing changed", request.method,
                   route.name, e.what());
      return Unavailable();
    }
    return std::nullopt;
  };
  // A wrong method at a protected route (DELETE of a token's list, say) is answered without
  // looking at the token, and kept on the trail as any other call to the route is.
  http::Response response = match.route == nullptr
                                ? MethodNotAllowed(match.allow)
                                : Protected(api, route, match, request, principal, record_begun);
  if (api.options.audit == nullptr) return response;
  try {
    api.options.audit->RecordCall(entry_of(&response));
    api.audit_failures.Succeeded();
  } catch (const store::Unavailable& e) {
    api.audit_failures.Failed(std::string("cannot write the audit trail: ") + e.what());
    spdlog::debug("{} {}: not on the audit trail", request.method, route.name);
    // Unaudited data does not leave: fail closed. Health is the exception: it holds no personal
    // data, and it is what ops need to see when the database cannot be written (a fail-over to
    // a read-only replica, a full disk). A change made is answered as made: it is on record as
    // begun.
    if (route.name != "/api/v1/health" && !changes) return Unavailable();
  }
  return response;
}

}  // namespace

http::Handler MakeApiHandler(ApiOptions options) {
  auto api = std::make_shared<Api>(std::move(options));
  return [api](const http::Request& original) {
    // Every log line written for this request carries its id, and so does the answer.
    const ScopedLogContext log_context({NewRequestId(), 0});
    // Per-client limits must see the client, not the reverse proxy in front of us.
    std::optional<http::Request> rewritten;
    if (!api->options.trusted_proxies.empty()) {
      rewritten = original;
      rewritten->remote_address = ClientAddress(original, api->options.trusted_proxies);
    }
    const http::Request& request = rewritten ? *rewritten : original;
    const auto started = std::chrono::steady_clock::now();
    std::string route;  // the route's name, never the path: survey paths hold tokens
    auto response = Dispatch(*api, request, route);
    if (api->requests != nullptr) {
      api->requests->With({route, std::to_string(response.status)}).Inc();
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      api->seconds->With({route}).Observe(took.count());
    }
    AddBaselineHeaders(response);
    response.Set("X-Request-Id", CurrentLogContext().request_id);
    return response;
  };
}

http::FastHandler MakeApiFastHandler(ApiOptions options) {
  // Counted like the rest, under the same names.
  metrics::CounterFamily* requests = nullptr;
  if (options.metrics != nullptr) {
    requests = &options.metrics->Counters(
        "surveyd_http_requests_total", "HTTP requests by route and status.", {"route", "status"});
  }
  return [options = std::move(options),
          requests](const http::Request& original) -> std::optional<http::Response> {
    const bool get = original.method == "GET" || original.method == "HEAD";
    std::optional<http::Response> response;
    const char* route = "";
    if (original.path == "/healthz" && get) {
      response = Alive();
      route = "/healthz";
    } else if (options.survey_pages_fast &&
               (original.path.rfind("/s/", 0) == 0 || (original.path == "/" && get))) {
      route = original.path == "/" ? "/" : "/s/{token}";
      if (options.trusted_proxies.empty()) {
        response = options.survey_pages_fast(original);
      } else {
        http::Request request = original;
        request.remote_address = ClientAddress(original, options.trusted_proxies);
        response = options.survey_pages_fast(request);
      }
    }
    if (response) {
      AddBaselineHeaders(*response);
      if (requests != nullptr) requests->With({route, std::to_string(response->status)}).Inc();
    }
    return response;
  };
}

}  // namespace surveyd::api
