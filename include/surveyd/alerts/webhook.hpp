#pragma once
// Alert notices to the force's webhook, signed the Standard Webhooks way
// (https://www.standardwebhooks.com): headers webhook-id (the same on every retry of one notice,
// so the receiver can drop repeats), webhook-timestamp (Unix seconds) and webhook-signature
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>". A secret written "whsec_<base64>" is that
// base64's bytes; any other secret is used as written. The body names the alert's kind and
// never holds the number or the comment.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "surveyd/core/time.hpp"
#include "surveyd/http/client.hpp"
#include "surveyd/store/alert_store.hpp"

namespace surveyd::alerts {

// The HMAC key of a secret; nullopt when a "whsec_" secret is not valid base64.
std::optional<std::string> WebhookKey(std::string_view secret);
// "v1,<base64 signature>"; empty when the secret is not usable.
std::string WebhookSignature(std::string_view secret, std::string_view id, std::int64_t timestamp,
                             std::string_view body);
// Checks a webhook-signature header (space-separated "v1,..." entries; any one may match), in
// constant time. For receivers and tests.
bool VerifyWebhookSignature(std::string_view secret, std::string_view id, std::int64_t timestamp,
                            std::string_view body, std::string_view header);

// An alert's context as the webhook and the alerts API give it: the survey group's id and its
// name in the rules in force (null when they do not hold it: `group_name` null), event type,
// language, contact time, and the incident's and contact's fields that are known. Unknown fields
// are null (`absent_as_null`, the API, whose shape is fixed) or left out (the webhook).
nlohmann::json AlertContextJson(const store::AlertContext& c, const std::string* group_name,
                                bool absent_as_null);

struct WebhookTarget {
  std::string url;  // empty: no webhook
  std::string secret;
  std::chrono::milliseconds timeout{10000};
  std::string ca_file;  // the CAs (PEM) to trust for an https url; empty: the system's
};

// What a notice of an alert's `round` is: its first, the one saying it was opened again (the
// citizen wrote again after it was acknowledged or resolved), or a reminder nobody acted on,
// counted from the last of those.
struct NoticeRound {
  enum class Kind { kFirst, kReopened, kReminder };
  Kind kind = Kind::kFirst;
  int reminder = 0;  // kReminder: 1, 2...
};
NoticeRound ReadNoticeRound(const store::AlertView& alert, int round);

// {"type": "alert.created" (round 0), "alert.reopened" or "alert.renotified", "timestamp": ...,
// "data": {...}}: the alert's id, kind, severity, rules, status, round, escalated, created_at,
// reopened_at (null unless it was), context (group,
// its `group_name` in the rules in force or null, channel, incident category and grade, area,
// team and person ids, contact time), and `link`.
std::string AlertWebhookBody(const store::AlertView& alert, int round, bool escalated,
                             TimePoint now, std::string_view link, std::string_view group_name);

// The signed POST of one notice.
http::ClientRequest WebhookRequest(const WebhookTarget& target, std::string_view id, TimePoint now,
                                   std::string body);

// Standard base64 (with or without padding); nullopt when not base64.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace surveyd::alerts
