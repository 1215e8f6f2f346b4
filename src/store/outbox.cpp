// The parts of the outbox interface that need no database.
#include "surveyd/store/outbox_store.hpp"

#include <array>
#include <utility>

namespace surveyd::store {

namespace {

constexpr std::array<std::pair<MessageKind, const char*>, 6> kKindNames = {{
    {MessageKind::kSurvey, "survey"},
    {MessageKind::kQuestion, "question"},
    {MessageKind::kConfirmation, "confirmation"},
    {MessageKind::kHelp, "help"},
    {MessageKind::kClosed, "closed"},
    {MessageKind::kLinkReply, "link_reply"},
}};

}  // namespace

const char* MessageKindName(MessageKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "survey";
}

std::optional<MessageKind> ParseMessageKind(std::string_view name) {
  for (const auto& [value, text] : kKindNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool DecidedAgain(MessageKind kind) {
  return kind != MessageKind::kConfirmation && kind != MessageKind::kHelp;
}

// The delivery states' own names, but for the network's expiry: "expired" is the outbox's word
// for a text never sent in time.
const char* OutboxStateFor(DeliveryState state) {
  if (state == DeliveryState::kExpired) return "delivery_expired";
  return DeliveryStateName(state);
}

bool OutboxStore::BeginSend(OutboxMessage& message, const std::string& token_hash, TimePoint now,
                            std::chrono::seconds send_lease) {
  const auto attempts =
      BeginSends({{message.id, message.claim_token, token_hash}}, now, send_lease);
  if (attempts.empty() || attempts.front() == 0) return false;
  message.attempts = attempts.front();
  return true;
}

void OutboxStore::RecordAttempt(const OutboxMessage& message, const SendRecord& record,
                                TimePoint now) {
  RecordAttempts({{message.id, message.claim_token, message.attempts, record}}, now);
}

std::vector<bool> OutboxStore::ApplyDeliveryReports(const std::vector<DeliveryReport>& reports) {
  std::vector<bool> matched;
  matched.reserve(reports.size());
  for (const DeliveryReport& report : reports) matched.push_back(ApplyDeliveryReport(report));
  return matched;
}

}  // namespace surveyd::store
