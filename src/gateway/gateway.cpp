#include "surveyd/gateway/gateway.hpp"

namespace surveyd::gateway {

const char* SendStatusName(SendStatus status) {
  switch (status) {
    case SendStatus::kAccepted:
      return "accepted";
    case SendStatus::kPermanent:
      return "permanent";
    case SendStatus::kTransient:
      return "transient";
    case SendStatus::kThrottled:
      return "throttled";
    case SendStatus::kAuth:
      return "auth";
    case SendStatus::kInDoubt:
      return "in_doubt";
  }
  return "unknown";
}

}  // namespace surveyd::gateway
