#include "surveyd/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace surveyd::metrics {
namespace {

TEST(MetricsTest, CountersRenderWithHelpTypeAndLabelsInOrder) {
  Registry registry;
  auto& events =
      registry.Counters("surveyd_events_total", "Events by type and outcome.", {"type", "outcome"});
  events.With({"call.ended", "accepted"}).Inc(3);
  events.With({"call.ended", "duplicate"}).Inc();
  events.With({"attendance.ended", "accepted"}).Inc(2);
  EXPECT_EQ(registry.Render(),
            "# HELP surveyd_events_total Events by type and outcome.\n"
            "# TYPE surveyd_events_total counter\n"
            "surveyd_events_total{type=\"attendance.ended\",outcome=\"accepted\"} 2\n"
            "surveyd_events_total{type=\"call.ended\",outcome=\"accepted\"} 3\n"
            "surveyd_events_total{type=\"call.ended\",outcome=\"duplicate\"} 1\n");
}

TEST(MetricsTest, UnlabelledGaugeAndEscaping) {
  Registry registry;
  registry.Gauges("surveyd_up", "Help with \\ and\nnewline.").With({}).Set(1.5);
  registry.Gauges("surveyd_info", "Labels.", {"v"}).With({"a\"b\\c\nd"}).Set(1);
  EXPECT_EQ(registry.Render(),
            "# HELP surveyd_up Help with \\\\ and\\nnewline.\n"
            "# TYPE surveyd_up gauge\n"
            "surveyd_up 1.5\n"
            "# HELP surveyd_info Labels.\n"
            "# TYPE surveyd_info gauge\n"
            "surveyd_info{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

// A gauge whose source cannot be read is left out until it is read again, not shown stale.
TEST(MetricsTest, AnUnsetGaugeIsAbsentUntilSetAgain) {
  Registry registry;
  auto& queued = registry.Gauges("surveyd_queued", "Queued.", {"state"});
  queued.With({"pending"}).Set(4);
  queued.With({"sending"}).Set(1);
  queued.ForEach([](const LabelValues&, Gauge& gauge) { gauge.Unset(); });
  EXPECT_EQ(registry.Render(),
            "# HELP surveyd_queued Queued.\n"
            "# TYPE surveyd_queued gauge\n");
  queued.With({"pending"}).Set(0);
  EXPECT_EQ(registry.Render(),
            "# HELP surveyd_queued Queued.\n"
            "# TYPE surveyd_queued gauge\n"
            "surveyd_queued{state=\"pending\"} 0\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto& latency =
      registry.Histograms("surveyd_send_seconds", "Send latency.", {"gateway"}, {0.1, 1, 10});
  auto& wmnow = latency.With({"wmnow"});
  wmnow.Observe(0.05);
  wmnow.Observe(0.1);  // on a bound: counted in that bucket (le)
  wmnow.Observe(0.5);
  wmnow.Observe(20);
  EXPECT_EQ(registry.Render(),
            "# HELP surveyd_send_seconds Send latency.\n"
            "# TYPE surveyd_send_seconds histogram\n"
            "surveyd_send_seconds_bucket{gateway=\"wmnow\",le=\"0.1\"} 2\n"
            "surveyd_send_seconds_bucket{gateway=\"wmnow\",le=\"1\"} 3\n"
            "surveyd_send_seconds_bucket{gateway=\"wmnow\",le=\"10\"} 3\n"
            "surveyd_send_seconds_bucket{gateway=\"wmnow\",le=\"+Inf\"} 4\n"
            "surveyd_send_seconds_sum{gateway=\"wmnow\"} 20.65\n"
            "surveyd_send_seconds_count{gateway=\"wmnow\"} 4\n");
}

TEST(MetricsTest, RegisteringAgainReturnsTheSameFamilyOrRefusesAConflict) {
  Registry registry;
  auto& first = registry.Counters("surveyd_x_total", "X.", {"a"});
  auto& again = registry.Counters("surveyd_x_total", "X.", {"a"});
  EXPECT_EQ(&first, &again);
  EXPECT_THROW(registry.Counters("surveyd_x_total", "X.", {"b"}), std::invalid_argument);
  EXPECT_THROW(registry.Gauges("surveyd_x_total", "X.", {"a"}), std::invalid_argument);
  EXPECT_THROW(registry.Counters("bad name", "X."), std::invalid_argument);
  EXPECT_THROW(registry.Counters("surveyd_y", "Y.", {"le"}), std::invalid_argument);
  EXPECT_THROW(first.With({}), std::invalid_argument);
  EXPECT_THROW(first.With({"1", "2"}), std::invalid_argument);
}

TEST(MetricsTest, AMirroredCounterFollowsItsCountUpwardOnly) {
  Counter counter;
  counter.Mirror(5);
  EXPECT_EQ(counter.Value(), 5u);
  counter.Mirror(3);  // a count that went down (a restart of what keeps it) never lowers it
  EXPECT_EQ(counter.Value(), 5u);
  counter.Mirror(-1);
  EXPECT_EQ(counter.Value(), 5u);
  counter.Mirror(9);
  EXPECT_EQ(counter.Value(), 9u);
}

TEST(MetricsTest, CollectorsRunBeforeEachRender) {
  Registry registry;
  auto& age = registry.Gauges("surveyd_age_seconds", "Age.").With({});
  int calls = 0;
  registry.OnCollect([&] { age.Set(++calls); });
  EXPECT_NE(registry.Render().find("surveyd_age_seconds 1\n"), std::string::npos);
  EXPECT_NE(registry.Render().find("surveyd_age_seconds 2\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  auto& family = registry.Counters("surveyd_n_total", "N.", {"t"});
  auto& gauge = registry.Gauges("surveyd_g", "G.").With({});
  auto& histogram = registry.Histograms("surveyd_h", "H.", {}, {1}).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        family.With({i % 2 == 0 ? "even" : "odd"}).Inc();
        gauge.Add(1);
        histogram.Observe(0.5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(family.With({"even"}).Value() + family.With({"odd"}).Value(), 40000u);
  EXPECT_EQ(gauge.Value(), 40000);
  EXPECT_EQ(histogram.Read().cumulative.back(), 40000u);
  EXPECT_EQ(histogram.Read().sum, 20000);
}

}  // namespace
}  // namespace surveyd::metrics
