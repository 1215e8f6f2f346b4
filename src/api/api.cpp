#include "surveyd/api/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/sms_reply.hpp"
#include "surveyd/feed/event_parser.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxSignatureAgeSeconds = 300;

http::Response JsonError(int status, std::string_view code, std::string_view message) {
  return http::Response::Json(status, json{{"error", code}, {"message", message}}.dump());
}

http::Response Unavailable() {
  auto response = JsonError(503, "unavailable", "the database is unavailable; try again shortly");
  response.Set("Retry-After", "5");
  return response;
}

// The feed push: "<ts>.<body>" HMAC, at most 5 minutes old. (Gateways check their own.)
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

bool AnalystAuthorized(const ApiOptions& options, const http::Request& request) {
  if (options.analyst_token.empty()) return false;
  const auto header = request.Header("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return false;
  return crypto::ConstantTimeEquals(header.substr(kBearer.size()), options.analyst_token);
}

store::StatsFilter ParseFilter(const http::Request& request, std::string& error) {
  store::StatsFilter filter;
  for (const auto& [key, value] : http::ParseForm(request.query)) {
    if (key == "from" || key == "to") {
      auto t = ParseRfc3339(value);
      if (!t) {
        error = key + " must be an RFC 3339 time";
        return filter;
      }
      (key == "from" ? filter.from : filter.to) = t;
    } else if (key == "group") {
      filter.group = value;
    } else {
      error = "unknown parameter '" + key + "'";
      return filter;
    }
  }
  return filter;
}

http::Response HandleFunnel(const ApiOptions& options, const http::Request& request) {
  std::string error;
  auto filter = ParseFilter(request, error);
  if (!error.empty()) return JsonError(400, "bad_request", error);
  const auto f = options.store->GetFunnel(filter);
  json reasons = json::object();
  for (const auto& [reason, count] : f.excluded_by_reason) reasons[reason] = count;
  const auto rate = [](std::int64_t k, std::int64_t n) {
    auto [low, high] = WilsonInterval(k, n);
    return json{{"rate", Rate(k, n)}, {"ci95", {low, high}}};
  };
  json body = {
      {"events",
       {{"received", f.events_received},
        {"rejected", f.events_rejected},
        {"duplicate", f.events_duplicate},
        {"ignored", f.events_ignored},
        {"excluded", f.events_excluded},
        {"excluded_by_reason", reasons}}},
      {"surveys",
       {{"created", f.surveys_created},
        {"pending", f.pending},
        {"sent", f.sms_accepted},
        {"delivered", f.sms_delivered},
        {"failed", f.sms_failed},
        {"expired", f.sms_expired},
        {"opened", f.opened},
        {"answered", f.answered}}},
      {"response_rate", rate(f.answered, f.sms_accepted)},
  };
  return http::Response::Json(200, body.dump());
}

http::Response HandleQuestions(const ApiOptions& options, const http::Request& request) {
  std::string error;
  auto filter = ParseFilter(request, error);
  if (!error.empty()) return JsonError(400, "bad_request", error);
  json questions = json::array();
  for (const auto& q : options.store->GetQuestionStats(filter)) {
    auto [low, high] = WilsonInterval(q.top_box, q.respondents);
    questions.push_back(
        {{"question", q.question},
         {"respondents", q.respondents},
         {"mean", q.respondents ? json(q.mean) : json(nullptr)},
         {"pct_8_10", q.respondents ? json(100 * Rate(q.top_box, q.respondents)) : json(nullptr)},
         {"pct_8_10_ci95", {100 * low, 100 * high}}});
  }
  return http::Response::Json(200, json{{"questions", questions}}.dump());
}

}  // namespace

double Rate(std::int64_t k, std::int64_t n) {
  return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0;
}

