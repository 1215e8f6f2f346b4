#pragma once
// The SMS gateway seam. Expected failures are values (SendResult), never exceptions.
#include <chrono>
#include <optional>
#include <string>

namespace surveyd::gateway {

struct OutgoingSms {
  std::string client_ref;  // the service's own stable id for this message (idempotency key)
  std::string to_e164;     // personal data: never log it
  std::string body;
};

enum class SendStatus {
  kAccepted,   // the gateway took it (or had already taken this client_ref)
  kPermanent,  // will never succeed (invalid number/body): fail the message
  kTransient,  // 5xx, refused, timeout before the request went out: retry with backoff
  kThrottled,  // 429: retry after retry_after at the earliest
  kAuth,       // 401/403: configuration is wrong; retry slowly, alert
  kInDoubt,    // the request may have reached the gateway (timeout after sending)
};
const char* SendStatusName(SendStatus status);

struct SendResult {
  SendStatus status = SendStatus::kTransient;
  std::string message_id;  // gateway's id, when accepted
  int http_status = 0;     // 0 when there was no HTTP answer
  std::string error;       // short and free of personal data
  std::optional<std::chrono::seconds> retry_after;
};

class Gateway {
 public:
  virtual ~Gateway() = default;
  virtual std::string Name() const = 0;
  // True when a resend with the same client_ref can never make a second SMS (WMNow-style);
  // a send in doubt through a gateway that is not idempotent is never resent automatically.
  virtual bool Idempotent() const = 0;
  virtual SendResult Send(const OutgoingSms& sms) = 0;  // blocking, bounded by a timeout
};

}  // namespace surveyd::gateway
