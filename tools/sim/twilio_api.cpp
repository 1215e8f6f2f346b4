#include "sim/twilio_api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"

namespace surveyd::sim {
namespace {

constexpr std::string_view kApiVersion = "2010-04-01";
constexpr std::size_t kMaxBodyCharacters = 1600;
constexpr std::size_t kMaxMessages = 100000;

// Twilio's error resource.
http::Response TwilioError(int status, int code, const std::string& message) {
  const nlohmann::json body = {
      {"code", code},
      {"message", message},
      {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
      {"status", status}};
  return http::Response::Json(status,
                              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string Rfc2822Now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return text;
}

std::string Param(const FormParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

bool IsE164(const std::string& number) {
  return number.size() >= 9 && number.size() <= 16 && number.front() == '+' &&
         std::all_of(number.begin() + 1, number.end(),
                     [](unsigned char c) { return c >= '0' && c <= '9'; });
}

std::size_t CodePoints(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// "/2010-04-01/Accounts/{sid}/Messages.json" -> {sid, ""};
// "/2010-04-01/Accounts/{sid}/Messages/{message}.json" -> {sid, message}.
std::optional<std::pair<std::string, std::string>> SplitPath(std::string_view path) {
  constexpr std::string_view kPrefix = "/2010-04-01/Accounts/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  const std::size_t slash = path.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string account(path.substr(0, slash));
  const std::string_view rest = path.substr(slash);
  if (rest == "/Messages.json") return std::make_pair(account, std::string());
  constexpr std::string_view kMessages = "/Messages/";
  constexpr std::string_view kJson = ".json";
  if (rest.substr(0, kMessages.size()) == kMessages && rest.size() > kMessages.size() + 5 &&
      rest.substr(rest.size() - kJson.size()) == kJson) {
    return std::make_pair(
        account,
        std::string(rest.substr(kMessages.size(), rest.size() - kMessages.size() - kJson.size())));
  }
  return std::nullopt;
}

}  // namespace

std::string SignLikeTwilio(std::string_view auth_token, std::string_view url, FormParams params) {
  std::stable_sort(params.begin(), params.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string data(url);
  for (const auto& [name, value] : params) {
    data.append(name);
    data.append(value);
  }
  return crypto::HmacSha1Base64(auth_token, data);
}

TwilioApi::TwilioApi(TwilioApiOptions options, OnCreated on_created)
    : options_(std::move(options)), on_created_(std::move(on_created)), random_(options_.seed) {}

bool TwilioApi::Handles(const http::Request& request) {
  return request.path.rfind("/2010-04-01/", 0) == 0;
}

http::Response TwilioApi::Handle(const http::Request& request) {
  const std::string expected =
      "Basic " + crypto::Base64(options_.account_sid + ":" + options_.auth_token);
  if (!crypto::ConstantTimeEquals(request.Header("Authorization"), expected)) {
    std::lock_guard lock(mutex_);
    ++counters_.unauthorized;
    spdlog::warn("twilio-sim: refused a request with wrong or missing credentials");
    return TwilioError(401, 20003, "Authenticate")
        .Set("WWW-Authenticate", "Basic realm=\"Twilio API\"");
  }
  const auto parts = SplitPath(request.path);
  if (!parts || parts->first != options_.account_sid) {
    return TwilioError(404, 20404, "The requested resource " + request.path + " was not found");
  }
  if (parts->second.empty() && request.method == "POST") return Create(request);
  if (!parts->second.empty() && request.method == "GET") return Fetch(parts->second);
  return TwilioError(405, 20004, "Method not allowed");
}

http::Response TwilioApi::Create(const http::Request& request) {
  if (Uniform() < options_.fail_rate) {
    std::lock_guard lock(mutex_);
    ++counters_.failed;
    spdlog::info("twilio-sim: injected 503");
    return TwilioError(503, 20503, "Service Unavailable");
  }
  if (Uniform() < options_.throttle_rate) {
    std::lock_guard lock(mutex_);
    ++counters_.throttled;
    spdlog::info("twilio-sim: injected 429");
    return TwilioError(429, 20429, "Too Many Requests");
  }
  const FormParams params = http::ParseForm(request.body);
  const auto invalid = [&](int code, const std::string& message) {
    std::lock_guard lock(mutex_);
    ++counters_.invalid;
    spdlog::info("twilio-sim: refused a send: {}", code);
    return TwilioError(400, code, message);
  };
  TwilioMessage message;
  message.to = Param(params, "To");
  message.from = Param(params, "From");
  message.messaging_service_sid = Param(params, "MessagingServiceSid");
  message.body = Param(params, "Body");
  message.status_callback = Param(params, "StatusCallback");
  if (message.to.empty()) return invalid(21604, "A 'To' phone number is required.");
  if (message.from.empty() && message.messaging_service_sid.empty()) {
    return invalid(21603, "A 'From' phone number is required.");
  }
  if (message.body.empty() && Param(params, "MediaUrl").empty()) {
    return invalid(21602, "Message body is required.");
  }
  if (!IsE164(message.to)) {
    // Twilio echoes the number back; the adapter must keep it out of our logs.
    return invalid(21211, "The 'To' number " + message.to + " is not a valid phone number.");
  }
  if (CodePoints(message.body) > kMaxBodyCharacters) {
    return invalid(21617, "The concatenated message body exceeds the 1600 character limit.");
  }
  if (!message.status_callback.empty() && message.status_callback.rfind("http://", 0) != 0 &&
      message.status_callback.rfind("https://", 0) != 0) {
    return invalid(21609, "Invalid StatusCallback url");
  }

  message.sid = NewSid("SM");
  {
    std::lock_guard lock(mutex_);
    messages_.push_back(message);
    if (messages_.size() > kMaxMessages) messages_.erase(messages_.begin());
    ++counters_.created;
  }
  spdlog::info("twilio-sim: created {} for {}", message.sid, phone::Mask(message.to));
  if (on_created_) on_created_(message);

  if (Uniform() < options_.reset_rate) {
    {
      std::lock_guard lock(mutex_);
      ++counters_.resets;
    }
    spdlog::info("twilio-sim: resetting the connection of {} unanswered", message.sid);
    return http::Response{http::kNoAnswer, {}, {}};
  }
  if (Uniform() < options_.error_rate) {
    std::lock_guard lock(mutex_);
    ++counters_.errors;
    spdlog::info("twilio-sim: injected 500 after creating {}", message.sid);
    return TwilioError(500, 20500, "Internal Server Error");
  }
  if (Uniform() < options_.hang_rate) {
    {
      std::lock_guard lock(mutex_);
      ++counters_.hung;
    }
    spdlog::info("twilio-sim: holding the answer for {} for {} ms", message.sid,
                 options_.hang.count());
    std::this_thread::sleep_for(options_.hang);
  }
  const std::string now = Rfc2822Now();
  const nlohmann::json resource = {{"account_sid", options_.account_sid},
                                   {"api_version", kApiVersion},
                                   {"body", message.body},
                                   {"date_created", now},
                                   {"date_sent", nullptr},
                                   {"date_updated", now},
                                   {"direction", "outbound-api"},
                                   {"error_code", nullptr},
                                   {"error_message", nullptr},
                                   {"from", message.from},
                                   {"messaging_service_sid", nullptr},
                                   {"num_media", "0"},
                                   {"num_segments", "1"},
                                   {"price", nullptr},
                                   {"price_unit", "USD"},
                                   {"sid", message.sid},
                                   {"status", "queued"},
                                   {"to", message.to},
                                   {"uri", "/2010-04-01/Accounts/" + options_.account_sid +
                                               "/Messages/" + message.sid + ".json"}};
  return http::Response::Json(
      201, resource.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

http::Response TwilioApi::Fetch(const std::string& sid) const {
  std::lock_guard lock(mutex_);
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    if (it->sid == sid) {
      return http::Response::Json(
          200, nlohmann::json{{"sid", it->sid},
                              {"account_sid", options_.account_sid},
                              {"to", it->to},
                              {"from", it->from},
                              {"body", it->body},
                              {"status", it->status}}
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  return TwilioError(404, 20404, "The requested resource was not found");
}

http::ClientResponse TwilioApi::PostStatus(const TwilioMessage& message, std::string_view status,
                                           std::string_view error_code) const {
  FormParams params = {{"MessageSid", message.sid},
                       {"SmsSid", message.sid},
                       {"AccountSid", options_.account_sid},
                       {"From", message.from},
                       {"To", message.to},
                       {"MessageStatus", std::string(status)},
                       {"SmsStatus", std::string(status)},
                       {"ApiVersion", std::string(kApiVersion)}};
  if (!error_code.empty()) params.emplace_back("ErrorCode", std::string(error_code));
  return PostSigned(message.status_callback, params);
}

http::ClientResponse TwilioApi::PostInbound(const std::string& url, const std::string& from,
                                            const std::string& to, const std::string& body) const {
  const std::string sid = NewSid("SM");
  const FormParams params = {{"ToCountry", "GB"},
                             {"SmsMessageSid", sid},
                             {"NumMedia", "0"},
                             {"SmsSid", sid},
                             {"SmsStatus", "received"},
                             {"Body", body},
                             {"To", to},
                             {"NumSegments", "1"},
                             {"MessageSid", sid},
                             {"AccountSid", options_.account_sid},
                             {"From", from},
                             {"ApiVersion", std::string(kApiVersion)}};
  return PostSigned(url, params);
}

http::ClientResponse TwilioApi::PostSigned(const std::string& url, const FormParams& params) const {
  std::string body;
  for (const auto& [name, value] : params) {
    if (!body.empty()) body += '&';
    body += http::UrlEncode(name) + "=" + http::UrlEncode(value);
  }
  http::ClientRequest request;
  request.method = "POST";
  request.url = url;
  request.body = std::move(body);
  request.timeout = std::chrono::seconds(10);
  request.verify_tls = options_.verify_tls;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                     {"User-Agent", "TwilioProxy/1.1"},
                     {"X-Twilio-Signature", SignLikeTwilio(options_.auth_token, url, params)}};
  return http::Fetch(request);
}

std::vector<TwilioMessage> TwilioApi::Messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

void TwilioApi::SetStatus(const std::string& sid, const std::string& status) {
  std::lock_guard lock(mutex_);
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    if (it->sid == sid) {
      it->status = status;
      return;
    }
  }
}

nlohmann::json TwilioApi::Stats() const {
  std::lock_guard lock(mutex_);
  return {{"created", counters_.created},     {"unauthorized", counters_.unauthorized},
          {"invalid", counters_.invalid},     {"injected_failures", counters_.failed},
          {"throttled", counters_.throttled}, {"injected_errors", counters_.errors},
          {"hung", counters_.hung},           {"resets", counters_.resets}};
}

double TwilioApi::Uniform() const {
  std::lock_guard lock(mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

std::string TwilioApi::NewSid(const char* prefix) const {
  std::lock_guard lock(mutex_);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string sid = prefix;
  for (int i = 0; i < 32; ++i) sid.push_back(kHex[random_() & 0xF]);
  return sid;
}

}  // namespace surveyd::sim
