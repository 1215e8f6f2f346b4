#pragma once
// Alert notices to the force's webhook, signed the Standard Webhooks way
// (https://www.standardwebhooks.com): headers webhook-id (the same on every retry of one notice,
// so the receiver can drop repeats), webhook-timestamp (Unix seconds) and webhook-signature
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>". A secret written "whsec_<base64>" is that
// base64's bytes; any other secret is used as written. The body names the alert's kind and
// never holds the number or the comment.
#include <chrono>
#include <cstdint>
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

struct WebhookTarget {
  std::string url;  // empty: no webhook
  std::string secret;
  std::chrono::milliseconds timeout{10000};
};

// {"type": "alert.created" (round 0) or "alert.renotified", "timestamp": ..., "data": {...}}:
// the alert's id, kind, severity, rules, status, round, escalated, created_at, context (group,
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
