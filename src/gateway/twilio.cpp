#include "surveyd/gateway/twilio.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "gateway/common.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/utf8.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway {
namespace {

using detail::HasParam;
using detail::Param;
using detail::Params;
using detail::ParseObject;

constexpr std::string_view kTwilioSignatureHeader = "X-Twilio-Signature";
constexpr std::string_view kEmptyTwiml = R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)";

// Twilio's error body: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
std::string ErrorCode(const std::string& body) {
  const nlohmann::json json = ParseObject(body);
  const auto code = json.find("code");
  if (code != json.end() && code->is_number_integer()) {
    return "twilio_" + std::to_string(code->get<std::int64_t>());
  }
  return {};
}

SendResult FromTwilioAnswer(const http::ClientResponse& response) {
  SendResult result;
  result.http_status = response.status;
  const int status = response.status;
  if (status >= 200 && status < 300) {
    // Twilio answers 201; a compatible API may answer 200 or 202. Whatever the 2xx, the message
    // was taken: read as anything else, it would be sent again.
    result.status = SendStatus::kAccepted;
    const nlohmann::json json = ParseObject(response.body);
    const auto sid = json.find("sid");
    if (sid != json.end() && sid->is_string()) result.message_id = sid->get<std::string>();
    if (result.message_id.empty()) result.error = "accepted without a sid";
  } else if (status == 400) {
    // 21211 invalid To, 21610 unsubscribed recipient, 21614 not a mobile...: this message will
    // never go.
    result.status = SendStatus::kPermanent;
    result.error = detail::SafeCode(ErrorCode(response.body));
    if (result.error.empty()) result.error = "http 400";
  } else if (status == 401 || status == 403 || status == 404) {
    // 404: no such account at this base URL -- configuration, like bad credentials.
    result.status = SendStatus::kAuth;
    result.error = "http " + std::to_string(status) + ": account or credentials refused";
  } else {
    // 503: turned away, nothing created. A 500/502/504 may come after the message was created:
    // in doubt, settled by the StatusCallback.
    detail::ReadOtherStatus(response, result);
  }
  return result;
}

// Twilio's MessageStatus values. Intermediate ones move nothing the store tracks beyond
// "accepted"; unknown ones are acknowledged and ignored.
std::optional<DeliveryState> StateFromTwilio(std::string_view status) {
  if (status == "queued" || status == "accepted" || status == "scheduled" || status == "sending") {
    return DeliveryState::kAccepted;
  }
  if (status == "sent") return DeliveryState::kSent;
  if (status == "delivered" || status == "read") return DeliveryState::kDelivered;
  if (status == "undelivered") return DeliveryState::kUndeliverable;
  if (status == "failed" || status == "canceled") return DeliveryState::kFailed;
  return std::nullopt;
}

bool IsFormBody(const http::Request& request) {
  const std::string_view type = request.Header("Content-Type");
  return type.empty() || type.substr(0, 33) == "application/x-www-form-urlencoded";
}

class TwilioGateway final : public Gateway {
 public:
  explicit TwilioGateway(TwilioOptions options) : options_(std::move(options)) {
    options_.base_url = detail::WithoutTrailingSlash(options_.base_url);
    options_.public_base_url = detail::WithoutTrailingSlash(options_.public_base_url);
    if (!options_.client) options_.client = http::MakeClientPool();
  }

  std::string Name() const override { return "twilio"; }
  bool Idempotent() const override { return false; }

  SendResult Send(const OutgoingSms& sms) override { return SendAll({sms}).front(); }

  std::vector<SendResult> SendAll(const std::vector<OutgoingSms>& batch) override {
    return detail::SendOver(
        *options_.client, Name(), batch, [this](const OutgoingSms& sms) { return Request(sms); },
        FromTwilioAnswer);
  }

