// SMS gateway callbacks: delivery reports and citizens' replies.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "routes.hpp"
#include "surveyd/core/phone.hpp"

namespace surveyd::api {

using nlohmann::json;

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
  const bool known = options.outbox->ApplyDeliveryStatus(status);
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
    options.surveys->OptOut(number.e164, "sms_reply", options.clock->Now());
    opted_out = true;
    spdlog::info("opt-out by SMS reply from {}", phone::Mask(number.e164));
  }
  return http::Response::Json(200, json{{"ok", true}, {"opted_out", opted_out}}.dump());
}

void AddGatewayRoutes(Router& router, const ApiOptions& options) {
  router.Add({"POST", "/api/v1/gateway/wmnow/status", std::nullopt, "",
              [&options](const Call& call) { return HandleWmnowStatus(options, call.request); }});
  router.Add({"POST", "/api/v1/gateway/wmnow/inbound", std::nullopt, "",
              [&options](const Call& call) { return HandleWmnowInbound(options, call.request); }});
}

}  // namespace surveyd::api
