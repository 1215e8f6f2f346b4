#include "surveyd/metrics/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <regex>
#include <stdexcept>

namespace surveyd::metrics {
namespace {

bool ValidName(const std::string& name) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(name, kName);
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

std::string EscapeHelp(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"}, with `extra` (le="0.5") appended; empty when there is no label at all.
std::string LabelText(const std::vector<std::string>& names, const LabelValues& values,
                      const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  return out + "}";
}

const char* TypeName(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::invalid_argument("histogram bounds must be ascending");
  }
}

void Histogram::Observe(double value) {
  const auto index = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

template <typename Metric>
Metric& Family<Metric>::With(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(name_ + ": expected " + std::to_string(label_names_.size()) +
                                " label value(s)");
  }
  std::lock_guard lock(mutex_);
  auto& slot = children_[values];
  if (!slot) slot = make_();
  return *slot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Family<Metric>& Registry::Add(Kind kind, const std::string& name, const std::string& help,
                              std::vector<std::string> label_names,
                              std::function<std::unique_ptr<Metric>()> make) {
  if (!ValidName(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& label : label_names) {
    if (!ValidName(label) || label.find(':') != std::string::npos || label == "le") {
      throw std::invalid_argument(name + ": invalid label name '" + label + "'");
    }
  }
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* family = static_cast<Family<Metric>*>(it->second.family.get());
    if (it->second.kind != kind || family->label_names() != label_names) {
      throw std::invalid_argument("metric '" + name + "' is already registered differently");
    }
    return *family;
  }
  auto family =
      std::make_shared<Family<Metric>>(name, help, std::move(label_names), std::move(make));
  families_.emplace(name, Entry{kind, family});
  order_.push_back(name);
  return *family;
}

CounterFamily& Registry::Counters(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return Add<Counter>(Kind::kCounter, name, help, std::move(label_names),
                      [] { return std::make_unique<Counter>(); });
}

GaugeFamily& Registry::Gauges(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names) {
  return Add<Gauge>(Kind::kGauge, name, help, std::move(label_names),
                    [] { return std::make_unique<Gauge>(); });
}

HistogramFamily& Registry::Histograms(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  if (!std::is_sorted(bounds.begin(), bounds.end())) {
    throw std::invalid_argument(name + ": histogram bounds must be ascending");
  }
  return Add<Histogram>(Kind::kHistogram, name, help, std::move(label_names),
                        [bounds] { return std::make_unique<Histogram>(bounds); });
}

void Registry::OnCollect(std::function<void()> refresh) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(refresh));
}

std::string Registry::Render() const {
  std::vector<std::function<void()>> collectors;
  std::vector<std::pair<std::string, Entry>> families;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
    for (const auto& name : order_) families.emplace_back(name, families_.at(name));
  }
  for (const auto& refresh : collectors) refresh();

  std::string out;
  for (const auto& family_entry : families) {
    // Plain references, not structured bindings: clang 14 (the fuzz build) cannot capture those.
    const std::string& name = family_entry.first;
    const auto& entry = family_entry.second;
    auto header = [&](const std::string& help) {
      out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
      out += "# TYPE " + name + " " + TypeName(entry.kind) + "\n";
    };
    switch (entry.kind) {
      case Kind::kCounter: {
        const auto& family = *static_cast<const CounterFamily*>(entry.family.get());
        header(family.help());
        family.ForEach([&](const LabelValues& values, const Counter& counter) {
          out += name + LabelText(family.label_names(), values) + " " +
                 std::to_string(counter.Value()) + "\n";
        });
        break;
      }
      case Kind::kGauge: {
        const auto& family = *static_cast<const GaugeFamily*>(entry.family.get());
        header(family.help());
        family.ForEach([&](const LabelValues& values, const Gauge& gauge) {
          if (!gauge.known()) return;
          out += name + LabelText(family.label_names(), values) + " " +
                 FormatNumber(gauge.Value()) + "\n";
        });
        break;
      }
      case Kind::kHistogram: {
        const auto& family = *static_cast<const HistogramFamily*>(entry.family.get());
        header(family.help());
        family.ForEach([&](const LabelValues& values, const Histogram& histogram) {
          const auto snapshot = histogram.Read();
          const auto& names = family.label_names();
          for (std::size_t i = 0; i < snapshot.bounds.size(); ++i) {
            out += name + "_bucket" +
                   LabelText(names, values, "le=\"" + FormatNumber(snapshot.bounds[i]) + "\"") +
                   " " + std::to_string(snapshot.cumulative[i]) + "\n";
          }
          out += name + "_bucket" + LabelText(names, values, "le=\"+Inf\"") + " " +
                 std::to_string(snapshot.cumulative.back()) + "\n";
          out += name + "_sum" + LabelText(names, values) + " " + FormatNumber(snapshot.sum) + "\n";
          out += name + "_count" + LabelText(names, values) + " " +
                 std::to_string(snapshot.cumulative.back()) + "\n";
        });
        break;
      }
    }
  }
  return out;
}

}  // namespace surveyd::metrics
