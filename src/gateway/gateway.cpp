#include "surveyd/gateway/gateway.hpp"

namespace surveyd::gateway {

std::vector<SendResult> Sender::SendAll(const std::vector<OutgoingSms>& batch) {
  std::vector<SendResult> results;
  results.reserve(batch.size());
  for (const OutgoingSms& sms : batch) results.push_back(Send(sms));
  return results;
}

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

const char* CallbackKindName(CallbackKind kind) {
  switch (kind) {
    case CallbackKind::kStatus:
      return "status";
    case CallbackKind::kInbound:
      return "inbound";
  }
  return "unknown";
}

std::string CallbackPath(std::string_view gateway, CallbackKind kind) {
  return "/api/v1/gateway/" + std::string(gateway) + "/" + CallbackKindName(kind);
}

const char* CallbackVerdictName(CallbackVerdict verdict) {
  switch (verdict) {
    case CallbackVerdict::kOk:
      return "ok";
    case CallbackVerdict::kIgnored:
      return "ignored";
    case CallbackVerdict::kUnauthorized:
      return "unauthorized";
    case CallbackVerdict::kMalformed:
      return "malformed";
  }
  return "unknown";
}

}  // namespace surveyd::gateway
