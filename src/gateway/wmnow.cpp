#include "surveyd/gateway/wmnow.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "surveyd/http/client.hpp"

namespace surveyd::gateway {
namespace {

using Transport = http::ClientResponse::Transport;

constexpr std::size_t kMaxErrorCodeLength = 64;

// The gateway's own error code ("invalid_number"), reduced to characters that cannot carry a
// phone number or message text into our logs and database.
std::string SafeCode(std::string_view code) {
  std::string out;
  for (char c : code.substr(0, kMaxErrorCodeLength)) {
    if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.') {
      out.push_back(c);
    }
  }
  return out;
}

nlohmann::json ParseObject(const std::string& body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return json.is_object() ? json : nlohmann::json::object();
}

std::string StringField(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  // The HTTP-date form is not worth parsing here: the dispatcher's backoff covers it.
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || seconds < 0) {
    return std::nullopt;
  }
  return std::chrono::seconds(std::min<long long>(seconds, 24 * 3600));
}

SendResult FromHttp(const http::ClientResponse& response) {
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
    result.error = SafeCode(StringField(ParseObject(response.body), "error"));
    if (result.error.empty()) result.error = "http 400";
  } else if (status == 401 || status == 403) {
    result.status = SendStatus::kAuth;
    result.error = "http " + std::to_string(status) + ": credentials refused";
  } else if (status == 429) {
    result.status = SendStatus::kThrottled;
    result.retry_after = ParseRetryAfter(response.Header("Retry-After"));
    result.error = "http 429";
  } else {
    result.status = SendStatus::kTransient;
    result.error = status >= 500 ? "http " + std::to_string(status)
                                 : "unexpected http status " + std::to_string(status);
  }
  return result;
}

class WmnowGateway final : public Gateway {
 public:
  explicit WmnowGateway(WmnowOptions options) : options_(std::move(options)) {
    while (!options_.base_url.empty() && options_.base_url.back() == '/') {
      options_.base_url.pop_back();
    }
  }

  std::string Name() const override { return "wmnow"; }
  bool Idempotent() const override { return true; }

  SendResult Send(const OutgoingSms& sms) override {
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

    const http::ClientResponse response = http::Fetch(request);
    SendResult result;
    switch (response.transport) {
      case Transport::kOk:
        result = FromHttp(response);
        break;
      case Transport::kConnectFailed:
      case Transport::kTimeoutBeforeSend:
        result.status = SendStatus::kTransient;
        result.error = response.error;
        break;
      case Transport::kTimeoutAfterSend:
        result.status = SendStatus::kInDoubt;
        result.error = response.error;
        break;
      case Transport::kError:
        // A reset after the request went out leaves us as unsure as a timeout does.
        result.status = response.request_sent ? SendStatus::kInDoubt : SendStatus::kTransient;
        result.error = response.error;
        break;
    }
    spdlog::debug("wmnow: client_ref {} -> {} (http {}{}{})", sms.client_ref,
                  SendStatusName(result.status), result.http_status,
                  result.error.empty() ? "" : ", ", result.error);
    return result;
  }

 private:
  WmnowOptions options_;
};

}  // namespace

std::unique_ptr<Gateway> MakeWmnowGateway(const WmnowOptions& options) {
  return std::make_unique<WmnowGateway>(options);
}

}  // namespace surveyd::gateway