std::pair<double, double> WilsonInterval(std::int64_t k, std::int64_t n) {
  if (n <= 0) return {0, 0};
  constexpr double kZ = 1.959963984540054;
  const double p = static_cast<double>(k) / static_cast<double>(n);
  const double nn = static_cast<double>(n);
  const double denominator = 1 + kZ * kZ / nn;
  const double centre = (p + kZ * kZ / (2 * nn)) / denominator;
  const double half = kZ * std::sqrt(p * (1 - p) / nn + kZ * kZ / (4 * nn * nn)) / denominator;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

http::Response HandleFeedPush(const ApiOptions& options, const http::Request& request) {
  if (!SignatureValid(request, options.feed_secret, "X-Feed-Timestamp", "X-Feed-Signature",
                      options.clock->Now())) {
    return JsonError(401, "unauthorized", "missing, stale or invalid X-Feed-Signature");
  }
  auto items = feed::ParseBody(request.body, request.Header("Content-Type"), "push");
  if (items.empty()) return JsonError(400, "empty", "the body holds no events");
  auto results = options.store->IngestBatch(items, options.decider());
  if (options.on_ingested) options.on_ingested();

  json out = json::array();
  std::int64_t counts[3] = {0, 0, 0};
  for (const auto& r : results) {
    ++counts[static_cast<int>(r.outcome)];
    json entry = {{"event_id", r.event_id}, {"result", store::IngestOutcomeName(r.outcome)}};
    if (r.outcome == store::IngestOutcome::kRejected) entry["reason"] = r.reason;
    if (r.outcome == store::IngestOutcome::kAccepted) entry["decision"] = r.reason;
    out.push_back(std::move(entry));
  }
  json body = {
      {"results", out}, {"accepted", counts[0]}, {"duplicate", counts[1]}, {"rejected", counts[2]}};
  return http::Response::Json(202, body.dump());
}

http::Response HandleGatewayCallback(const ApiOptions& options, gateway::CallbackKind kind,
                                     const http::Request& request) {
  const gateway::Gateway& adapter = *options.gateway;
  const gateway::Callback callback = adapter.ParseCallback(kind, request, options.clock->Now());
  if (callback.verdict == gateway::CallbackVerdict::kUnauthorized ||
      callback.verdict == gateway::CallbackVerdict::kMalformed) {
    spdlog::warn("{} {} callback refused ({}): {}", adapter.Name(), gateway::CallbackKindName(kind),
                 gateway::CallbackVerdictName(callback.verdict), callback.problem);
    return adapter.CallbackAnswer(kind, callback.verdict, callback.problem);
  }
  if (const auto& report = callback.report) {
    store::DeliveryStatus status;
    status.gateway = report->gateway;
    status.gateway_message_id = report->gateway_message_id;
    status.client_ref = report->message_ref;
    status.status = DeliveryStateName(report->state);
    status.error_code = report->error_code;
    status.at = report->at;
    if (!options.store->ApplyDeliveryStatus(status)) {
      spdlog::warn("{} report '{}' for an unknown message (message_id length {})", report->gateway,
                   status.status, report->gateway_message_id.size());
    }
  }
  if (const auto& inbound = callback.inbound) {
    if (sms_reply::IsOptOut(inbound->body) && !inbound->from_e164.empty()) {
      options.store->OptOut(inbound->from_e164, "sms_reply", options.clock->Now());
      spdlog::info("opt-out by SMS reply through {} from {}", inbound->gateway,
                   phone::Mask(inbound->from_e164));
    }
  }
  return adapter.CallbackAnswer(kind, callback.verdict, callback.problem);
}

namespace {

// Survey paths carry the token: logs name the route, never the path itself.
std::string_view LogName(const http::Request& request) {
  if (request.path.rfind("/s/", 0) == 0) return "/s/{token}";
  return std::string_view(request.path).substr(0, 64);
}

http::Response Serve(const ApiOptions& options, const http::Request& request);

}  // namespace

std::string ClientAddress(const http::Request& request,
                          const std::vector<std::string>& trusted_proxies) {
  auto trusted = [&](std::string_view address) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), address) !=
           trusted_proxies.end();
  };
  if (!trusted(request.remote_address)) return request.remote_address;
  std::string_view forwarded = request.Header("X-Forwarded-For");
  std::string client = request.remote_address;
  while (!forwarded.empty()) {
    const auto comma = forwarded.rfind(',');
    std::string_view hop =
        comma == std::string_view::npos ? forwarded : forwarded.substr(comma + 1);
    forwarded = comma == std::string_view::npos ? std::string_view() : forwarded.substr(0, comma);
    hop.remove_prefix(std::min(hop.find_first_not_of(" \t"), hop.size()));
    hop = hop.substr(0, hop.find_last_not_of(" \t") + 1);
    if (hop.empty()) continue;
    client = std::string(hop);
    if (!trusted(hop)) break;
  }
  return client;
}

http::Handler MakeApiHandler(ApiOptions options) {
  return [options = std::move(options)](const http::Request& original) {
    // Per-client limits must see the client, not the reverse proxy in front of us.
    std::optional<http::Request> rewritten;
    if (!options.trusted_proxies.empty()) {
      rewritten = original;
      rewritten->remote_address = ClientAddress(original, options.trusted_proxies);
    }
    const http::Request& request = rewritten ? *rewritten : original;
    auto response = Serve(options, request);
    // Baseline headers for every answer; the survey pages set stricter ones of their own.
    static constexpr std::pair<const char*, const char*> kDefaults[] = {
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-store"},
        {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
    };
    for (const auto& [name, value] : kDefaults) {
      if (http::FindHeader(response.headers, name).empty()) response.Set(name, value);
    }
    return response;
  };
}

namespace {

http::Response Serve(const ApiOptions& options, const http::Request& request) {
  {
    const auto& path = request.path;
    const bool get = request.method == "GET" || request.method == "HEAD";
    const bool post = request.method == "POST";
    try {
      if (path.rfind("/s/", 0) == 0) return options.survey_pages(request);
      if (path == "/healthz" && get) return http::Response::Json(200, R"({"status":"alive"})");
      if (path == "/readyz" && get) {
        auto readiness = options.readiness();
        return http::Response::Json(readiness.ready ? 200 : 503, readiness.body);
      }
      if (path == "/api/v1/feed/events" && post) return HandleFeedPush(options, request);
      if (options.gateway) {
        for (auto kind : {gateway::CallbackKind::kStatus, gateway::CallbackKind::kInbound}) {
          if (path == gateway::CallbackPath(options.gateway->Name(), kind) && (get || post)) {
            return HandleGatewayCallback(options, kind, request);
          }
        }
      }
      if (path.rfind("/api/v1/stats/", 0) == 0 && get) {
        if (options.analyst_token.empty()) {
          return JsonError(403, "disabled", "set api.analyst_token to enable the stats endpoints");
        }
        if (!AnalystAuthorized(options, request)) {
          auto response = JsonError(401, "unauthorized", "a valid bearer token is required");
          response.Set("WWW-Authenticate", "Bearer");
          return response;
        }
        if (path == "/api/v1/stats/funnel") return HandleFunnel(options, request);
        if (path == "/api/v1/stats/questions") return HandleQuestions(options, request);
      }
      return JsonError(404, "not_found", "no such endpoint");
    } catch (const store::Unavailable& e) {
      spdlog::warn("{} {}: store unavailable: {}", request.method, LogName(request), e.what());
      return Unavailable();
    } catch (const std::exception& e) {
      // Caught here rather than by the server, which would log the path: survey paths hold tokens.
      spdlog::error("{} {}: {}", request.method, LogName(request), e.what());
      return JsonError(500, "internal", "internal error");
    }
  }
}

}  // namespace

}  // namespace surveyd::api
