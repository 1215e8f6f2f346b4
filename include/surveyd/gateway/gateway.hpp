#pragma once
// The SMS gateway seam, complete on both sides. An adapter (WMNow, Kannel, Twilio) sends texts
// and reads its gateway's callbacks -- verifying them, translating them into the service's own
// DeliveryReport and InboundSms, and saying what HTTP answer the gateway is owed. Nothing outside
// gateway/ (and app/, which picks the adapter) knows a vendor's URLs, headers or status words.
//
// Expected failures are values (SendResult, Callback), never exceptions. Adapters are
// thread-safe: Send runs on the dispatcher's workers while callbacks are read on HTTP workers.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/delivery.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::gateway {

struct OutgoingSms {
  std::string client_ref;  // the service's own stable id for this message (idempotency key,
                           // and the ref every delivery report carries back)
  std::string to_e164;     // personal data: never log it
  std::string body;
};

enum class SendStatus {
  kAccepted,   // the gateway took it (or had already taken this client_ref)
  kPermanent,  // will never succeed (invalid number/body, not routable): fail the message
  kTransient,  // proven not sent (refused, 5xx that means "not taken", timeout before sending):
               // retry with backoff
  kThrottled,  // 429: retry after retry_after at the earliest
  kAuth,       // 401/403: configuration is wrong; retry slowly, alert
  kInDoubt,    // the request may have reached the gateway (timeout or reset after sending)
};
const char* SendStatusName(SendStatus status);

struct SendResult {
  SendStatus status = SendStatus::kTransient;
  std::string message_id;  // gateway's id, when accepted (empty for Kannel, which has none)
  int http_status = 0;     // 0 when there was no HTTP answer
  std::string error;       // short and free of personal data
  std::optional<std::chrono::seconds> retry_after;
};

// The two callbacks every gateway makes: delivery reports and citizens' replies.
enum class CallbackKind { kStatus, kInbound };
const char* CallbackKindName(CallbackKind kind);  // "status", "inbound"

// Where a gateway's callbacks land: "/api/v1/gateway/{gateway}/{status|inbound}".
std::string CallbackPath(std::string_view gateway, CallbackKind kind);

enum class CallbackVerdict {
  kOk,            // verified and understood: apply it, then answer
  kIgnored,       // verified, but nothing to apply (a status we do not track): answer, change
                  // nothing
  kUnauthorized,  // missing, wrong or stale signature/secret: 401, change nothing
  kMalformed,     // verified but unreadable (or the wrong method): 400, change nothing
};
const char* CallbackVerdictName(CallbackVerdict verdict);

struct Callback {
  CallbackVerdict verdict = CallbackVerdict::kUnauthorized;
  std::optional<DeliveryReport> report;  // set for kOk status callbacks
  std::optional<InboundSms> inbound;     // set for kOk inbound callbacks
  std::string problem;                   // why not kOk; short, free of personal data
};

// The sending half: all the dispatcher needs (and what flow control wraps).
class Sender {
 public:
  virtual ~Sender() = default;

  virtual std::string Name() const = 0;  // "wmnow", "kannel", "twilio": scopes message ids
  // True when a resend with the same client_ref can never make a second SMS (WMNow-style);
  // a send in doubt through a gateway that is not idempotent is never resent automatically.
  virtual bool Idempotent() const = 0;
  virtual SendResult Send(const OutgoingSms& sms) = 0;  // blocking, bounded by a timeout
  // Several texts at once, answered in order: concurrently over kept-alive connections where the
  // adapter can (at most its limit of requests in flight); this default sends them in turn.
  virtual std::vector<SendResult> SendAll(const std::vector<OutgoingSms>& batch);
};

// A whole adapter: sends, and reads its gateway's callbacks.
class Gateway : public Sender {
 public:
  // True when `request` carries this gateway's valid signature or secret for a callback of
  // `kind` (and, where the gateway signs a time, one close enough to `now`).
  virtual bool VerifyCallback(CallbackKind kind, const http::Request& request,
                              TimePoint now) const = 0;
  // Verifies, then reads the callback. Never throws on bad input: a request that fails
  // VerifyCallback is kUnauthorized, whatever else is wrong with it.
  virtual Callback ParseCallback(CallbackKind kind, const http::Request& request,
                                 TimePoint now) const = 0;
  // The answer the gateway is owed once the callback has been handled (or refused).
  virtual http::Response CallbackAnswer(CallbackKind kind, CallbackVerdict verdict,
                                        std::string_view problem) const = 0;
};

}  // namespace surveyd::gateway
