#include "surveyd/api/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"
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

// Shared by the feed push and the WMNow callbacks: "<ts>.<body>" HMAC, at most 5 minutes old.
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

bool IsOptOutWord(std::string_view body) {
  auto begin = body.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return false;
  auto end = body.find_last_not_of(" \t\r\n.!");
  std::string word(body.substr(begin, end - begin + 1));
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  static const char* const kWords[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"};
  return std::any_of(std::begin(kWords), std::end(kWords),
                     [&](const char* w) { return word == w; });
}

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

http::Response HandleWmnowStatus(const ApiOptions& options, const http::Request& request) {
  if (!SignatureValid(request, options.wmnow_webhook_secret, "X-WMNow-Timestamp",
                      "X-WMNow-Signature", options.clock->Now())) {
    return JsonError(401, "unauthorized", "missing, stale or invalid X-WMNow-Signature");
  }
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("status") || !body["status"].is_string()) {
    return JsonError(400, "bad_request", "expected a JSON object with a status");
  }
  auto text = [&](const char* key) {
    return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
  };
  store::DeliveryStatus status;
  status.gateway = "wmnow";
  status.gateway_message_id = text("message_id");
  status.client_ref = text("client_ref");
  status.status = text("status");
  status.error_code = text("error_code");
  status.at = ParseRfc3339(text("at")).value_or(options.clock->Now());
  static const char* const kStatuses[] = {"sent", "delivered", "failed", "undeliverable",
                                          "expired"};
  if (std::none_of(std::begin(kStatuses), std::end(kStatuses),
                   [&](const char* s) { return status.status == s; })) {
    return JsonError(400, "bad_request", "unknown status '" + status.status + "'");
  }
  if (status.gateway_message_id.empty() && status.client_ref.empty()) {
    return JsonError(400, "bad_request", "message_id or client_ref is required");
  }
  const bool known = options.store->ApplyDeliveryStatus(status);
  if (!known) {
    spdlog::warn("wmnow status '{}' for an unknown message (message_id length {})", status.status,
                 status.gateway_message_id.size());
  }
  return http::Response::Json(200, json{{"ok", true}, {"known", known}}.dump());
}

http::Response HandleWmnowInbound(const ApiOptions& options, const http::Request& request) {
  if (!SignatureValid(request, options.wmnow_webhook_secret, "X-WMNow-Timestamp",
                      "X-WMNow-Signature", options.clock->Now())) {
    return JsonError(401, "unauthorized", "missing, stale or invalid X-WMNow-Signature");
  }
  auto body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("from") || !body["from"].is_string() ||
      !body.contains("body") || !body["body"].is_string()) {
    return JsonError(400, "bad_request", "expected a JSON object with from and body");
  }
  const auto number = phone::Normalize(body["from"].get<std::string>());
  bool opted_out = false;
  if (IsOptOutWord(body["body"].get<std::string>()) && !number.e164.empty()) {
    options.store->OptOut(number.e164, "sms_reply", options.clock->Now());
    opted_out = true;
    spdlog::info("opt-out by SMS reply from {}", phone::Mask(number.e164));
  }
  return http::Response::Json(200, json{{"ok", true}, {"opted_out", opted_out}}.dump());
}

namespace {

// Survey paths carry the token: logs name the route, never the path itself.
std::string_view LogName(const http::Request& request) {
  if (request.path.rfind("/s/", 0) == 0) return "/s/{token}";
  return std::string_view(request.path).substr(0, 64);
}

http::Response Serve(const ApiOptions& options, const http::Request& request);

// Answered without the database, the pool or any lock: a load balancer must see the process
// alive even while every worker is busy.
http::Response Alive() { return http::Response::Json(200, R"({"status":"alive"})"); }

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

}  // namespace

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

namespace {

http::Response Serve(const ApiOptions& options, const http::Request& request) {
  {
    const auto& path = request.path;
    const bool get = request.method == "GET" || request.method == "HEAD";
    const bool post = request.method == "POST";
    try {
      if (path.rfind("/s/", 0) == 0) return options.survey_pages(request);
      if (path == "/healthz" && get) return Alive();
      if (path == "/readyz" && get) {
        auto readiness = options.readiness();
        return http::Response::Json(readiness.ready ? 200 : 503, readiness.body);
      }
      if (path == "/api/v1/feed/events" && post) return HandleFeedPush(options, request);
      if (path == "/api/v1/gateway/wmnow/status" && post)
        return HandleWmnowStatus(options, request);
      if (path == "/api/v1/gateway/wmnow/inbound" && post) {
        return HandleWmnowInbound(options, request);
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
