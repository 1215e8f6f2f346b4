#include "surveyd/core/delivery.hpp"

namespace surveyd {

const char* DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kAccepted:
      return "accepted";
    case DeliveryState::kSent:
      return "sent";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFailed:
      return "failed";
    case DeliveryState::kUndeliverable:
      return "undeliverable";
    case DeliveryState::kExpired:
      return "expired";
  }
  return "unknown";
}

std::optional<DeliveryState> ParseDeliveryState(std::string_view name) {
  for (DeliveryState state :
       {DeliveryState::kAccepted, DeliveryState::kSent, DeliveryState::kDelivered,
        DeliveryState::kFailed, DeliveryState::kUndeliverable, DeliveryState::kExpired}) {
    if (name == DeliveryStateName(state)) return state;
  }
  return std::nullopt;
}

bool IsFinal(DeliveryState state) {
  return state == DeliveryState::kDelivered || state == DeliveryState::kFailed ||
         state == DeliveryState::kUndeliverable || state == DeliveryState::kExpired;
}

}  // namespace surveyd
