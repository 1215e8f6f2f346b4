#pragma once
// Aggregates for analysts and the `report` command. Never returns a phone number.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

// events_received counts every delivery: stored events + repeated deliveries + rejected lines.
// sms_accepted: accepted by the gateway or further (sent, delivered); sms_failed: refused, or
// not delivered (failed, undeliverable, delivery_expired); pending: not yet answered
// by a gateway (pending, claimed, sending, in doubt). Cancelled: texts ruled out after they were
// queued (a later event of the incident or number, an opt-out, a re-decision before sending),
// by the rule that did it.
struct Funnel {
  std::int64_t events_received = 0, events_rejected = 0, events_duplicate = 0;
  std::int64_t events_ignored = 0, events_excluded = 0;
  std::map<std::string, std::int64_t> excluded_by_reason;
  std::int64_t surveys_created = 0, sms_accepted = 0, sms_delivered = 0, sms_failed = 0,
               sms_expired = 0, pending = 0, opened = 0, answered = 0, cancelled = 0;
  std::map<std::string, std::int64_t> cancelled_by_reason;
};

struct QuestionStat {
  std::string question;  // "q1".."q5"
  std::int64_t respondents = 0;
  double mean = 0;
  std::int64_t top_box = 0;  // answers of 8-10
};

// [from, to) on the contact time (the event's occurred_at; a rejected line's receipt time).
// A group filter leaves out rejected lines and events that matched no group.
struct StatsFilter {
  std::optional<TimePoint> from, to;
  std::optional<std::string> group;
};

class StatsStore {
 public:
  virtual ~StatsStore() = default;

  virtual Funnel GetFunnel(const StatsFilter& filter) = 0;
  virtual std::vector<QuestionStat> GetQuestionStats(const StatsFilter& filter) = 0;
};

}  // namespace surveyd::store
