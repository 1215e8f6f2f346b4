#pragma once
// One registry of counters, gauges and histograms for the whole process, rendered in the
// Prometheus text format (GET /metrics). Updating a metric is a relaxed atomic operation; finding
// a labelled one takes a lock, so hot paths look theirs up once and keep the reference (metrics
// live as long as the registry).
//
// Label values must come from small fixed sets (event types, outcomes, rule names, route names,
// status codes): never a phone number, a token, an id or free text.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace surveyd::metrics {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }
  // Mirrors a count kept elsewhere (a component's status), which only grows: raised to `total`,
  // never lowered. For a refresh at collection time (Registry::OnCollect).
  void Mirror(std::int64_t total) {
    const auto target = static_cast<std::uint64_t>(total < 0 ? 0 : total);
    if (target > Value()) Inc(target - Value());
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double value) {
    value_.store(value, std::memory_order_relaxed);
    known_.store(true, std::memory_order_relaxed);
  }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }
  // Leaves the gauge out of the exposition until the next Set. A value that can no longer be
  // read (its source is unreachable) is absent rather than stale, as Prometheus' exporters do:
  // a graph shows a gap, and a rule on it does not hold on a value from before the outage.
  void Unset() { known_.store(false, std::memory_order_relaxed); }
  bool known() const { return known_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
  std::atomic<bool> known_{true};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, from a millisecond to a minute.
std::vector<double> LatencyBuckets();

enum class Kind { kCounter, kGauge, kHistogram };

// A metric name with its label names; one child per combination of label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for these label values (as many as the family has label names; throws
  // std::invalid_argument otherwise).
  Metric& With(const LabelValues& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Every child, in label order.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : children_) visit(values, *metric);
  }
  template <typename Visit>
  void ForEach(Visit&& visit) {
    std::lock_guard lock(mutex_);
    for (auto& [values, metric] : children_) visit(values, *metric);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  // Registering a name again returns the family already there, when its kind and label names
  // match (so two components may share one); otherwise throws std::invalid_argument.
  CounterFamily& Counters(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  GaugeFamily& Gauges(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names = {});
  HistogramFamily& Histograms(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names, std::vector<double> bounds);

  // Runs before every rendering, to copy values kept elsewhere into gauges (a component's
  // status, a heartbeat's age). Whatever it refers to must outlive the registry's last Render.
  void OnCollect(std::function<void()> refresh);

  // The Prometheus text exposition format, version 0.0.4.
  std::string Render() const;

 private:
  struct Entry {
    Kind kind;
    std::shared_ptr<void> family;
  };
  template <typename Metric>
  Family<Metric>& Add(Kind kind, const std::string& name, const std::string& help,
                      std::vector<std::string> label_names,
                      std::function<std::unique_ptr<Metric>()> make);

  mutable std::mutex mutex_;
  std::vector<std::string> order_;  // names in registration order
  std::map<std::string, Entry> families_;
  std::vector<std::function<void()>> collectors_;
};

// The text exposition format's escaping of a label value (backslash, quote, newline).
std::string EscapeLabelValue(const std::string& value);

}  // namespace surveyd::metrics
