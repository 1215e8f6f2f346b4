#include "surveyd/gateway/wmnow.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "gateway/common.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/utf8.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway {
namespace {

using detail::ParseObject;

constexpr std::string_view kTimestampHeader = "X-WMNow-Timestamp";
constexpr std::string_view kWmnowSignatureHeader = "X-WMNow-Signature";

std::string StringField(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// WMNow's status words (spec section 1); anything else is refused.
std::optional<DeliveryState> StateFromWmnow(std::string_view status) {
  if (status == "sent") return DeliveryState::kSent;
  if (status == "delivered") return DeliveryState::kDelivered;
  if (status == "failed") return DeliveryState::kFailed;
  if (status == "undeliverable") return DeliveryState::kUndeliverable;
  if (status == "expired") return DeliveryState::kExpired;
  return std::nullopt;
}

SendResult FromWmnowAnswer(const http::ClientResponse& response) {
  SendResult result;
  result.http_status = response.status;
  const int status = response.status;
  if ((status >= 200 && status < 300) || status == 409) {
    // 409: this client_ref was accepted before; the body names the message it became.
    result.status = SendStatus::kAccepted;
    result.message_id = StringField(ParseObject(response.body), "message_id");
    if (result.message_id.empty()) result.error = "accepted without a message_id";
  } else if (status == 400) {
    result.status = SendStatus::kPermanent;
    result.error = detail::SafeCode(StringField(ParseObject(response.body), "error"));
    if (result.error.empty()) result.error = "http 400";
  } else if (status == 401 || status == 403) {
    result.status = SendStatus::kAuth;
    result.error = "http " + std::to_string(status) + ": credentials refused";
  } else if (status == 429) {
    result.status = SendStatus::kThrottled;
    result.retry_after = detail::ParseRetryAfter(response.Header("Retry-After"));
    result.error = "http 429";
  } else {
    // WMNow is idempotent on client_ref: whatever a 5xx means, a retry cannot text twice.
    result.status = SendStatus::kTransient;
    result.error = status >= 500 ? "http " + std::to_string(status)
                                 : "unexpected http status " + std::to_string(status);
  }
  return result;
}

class WmnowGateway final : public Gateway {
 public:
  explicit WmnowGateway(WmnowOptions options) : options_(std::move(options)) {
    options_.base_url = detail::WithoutTrailingSlash(options_.base_url);
    if (!options_.client) options_.client = http::MakeClientPool();
  }

  std::string Name() const override { return "wmnow"; }
  bool Idempotent() const override { return true; }

  SendResult Send(const OutgoingSms& sms) override { return SendAll({sms}).front(); }

  std::vector<SendResult> SendAll(const std::vector<OutgoingSms>& batch) override {
    return detail::SendOver(
        *options_.client, Name(), batch, [this](const OutgoingSms& sms) { return Request(sms); },
        FromWmnowAnswer);
  }

  http::ClientRequest Request(const OutgoingSms& sms) const {
    nlohmann::json payload = {
        {"to", sms.to_e164},
        {"body", sms.body},
        {"sender", options_.sender},
        {"client_ref", sms.client_ref},
    };
    if (!options_.status_callback.empty()) payload["status_callback"] = options_.status_callback;

    http::ClientRequest request;
    request.method = "POST";
    request.url = options_.base_url + "/v1/messages";
    request.headers = {{"Authorization", "Bearer " + options_.api_key},
                       {"Content-Type", "application/json"},
                       {"Accept", "application/json"}};
    request.body = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    request.timeout = options_.timeout;
    request.ca_file = options_.ca_file;
    return request;
  }

  bool VerifyCallback(CallbackKind /*kind*/, const http::Request& request,
                      TimePoint now) const override {
    if (options_.webhook_secret.empty()) return false;
    const std::string_view timestamp = request.Header(kTimestampHeader);
    std::int64_t seconds = 0;
    const auto [end, ec] =
        std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), seconds);
    if (timestamp.empty() || ec != std::errc() || end != timestamp.data() + timestamp.size()) {
      return false;
    }
    const std::int64_t age = ToUnixSeconds(now) - seconds;
    if (age > kWmnowMaxSignatureAge.count() || -age > kWmnowMaxSignatureAge.count()) return false;
    return crypto::VerifyTimestampedSignature(options_.webhook_secret, timestamp, request.body,
                                              request.Header(kWmnowSignatureHeader));
  }

