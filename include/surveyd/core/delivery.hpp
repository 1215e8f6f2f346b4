#pragma once
// What happens to a text after it is sent, in the service's own words. Every gateway adapter
// translates its vendor's callbacks (WMNow JSON, Kannel DLR types, Twilio MessageStatus) into
// these; nothing outside gateway/ sees a vendor's status words.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "surveyd/core/time.hpp"

namespace surveyd {

// A message's delivery state as a gateway reports it. Final states: kDelivered, kFailed,
// kUndeliverable, kExpired.
enum class DeliveryState {
  kAccepted,       // the gateway holds it (queued)
  kSent,           // handed to the mobile network
  kDelivered,      // the handset has it
  kFailed,         // the gateway or the network refused it
  kUndeliverable,  // the network could not reach the handset (absent, unknown number)
  kExpired,        // the network gave up before the handset could be reached
};

// "accepted", "sent", "delivered", "failed", "undeliverable", "expired".
const char* DeliveryStateName(DeliveryState state);
std::optional<DeliveryState> ParseDeliveryState(std::string_view name);
bool IsFinal(DeliveryState state);

// One delivery report. Message ids are scoped per gateway: (gateway, gateway_message_id) names a
// message, gateway_message_id alone does not. message_ref is the service's own id for the
// message (OutgoingSms::client_ref), carried back by every gateway: WMNow's client_ref, the
// `ref` in Kannel's dlr-url and in Twilio's StatusCallback URL. It is what settles a send whose
// outcome was in doubt. At least one of gateway_message_id and message_ref is set.
struct DeliveryReport {
  std::string gateway;             // adapter name: "wmnow", "kannel", "twilio"
  std::string gateway_message_id;  // the gateway's id; empty when it has none (Kannel)
  std::string message_ref;         // the service's id; empty when the gateway did not echo it
  DeliveryState state = DeliveryState::kAccepted;
  std::string error_code;  // the gateway's code, reduced to [A-Za-z0-9_.-]; empty when none
  TimePoint at;            // when the gateway says it happened (else when it reached us)
};

// A text from a citizen (a reply). Personal data throughout: never log from_e164 or body.
struct InboundSms {
  std::string gateway;             // adapter name
  std::string gateway_message_id;  // the gateway's id; empty when it has none (Kannel)
  std::string from_e164;  // the sender, normalised; empty when the gateway's number is not one
  std::string to;         // the number or sender name it was sent to
  std::string body;       // UTF-8 (invalid bytes replaced)
  TimePoint received_at;
  // When the gateway took the text from the network, where it says so without an id (Kannel's
  // %T): the same on every delivery of one text, so a second delivery is known by it.
  std::optional<TimePoint> gateway_time = std::nullopt;
};

// A text with neither the gateway's id nor its time (Kannel's get-url without %I and %T) is taken
// for a second delivery of the same text from the same number received less than this before: a
// gateway's quick retry after an answer it lost. A citizen's own second text cannot come that
// soon after the first was answered (our next text must reach the phone, and be read and
// answered); a later retry is not recognised, which the id or the time would.
inline constexpr std::chrono::seconds kInboundRepeatWindow{10};

}  // namespace surveyd
