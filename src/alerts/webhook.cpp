#include "surveyd/alerts/webhook.hpp"

#include <nlohmann/json.hpp>

#include "surveyd/core/crypto.hpp"

namespace surveyd::alerts {

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '+') value = 62;
    if (c == '/') value = 63;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (value < 0 || padding > 0) return std::nullopt;  // not base64, or data after padding
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (padding > 2 || bits >= 6) return std::nullopt;
  return out;
}

std::optional<std::string> WebhookKey(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) == kPrefix) {
    auto key = DecodeBase64(secret.substr(kPrefix.size()));
    if (!key || key->empty()) return std::nullopt;
    return key;
  }
  if (secret.empty()) return std::nullopt;
  return std::string(secret);
}

std::string WebhookSignature(std::string_view secret, std::string_view id, std::int64_t timestamp,
                             std::string_view body) {
  const auto key = WebhookKey(secret);
  if (!key) return "";
  std::string signed_content(id);
  signed_content += '.';
  signed_content += std::to_string(timestamp);
  signed_content += '.';
  signed_content += body;
  return "v1," + crypto::Base64(crypto::HmacSha256(*key, signed_content));
}

bool VerifyWebhookSignature(std::string_view secret, std::string_view id, std::int64_t timestamp,
                            std::string_view body, std::string_view header) {
  const std::string expected = WebhookSignature(secret, id, timestamp, body);
  if (expected.empty()) return false;
  bool any = false;
  while (!header.empty()) {
    const std::size_t space = header.find(' ');
    const std::string_view entry = header.substr(0, space);
    // Every entry is compared, so the time taken does not say which one matched.
    if (crypto::ConstantTimeEquals(entry, expected)) any = true;
    if (space == std::string_view::npos) break;
    header.remove_prefix(space + 1);
  }
  return any;
}

nlohmann::json AlertContextJson(const store::AlertContext& c, const std::string* group_name,
                                bool absent_as_null) {
  using nlohmann::json;
  json context = {{"group", c.group},
                  {"group_name", group_name == nullptr ? json(nullptr) : json(*group_name)},
                  {"event_type", c.event_type},
                  {"language", c.language},
                  {"contact_at", FormatRfc3339(c.contact_at)}};
  auto optional = [&](const char* name, const std::optional<std::string>& value) {
    if (value) {
      context[name] = *value;
    } else if (absent_as_null) {
      context[name] = nullptr;
    }
  };
  optional("incident_id", c.incident_id);
  optional("channel", c.channel);
  optional("incident_type_code", c.incident_type_code);
  optional("incident_category", c.incident_category);
  optional("incident_grade", c.incident_grade);
  optional("npu", c.npu);
  optional("beat", c.beat);
  optional("handler_id", c.handler_id);
  optional("handler_team", c.handler_team);
  optional("officer_id", c.officer_id);
  optional("department", c.department);
  return context;
}

NoticeRound ReadNoticeRound(const store::AlertView& alert, int round) {
  if (alert.reopened_round && round >= *alert.reopened_round) {
    if (round == *alert.reopened_round) return {NoticeRound::Kind::kReopened, 0};
    return {NoticeRound::Kind::kReminder, round - *alert.reopened_round};
  }
  if (round == 0) return {NoticeRound::Kind::kFirst, 0};
  return {NoticeRound::Kind::kReminder, round};
}

std::string AlertWebhookBody(const store::AlertView& alert, int round, bool escalated,
                             TimePoint now, std::string_view link, std::string_view group_name) {
  using nlohmann::json;
  const std::string name(group_name);  // "" when the rules in force do not hold the group
  const json context = AlertContextJson(alert.context, name.empty() ? nullptr : &name, false);
  json data = {
      {"alert_id", alert.id},
      {"survey_id", alert.survey_id},
      {"kind", AlertKindName(alert.kind)},
      {"severity", AlertSeverityName(alert.severity)},
      {"rules", alert.rules},
      {"status", store::AlertStatusName(alert.status)},
      {"round", round},
      {"escalated", escalated},
      {"created_at", FormatRfc3339(alert.created_at)},
      {"reopened_at", alert.reopened_at ? json(FormatRfc3339(*alert.reopened_at)) : json(nullptr)},
      {"context", context},
      {"link", link}};
  const NoticeRound::Kind kind = ReadNoticeRound(alert, round).kind;
  const char* type = kind == NoticeRound::Kind::kFirst      ? "alert.created"
                     : kind == NoticeRound::Kind::kReopened ? "alert.reopened"
                                                            : "alert.renotified";
  return json{{"type", type}, {"timestamp", FormatRfc3339(now)}, {"data", data}}.dump();
}

http::ClientRequest WebhookRequest(const WebhookTarget& target, std::string_view id, TimePoint now,
                                   std::string body) {
  http::ClientRequest request;
  request.method = "POST";
  request.url = target.url;
  request.timeout = target.timeout;
  request.ca_file = target.ca_file;
  const std::int64_t timestamp = ToUnixSeconds(now);
  request.headers = {{"Content-Type", "application/json"},
                     {"User-Agent", "surveyd-alerts"},
                     {"webhook-id", std::string(id)},
                     {"webhook-timestamp", std::to_string(timestamp)},
                     {"webhook-signature", WebhookSignature(target.secret, id, timestamp, body)}};
  request.body = std::move(body);
  return request;
}

}  // namespace surveyd::alerts