  Callback ParseCallback(CallbackKind kind, const http::Request& request,
                         TimePoint now) const override {
    Callback callback;
    if (!VerifyCallback(kind, request, now)) {
      callback.problem = "missing, stale or invalid X-WMNow-Signature";
      return callback;
    }
    callback.verdict = CallbackVerdict::kMalformed;
    if (request.method != "POST") {
      callback.problem = "expected a POST";
      return callback;
    }
    auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
      // A byte that is not UTF-8 (a Latin-1 "é") or half an emoji's escape in a citizen's text
      // refused the whole callback, a STOP with it: read as U+FFFD, as the other gateways' are
      // (the signature was checked over the body as sent).
      if (const auto repaired = RepairedJsonCharacters(request.body)) {
        body = nlohmann::json::parse(*repaired, nullptr, /*allow_exceptions=*/false);
      }
    }
    if (!body.is_object()) {
      callback.problem = "expected a JSON object";
      return callback;
    }
    return kind == CallbackKind::kStatus ? ReadStatus(body, now) : ReadInbound(body, now);
  }

  http::Response CallbackAnswer(CallbackKind /*kind*/, CallbackVerdict verdict,
                                std::string_view problem) const override {
    if (verdict == CallbackVerdict::kOk || verdict == CallbackVerdict::kIgnored) {
      return http::Response::Json(200, R"({"ok":true})");
    }
    return detail::JsonRefusal(verdict, problem);
  }

 private:
  Callback ReadStatus(const nlohmann::json& body, TimePoint now) const {
    Callback callback;
    callback.verdict = CallbackVerdict::kMalformed;
    const std::string status = StringField(body, "status");
    const auto state = StateFromWmnow(status);
    if (!state) {
      callback.problem = "unknown status '" + detail::SafeCode(status) + "'";
      return callback;
    }
    DeliveryReport report;
    report.gateway = Name();
    report.gateway_message_id = StringField(body, "message_id");
    report.message_ref = StringField(body, "client_ref");
    report.state = *state;
    report.error_code = detail::SafeCode(StringField(body, "error_code"));
    report.at = ParseRfc3339(StringField(body, "at")).value_or(now);
    if (report.gateway_message_id.empty() && report.message_ref.empty()) {
      callback.problem = "message_id or client_ref is required";
      return callback;
    }
    callback.verdict = CallbackVerdict::kOk;
    callback.report = std::move(report);
    return callback;
  }

  Callback ReadInbound(const nlohmann::json& body, TimePoint now) const {
    Callback callback;
    callback.verdict = CallbackVerdict::kMalformed;
    const auto from = body.find("from");
    const auto text = body.find("body");
    if (from == body.end() || !from->is_string() || text == body.end() || !text->is_string()) {
      callback.problem = "expected a JSON object with from and body";
      return callback;
    }
    InboundSms sms;
    sms.gateway = Name();
    sms.gateway_message_id = StringField(body, "message_id");
    sms.from_e164 = phone::Normalize(from->get<std::string>()).e164;
    sms.to = StringField(body, "to");
    sms.body = ReplaceInvalidUtf8(text->get<std::string>());
    sms.received_at = ParseRfc3339(StringField(body, "received_at")).value_or(now);
    callback.verdict = CallbackVerdict::kOk;
    callback.inbound = std::move(sms);
    return callback;
  }

  WmnowOptions options_;
};

}  // namespace

std::unique_ptr<Gateway> MakeWmnowGateway(const WmnowOptions& options) {
  return std::make_unique<WmnowGateway>(options);
}

}  // namespace surveyd::gateway