  http::ClientRequest Request(const OutgoingSms& sms) const {
    http::ClientRequest request;
    request.method = "POST";
    request.url = options_.base_url + "/2010-04-01/Accounts/" +
                  http::UrlEncode(options_.account_sid) + "/Messages.json";
    request.headers = {{"Authorization", "Basic " + crypto::Base64(options_.account_sid + ":" +
                                                                   options_.auth_token)},
                       {"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    request.body = "To=" + http::UrlEncode(sms.to_e164) +
                   (IsMessagingServiceSid(options_.from) ? "&MessagingServiceSid=" : "&From=") +
                   http::UrlEncode(options_.from) + "&Body=" + http::UrlEncode(sms.body) +
                   "&StatusCallback=" + http::UrlEncode(StatusCallback(sms.client_ref));
    request.timeout = options_.timeout;
    request.ca_file = options_.ca_file;
    return request;
  }

  bool VerifyCallback(CallbackKind /*kind*/, const http::Request& request,
                      TimePoint /*now*/) const override {
    // Twilio signs no time: a replayed callback verifies, and is harmless because reports only
    // move a message forward and an inbound message carries its MessageSid.
    if (options_.auth_token.empty() || request.method != "POST" || !IsFormBody(request)) {
      return false;
    }
    const std::string_view signature = request.Header(kTwilioSignatureHeader);
    if (signature.empty()) return false;
    const std::string expected =
        TwilioSignature(options_.auth_token, options_.public_base_url + request.target,
                        http::ParseForm(request.body));
    return crypto::ConstantTimeEquals(signature, expected);
  }

  Callback ParseCallback(CallbackKind kind, const http::Request& request,
                         TimePoint now) const override {
    Callback callback;
    if (!VerifyCallback(kind, request, now)) {
      callback.problem = "missing or invalid X-Twilio-Signature";
      return callback;
    }
    const Params params = http::ParseForm(request.body);
    // Signed with our token but for another account (a subaccount sharing it?): not ours.
    if (HasParam(params, "AccountSid") && Param(params, "AccountSid") != options_.account_sid) {
      callback.problem = "AccountSid is not this account";
      return callback;
    }
    callback.verdict = CallbackVerdict::kMalformed;
    if (kind == CallbackKind::kStatus) return ReadStatus(request, params, now);
    return ReadInbound(params, now);
  }

  http::Response CallbackAnswer(CallbackKind kind, CallbackVerdict verdict,
                                std::string_view problem) const override {
    if (verdict == CallbackVerdict::kOk || verdict == CallbackVerdict::kIgnored) {
      if (kind == CallbackKind::kInbound) {
        // Empty TwiML: take the message, send no reply.
        http::Response response;
        response.status = 200;
        response.body = std::string(kEmptyTwiml);
        response.Set("Content-Type", "text/xml; charset=utf-8");
        return response;
      }
      return http::Response::Text(200, "");
    }
    return detail::JsonRefusal(verdict, problem);
  }

 private:
  std::string StatusCallback(const std::string& client_ref) const {
    return options_.public_base_url + CallbackPath(Name(), CallbackKind::kStatus) +
           "?ref=" + http::UrlEncode(client_ref);
  }

  Callback ReadStatus(const http::Request& request, const Params& params, TimePoint now) const {
    Callback callback;
    callback.verdict = CallbackVerdict::kMalformed;
    const std::string sid = Param(params, "MessageSid");
    const std::string status = Param(params, "MessageStatus");
    if (sid.empty() || status.empty()) {
      callback.problem = "MessageSid and MessageStatus are required";
      return callback;
    }
    const auto state = StateFromTwilio(status);
    if (!state) {
      callback.verdict = CallbackVerdict::kIgnored;
      callback.problem = "status '" + detail::SafeCode(status) + "' is not tracked";
      return callback;
    }
    DeliveryReport report;
    report.gateway = Name();
    report.gateway_message_id = sid;
    report.message_ref = Param(http::ParseForm(request.query), "ref");
    report.state = *state;
    const std::string error_code = Param(params, "ErrorCode");
    if (!error_code.empty()) report.error_code = detail::SafeCode("twilio_" + error_code);
    if (report.error_code.empty() && status == "canceled") report.error_code = "canceled";
    report.at = now;  // Twilio's callbacks carry no event time
    callback.verdict = CallbackVerdict::kOk;
    callback.report = std::move(report);
    return callback;
  }

  Callback ReadInbound(const Params& params, TimePoint now) const {
    Callback callback;
    callback.verdict = CallbackVerdict::kMalformed;
    if (Param(params, "MessageSid").empty() || Param(params, "From").empty()) {
      callback.problem = "MessageSid and From are required";
      return callback;
    }
    InboundSms sms;
    sms.gateway = Name();
    sms.gateway_message_id = Param(params, "MessageSid");
    sms.from_e164 = phone::Normalize(Param(params, "From")).e164;
    sms.to = Param(params, "To");
    sms.body = ReplaceInvalidUtf8(Param(params, "Body"));  // empty for a picture message
    sms.received_at = now;
    callback.verdict = CallbackVerdict::kOk;
    callback.inbound = std::move(sms);
    return callback;
  }

  TwilioOptions options_;
};

}  // namespace

std::string TwilioSignature(std::string_view auth_token, std::string_view url,
                            std::vector<std::pair<std::string, std::string>> params) {
  std::sort(params.begin(), params.end());  // by name; repeated names by value
  std::string data(url);
  for (const auto& [name, value] : params) data += name + value;
  return crypto::HmacSha1Base64(auth_token, data);
}

std::unique_ptr<Gateway> MakeTwilioGateway(const TwilioOptions& options) {
  return std::make_unique<TwilioGateway>(options);
}

}  // namespace surveyd::gateway
