#include "surveyd/gateway/kannel.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>

#include "gateway/common.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/sms.hpp"
#include "surveyd/core/utf8.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway {
namespace {

using detail::HasParam;
using detail::Param;
using detail::Params;

// %T is bearerbox's clock when the report or the text came in. A time far from ours is a garbled
// field or a wrong clock, not a fact about the text (and a huge one would overflow the time
// type): none, and a report is dated when it reached us instead. SMSCs keep undelivered texts
// for days; 30 is ample.
std::optional<TimePoint> KannelTime(std::optional<std::int64_t> unix_seconds, TimePoint now) {
  constexpr std::int64_t kOldest = 30LL * 24 * 3600;
  constexpr std::int64_t kNewest = 24LL * 3600;
  if (!unix_seconds) return std::nullopt;
  const std::int64_t now_seconds = ToUnixSeconds(now);
  if (*unix_seconds < now_seconds - kOldest || *unix_seconds > now_seconds + kNewest) {
    return std::nullopt;
  }
  return FromUnixSeconds(*unix_seconds);
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// smsbox's answers (gw/smsbox.c): 202 "0: Accepted for delivery", 202 "3: Queued for later
// delivery" (or "Sent." with immediate-sendsms-reply); 403 "Authorization failed for sendsms";
// 403 "Not routable. Do not try again."; 400 for every malformed field (including a number
// refused by white/black lists); 503 "Temporal failure, try again later." when bearerbox did not
// take it; 500 "Sending failed." when smsbox could not hand it to bearerbox.
SendResult FromKannelAnswer(const http::ClientResponse& response) {
  SendResult result;
  result.http_status = response.status;
  const int status = response.status;
  const std::string_view body = response.body;
  if (status >= 200 && status < 300) {
    if (StartsWith(body, "0:") || StartsWith(body, "3:") || StartsWith(body, "Sent.")) {
      result.status = SendStatus::kAccepted;  // Kannel gives no message id: the ref is the key
    } else {
      // Not an answer smsbox gives; whatever took the request may have sent it.
      result.status = SendStatus::kInDoubt;
      result.error = "http " + std::to_string(status) + " without Kannel's acceptance";
    }
  } else if (status == 403 && StartsWith(body, "Authorization failed")) {
    result.status = SendStatus::kAuth;
    result.error = "http 403: credentials refused";
  } else if (status == 401) {
    result.status = SendStatus::kAuth;
    result.error = "http 401: credentials refused";
  } else if (status == 400 || status == 403) {
    result.status = SendStatus::kPermanent;
    result.error = status == 400 ? "rejected by Kannel (http 400)" : "not routable (http 403)";
  } else {
    // 503: bearerbox refused it (queue full, no SMSC), nothing sent. Other 5xx: "Sending failed."
    // (smsbox -> bearerbox) or a proxy's 502/504, the message may be on its way. 404, 405...:
    // refused before Kannel looked at it.
    detail::ReadOtherStatus(response, result);
  }
  return result;
}

// Kannel's DLR types (%d): 1 delivered, 2 failed, 4 buffered on the SMSC, 8 accepted by the
// SMSC, 16 rejected by the SMSC. Anything else (intermediate reports, odd masks) is ignored.
struct DlrMeaning {
  DeliveryState state;
  const char* error_code;
};
std::optional<DlrMeaning> FromDlrType(int type) {
  switch (type) {
    case 1:
      return DlrMeaning{DeliveryState::kDelivered, ""};
    case 2:
      return DlrMeaning{DeliveryState::kUndeliverable, "delivery_failed"};
    case 4:
    case 8:
      return DlrMeaning{DeliveryState::kSent, ""};
    case 16:
      return DlrMeaning{DeliveryState::kFailed, "smsc_rejected"};
    default:
      return std::nullopt;
  }
}

std::optional<std::int64_t> ParseInteger(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

class KannelGateway final : public Gateway {
 public:
  explicit KannelGateway(KannelOptions options) : options_(std::move(options)) {
    options_.public_base_url = detail::WithoutTrailingSlash(options_.public_base_url);
    if (!options_.client) options_.client = http::MakeClientPool();
  }

  std::string Name() const override { return "kannel"; }
  bool Idempotent() const override { return false; }

  SendResult Send(const OutgoingSms& sms) override { return SendAll({sms}).front(); }

  std::vector<SendResult> SendAll(const std::vector<OutgoingSms>& batch) override {
    return detail::SendOver(
        *options_.client, Name(), batch, [this](const OutgoingSms& sms) { return Request(sms); },
        FromKannelAnswer);
  }

  // Never logged: the URL holds the number, the text and the password.
  http::ClientRequest Request(const OutgoingSms& sms) const {
    std::string query = "username=" + http::UrlEncode(options_.username) +
                        "&password=" + http::UrlEncode(options_.password) +
                        "&from=" + http::UrlEncode(options_.sender) +
                        "&to=" + http::UrlEncode(sms.to_e164) +
                        "&text=" + http::UrlEncode(sms.body) + "&charset=UTF-8";
    // smsbox turns UTF-8 into GSM-7 for coding 0; anything outside that alphabet goes as UCS-2.
    if (!sms::IsGsm7(sms.body)) query += "&coding=2";
    query += "&dlr-mask=" + std::to_string(options_.dlr_mask) +
             "&dlr-url=" + http::UrlEncode(DlrUrl(sms.client_ref));
    if (!options_.smsc.empty()) query += "&smsc=" + http::UrlEncode(options_.smsc);

    http::ClientRequest request;
    request.method = "GET";
    request.url = options_.sendsms_url +
                  (options_.sendsms_url.find('?') == std::string::npos ? "?" : "&") + query;
    request.timeout = options_.timeout;
    request.ca_file = options_.ca_file;
    return request;
  }

  bool VerifyCallback(CallbackKind /*kind*/, const http::Request& request,
                      TimePoint /*now*/) const override {
    if (options_.webhook_secret.empty()) return false;
    const Params params = http::ParseForm(request.query);
    if (!HasParam(params, "secret")) return false;
    return crypto::ConstantTimeEquals(Param(params, "secret"), options_.webhook_secret);
  }

  Callback ParseCallback(CallbackKind kind, const http::Request& request,
                         TimePoint now) const override {
    Callback callback;
    if (!VerifyCallback(kind, request, now)) {
      callback.problem = "missing or wrong secret";
      return callback;
    }
    callback.verdict = CallbackVerdict::kMalformed;
    if (request.method != "GET" && request.method != "POST") {
      callback.problem = "expected a GET";
      return callback;
    }
    const Params params = http::ParseForm(request.query);
    return kind == CallbackKind::kStatus ? ReadReport(params, now) : ReadInbound(params, now);
  }

  // Empty bodies throughout: smsbox texts a get-url's answer back to the citizen unless the
  // sms-service says max-messages = 0, and an empty answer with omit-empty sends nothing even
  // then.
  http::Response CallbackAnswer(CallbackKind /*kind*/, CallbackVerdict verdict,
                                std::string_view /*problem*/) const override {
    int status = 200;
    if (verdict == CallbackVerdict::kUnauthorized) status = 401;
    if (verdict == CallbackVerdict::kMalformed) status = 400;
    return http::Response::Text(status, "");
  }

 private:
  // Kannel replaces %d (DLR type) and %T (unix time) when it calls back. Our own values are
  // URL-encoded ASCII, whose %XX escapes start with a digit and so never meet Kannel's
  // letter escapes.
  std::string DlrUrl(const std::string& client_ref) const {
    return options_.public_base_url + CallbackPath(Name(), CallbackKind::kStatus) +
           "?secret=" + http::UrlEncode(options_.webhook_secret) +
           "&ref=" + http::UrlEncode(client_ref) + "&type=%d&ts=%T";
  }

  Callback ReadReport(const Params& params, TimePoint now) const {
    Callback callback;
    callback.verdict = CallbackVerdict::kMalformed;
    const std::string ref = Param(params, "ref");
    const auto type = ParseInteger(Param(params, "type"));
    if (ref.empty() || !type) {
      callback.problem = "ref and a numeric type are required";
      return callback;
    }
    const auto meaning = FromDlrType(static_cast<int>(*type));
    if (!meaning) {
      callback.verdict = CallbackVerdict::kIgnored;
      callback.problem = "DLR type " + std::to_string(*type) + " is not tracked";
      return callback;
    }
    DeliveryReport report;
    report.gateway = Name();
    report.message_ref = ref;
    report.state = meaning->state;
    report.error_code = meaning->error_code;
    report.at = KannelTime(ParseInteger(Param(params, "ts")), now).value_or(now);
    callback.verdict = CallbackVerdict::kOk;
    callback.report = std::move(report);
    return callback;
  }

  Callback ReadInbound(const Params& params, TimePoint now) const {
    Callback callback;
    callback.verdict = CallbackVerdict::kMalformed;
    if (!HasParam(params, "from") || !HasParam(params, "text")) {
      callback.problem = "from and text are required";
      return callback;
    }
    InboundSms sms;
    sms.gateway = Name();
    sms.gateway_message_id = Param(params, "id");  // when the get-url adds &id=%I
    sms.from_e164 = phone::Normalize(Param(params, "from")).e164;
    sms.to = Param(params, "to");
    sms.body = ReplaceInvalidUtf8(Param(params, "text"));
    sms.received_at = now;
    // &ts=%T: when bearerbox took the text, the same on smsbox's every delivery of it (one far
    // from our clock is garbled, and read as none).
    sms.gateway_time = KannelTime(ParseInteger(Param(params, "ts")), now);
    if (sms.gateway_message_id.empty() && !sms.gateway_time && !warned_without_id_.exchange(true)) {
      spdlog::warn(
          "kannel: texts arrive without Kannel's id or time: add &id=%I&ts=%T to the "
          "sms-service get-url (docs/gateways.md); until then a text smsbox delivers again more "
          "than {} s after the first is read as a new one",
          kInboundRepeatWindow.count());
    }
    callback.verdict = CallbackVerdict::kOk;
    callback.inbound = std::move(sms);
    return callback;
  }

  KannelOptions options_;
  mutable std::atomic<bool> warned_without_id_{false};  // once a process
};

}  // namespace

bool IsUrlSafeSecret(std::string_view secret) {
  return !secret.empty() && std::all_of(secret.begin(), secret.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-';
  });
}

std::unique_ptr<Gateway> MakeKannelGateway(const KannelOptions& options) {
  return std::make_unique<KannelGateway>(options);
}

}  // namespace surveyd::gateway
