#include "gateway/common.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "surveyd/core/phone.hpp"

namespace surveyd::gateway::detail {
namespace {

constexpr std::size_t kMaxErrorCodeLength = 64;

}  // namespace

std::string SafeCode(std::string_view code) {
  // A number the gateway echoed goes first, however it is written (vendor codes are at most 5 or
  // 6 digits); what is left keeps to the characters of a code.
  std::string out;
  for (char c : phone::BlankNumbers(code.substr(0, kMaxErrorCodeLength))) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.') {
      out.push_back(c);
    }
  }
  return out;
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

void ReadOtherStatus(const http::ClientResponse& response, SendResult& result) {
  const int status = response.status;
  if (status == 429) {
    result.status = SendStatus::kThrottled;
    result.retry_after = ParseRetryAfter(response.Header("Retry-After"));
    result.error = "http 429";
  } else if (status == 503) {
    result.status = SendStatus::kTransient;
    result.error = "http 503";
  } else if (status >= 500) {
    result.status = SendStatus::kInDoubt;
    result.error = "http " + std::to_string(status);
  } else {
    result.status = SendStatus::kTransient;
    result.error = "unexpected http status " + std::to_string(status);
  }
}

SendResult FromTransportFailure(const http::ClientResponse& response) {
  using Transport = http::ClientResponse::Transport;
  SendResult result;
  result.error = response.error;
  switch (response.transport) {
    case Transport::kOk:  // not a failure: callers map HTTP answers themselves
    case Transport::kConnectFailed:
    case Transport::kTimeoutBeforeSend:
      result.status = SendStatus::kTransient;
      break;
    case Transport::kTimeoutAfterSend:
      result.status = SendStatus::kInDoubt;
      break;
    case Transport::kError:
      // A reset after the request went out leaves us as unsure as a timeout does.
      result.status = response.request_sent ? SendStatus::kInDoubt : SendStatus::kTransient;
      break;
  }
  return result;
}

std::vector<SendResult> SendOver(
    http::ClientPool& client, std::string_view gateway, const std::vector<OutgoingSms>& batch,
    const std::function<http::ClientRequest(const OutgoingSms&)>& request,
    SendResult (*read)(const http::ClientResponse&)) {
  std::vector<http::ClientRequest> requests;
  requests.reserve(batch.size());
  for (const OutgoingSms& sms : batch) requests.push_back(request(sms));
  const std::vector<http::ClientResponse> responses = client.FetchAll(std::move(requests));
  std::vector<SendResult> results;
  results.reserve(responses.size());
  for (std::size_t i = 0; i < responses.size(); ++i) {
    const http::ClientResponse& response = responses[i];
    SendResult result = response.Ok() ? read(response) : FromTransportFailure(response);
    spdlog::debug("{}: client_ref {} -> {} (http {}{}{})", gateway, batch[i].client_ref,
                  SendStatusName(result.status), result.http_status,
                  result.error.empty() ? "" : ", ", result.error);
    results.push_back(std::move(result));
  }
  return results;
}

std::string WithoutTrailingSlash(std::string text) {
  while (!text.empty() && text.back() == '/') text.pop_back();
  return text;
}

http::Response JsonRefusal(CallbackVerdict verdict, std::string_view problem) {
  int status = 200;
  const char* code = "ok";
  switch (verdict) {
    case CallbackVerdict::kOk:
    case CallbackVerdict::kIgnored:
      break;
    case CallbackVerdict::kUnauthorized:
      status = 401;
      code = "unauthorized";
      break;
    case CallbackVerdict::kMalformed:
      status = 400;
      code = "bad_request";
      break;
  }
  return http::Response::Json(status,
                              nlohmann::json{{"error", code}, {"message", problem}}.dump(
                                  -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string Param(const Params& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

bool HasParam(const Params& params, std::string_view name) {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
}

nlohmann::json ParseObject(const std::string& body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return json.is_object() ? json : nlohmann::json::object();
}

}  // namespace surveyd::gateway::detail
