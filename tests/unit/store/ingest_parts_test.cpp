#include "surveyd/store/ingest_parts.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace surveyd::store {
namespace {

IngestItem Line(const std::string& id, const std::string& incident, const std::string& phone) {
  IngestItem item;
  item.source = "tcp";
  item.event_id = id;
  Event event;
  event.event_id = id;
  event.incident.id = incident;
  if (!phone.empty()) {
    event.caller = Caller{};
    event.caller->phone = phone;
  }
  item.event = std::move(event);
  return item;
}

IngestItem Unreadable(const std::string& id, const std::string& incident,
                      const std::string& phone) {
  IngestItem item;
  item.source = "tcp";
  item.reject_reason = "malformed";
  item.event_id = id;
  item.incident_id = incident;
  item.phone = phone;
  return item;
}

using Parts = std::vector<std::vector<std::size_t>>;

TEST(SplitByContactTest, UnrelatedLinesAreShared) {
  std::vector<IngestItem> batch;
  for (int i = 0; i < 6; ++i) {
    batch.push_back(Line("E" + std::to_string(i), "INC-" + std::to_string(i),
                         "+4477009000" + std::to_string(10 + i)));
  }
  EXPECT_EQ(SplitByContact(batch, 2), (Parts{{0, 2, 4}, {1, 3, 5}}));
  EXPECT_EQ(SplitByContact(batch, 1), (Parts{{0, 1, 2, 3, 4, 5}}));
}

TEST(SplitByContactTest, AnIncidentANumberOrAnEventIdKeepsLinesTogether) {
  const std::vector<IngestItem> batch = {
      Line("E1", "INC-1", "+447700900001"),
      Line("E2", "INC-2", "+447700900002"),
      Line("E3", "INC-1", "+447700900003"),  // E1's incident
      Line("E4", "INC-4", "07700 900002"),   // E2's number, written otherwise
      Line("E5", "INC-5", "+447700900005"),
      Line("E1", "INC-6", "+447700900006"),  // E1 again (a duplicate)
      Line("E7", "INC-7", ""),
  };
  const Parts parts = SplitByContact(batch, 2);
  ASSERT_EQ(parts.size(), 2u);
  auto part_of = [&](std::size_t line) {
    for (std::size_t p = 0; p < parts.size(); ++p) {
      for (std::size_t i : parts[p]) {
        if (i == line) return p;
      }
    }
    return parts.size();
  };
  EXPECT_EQ(part_of(0), part_of(2)) << "one incident";
  EXPECT_EQ(part_of(0), part_of(5)) << "one event id";
  EXPECT_EQ(part_of(1), part_of(3)) << "one number";
  EXPECT_NE(part_of(0), part_of(1)) << "the largest groups go to different parts";
  EXPECT_EQ(parts[0].size() + parts[1].size(), batch.size());
  for (const auto& part : parts) {
    EXPECT_TRUE(std::is_sorted(part.begin(), part.end())) << "each part in the batch's order";
  }
}

TEST(SplitByContactTest, ARejectedLineJoinsWhatItNames) {
  const std::vector<IngestItem> batch = {
      Line("E1", "INC-1", "+447700900001"),
      Line("E2", "INC-2", "+447700900002"),
      Unreadable("", "INC-1", ""),
      Unreadable("", "", "+447700900002"),
      Unreadable("", "", ""),  // names nothing: any part
  };
  const Parts parts = SplitByContact(batch, 2);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], (std::vector<std::size_t>{0, 2, 4}));
  EXPECT_EQ(parts[1], (std::vector<std::size_t>{1, 3}));
}

TEST(SplitByContactTest, ABatchLinkedThroughoutDoesNotSplit) {
  // A chain: each line shares its number with the one before and its incident with the next.
  std::vector<IngestItem> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(Line("E" + std::to_string(i), "INC-" + std::to_string(i / 2),
                         "+4477009000" + std::to_string(10 + (i + 1) / 2)));
  }
  EXPECT_EQ(SplitByContact(batch, 2), (Parts{{0, 1, 2, 3, 4}}));
  EXPECT_TRUE(SplitByContact({}, 2).empty());
}

}  // namespace
}  // namespace surveyd::store
