#include <gtest/gtest.h>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"

namespace surveyd {
namespace {

TEST(NamesTest, EventTypesRoundTrip) {
  for (EventType type :
       {EventType::kCallEnded, EventType::kResourceDeparted, EventType::kIncidentClosed}) {
    EXPECT_EQ(ParseEventType(EventTypeName(type)), type);
  }
  EXPECT_STREQ(EventTypeName(EventType::kCallEnded), "call.ended");
  EXPECT_STREQ(EventTypeName(EventType::kResourceDeparted), "resource.departed");
  EXPECT_STREQ(EventTypeName(EventType::kIncidentClosed), "incident.closed");
}

TEST(NamesTest, UnknownEventTypes) {
  EXPECT_FALSE(ParseEventType("").has_value());
  EXPECT_FALSE(ParseEventType("call.started").has_value());
  EXPECT_FALSE(ParseEventType("CALL.ENDED").has_value());
  EXPECT_FALSE(ParseEventType("call.ended ").has_value());
}

TEST(NamesTest, OutcomeNames) {
  EXPECT_STREQ(OutcomeName(Decision::Outcome::kSurvey), "survey");
  EXPECT_STREQ(OutcomeName(Decision::Outcome::kExcluded), "excluded");
  EXPECT_STREQ(OutcomeName(Decision::Outcome::kIgnored), "ignored");
}

}  // namespace
}  // namespace surveyd
