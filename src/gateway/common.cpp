#include "gateway/common.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace surveyd::gateway::detail {
namespace {

constexpr std::size_t kMaxErrorCodeLength = 64;
// Longer runs of digits could be (part of) a phone number; vendor codes are at most 5 or 6.
constexpr std::size_t kMaxDigitRun = 6;

}  // namespace

std::string SafeCode(std::string_view code) {
  std::string out;
  std::size_t longest_run = 0;
  std::size_t run = 0;
  for (char c : code.substr(0, kMaxErrorCodeLength)) {
    const auto u = static_cast<unsigned char>(c);
    // A number is written with spaces, a plus, brackets, dashes or dots between its digits
    // ("+44 7700 900123"): only a letter ends a run.
    if (std::isdigit(u) != 0) {
      longest_run = std::max(longest_run, ++run);
    } else if (std::isalpha(u) != 0) {
      run = 0;
    }
    if (std::isalnum(u) != 0 || c == '_' || c == '-' || c == '.') out.push_back(c);
  }
  if (longest_run > kMaxDigitRun) {
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }),
              out.end());
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
