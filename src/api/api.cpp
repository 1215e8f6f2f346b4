// The API handler: finds the route, authenticates and authorises, runs the handler, and catches
// what it throws, once, here.
#include "surveyd/api/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "routes.hpp"
#include "surveyd/core/crypto.hpp"

namespace surveyd::api {

constexpr std::int64_t kMaxSignatureAgeSeconds = 300;

http::Response JsonError(int status, std::string_view code, std::string_view message) {
  return http::Response::Json(status, nlohmann::json{{"error", code}, {"message", message}}.dump());
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
  // The citizen's pages: the token is in the path, so the route's name is what gets logged.
  for (const char* method : {"GET", "POST"}) {
    router.Add({method, "/s/{*rest}", std::nullopt, "/s/{token}",
                [&options](const Call& call) { return options.survey_pages(call.request); }});
  }
  return router;
}

namespace {

// Baseline headers for every answer; the survey pages set stricter ones of their own.
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
  explicit Api(ApiOptions o) : options(std::move(o)), router(BuildRouter(options)) {}
  const ApiOptions options;
  const Router router;
};

http::Response Unauthorized() {
  auto response = JsonError(401, "unauthorized", "a valid bearer token is required");
  response.Set("WWW-Authenticate", "Bearer");
  return response;
}

// Authorises and runs one matched route. Exceptions are caught here, once, and logged with the
// route's name: survey paths hold tokens, so the path itself is never logged.
http::Response Dispatch(const Api& api, const http::Request& request) {
  const Router::Match match = api.router.Find(request.method, request.path);
  if (match.route == nullptr) {
    if (match.allow.empty()) return JsonError(404, "not_found", "no such endpoint");
    auto response = JsonError(405, "method_not_allowed", "method not allowed here");
    response.Set("Allow", match.allow);
    return response;
  }
  const Route& route = *match.route;
  try {
    std::optional<Principal> principal;
    if (route.role) {
      if (api.options.authenticator == nullptr) {
        return JsonError(403, "disabled", "no API tokens are configured");
      }
      const std::string_view token = BearerToken(request);
      if (!token.empty()) principal = api.options.authenticator->Authenticate(token);
      if (!principal) return Unauthorized();
      if (!Grants(principal->role, *route.role)) {
        return JsonError(403, "forbidden",
                         std::string("this needs the ") + RoleName(*route.role) + " role");
      }
    }
    const Call call{request, match.params, principal ? &*principal : nullptr};
    return route.handler(call);
  } catch (const store::Unavailable& e) {
    spdlog::warn("{} {}: store unavailable: {}", request.method, route.name, e.what());
    auto response = JsonError(503, "unavailable", "the database is unavailable; try again shortly");
    response.Set("Retry-After", "5");
    return response;
  } catch (const std::exception& e) {
    spdlog::error("{} {}: {}", request.method, route.name, e.what());
    return JsonError(500, "internal", "internal error");
  }
}

}  // namespace

http::Handler MakeApiHandler(ApiOptions options) {
  auto api = std::make_shared<const Api>(std::move(options));
  return [api](const http::Request& original) {
    // Per-client limits must see the client, not the reverse proxy in front of us.
    std::optional<http::Request> rewritten;
    if (!api->options.trusted_proxies.empty()) {
      rewritten = original;
      rewritten->remote_address = ClientAddress(original, api->options.trusted_proxies);
    }
    const http::Request& request = rewritten ? *rewritten : original;
    auto response = Dispatch(*api, request);
    AddBaselineHeaders(response);
    return response;
  };
}

http::FastHandler MakeApiFastHandler(ApiOptions options) {
  return [options =
              std::move(options)](const http::Request& original) -> std::optional<http::Response> {
    const bool get = original.method == "GET" || original.method == "HEAD";
    std::optional<http::Response> response;
    if (original.path == "/healthz" && get) {
      response = Alive();
    } else if (options.survey_pages_fast && original.path.rfind("/s/", 0) == 0) {
      if (options.trusted_proxies.empty()) {
        response = options.survey_pages_fast(original);
      } else {
        http::Request request = original;
        request.remote_address = ClientAddress(original, options.trusted_proxies);
        response = options.survey_pages_fast(request);
      }
    }
    if (response) AddBaselineHeaders(*response);
    return response;
  };
}

}  // namespace surveyd::api
