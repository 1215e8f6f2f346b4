#include "surveyd/core/statistics.hpp"

#include <algorithm>
#include <cmath>

namespace surveyd::stats {

double Rate(std::int64_t k, std::int64_t n) {
  return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0;
}

std::pair<double, double> WilsonInterval(std::int64_t k, std::int64_t n) {
  if (n <= 0) return {0, 0};
  k = std::clamp<std::int64_t>(k, 0, n);  // more successes than trials is a caller's mistake
  constexpr double kZ = 1.959963984540054;
  const double p = static_cast<double>(k) / static_cast<double>(n);
  const double nn = static_cast<double>(n);
  const double denominator = 1 + kZ * kZ / nn;
  const double centre = (p + kZ * kZ / (2 * nn)) / denominator;
  const double half = kZ * std::sqrt(p * (1 - p) / nn + kZ * kZ / (4 * nn * nn)) / denominator;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

}  // namespace surveyd::stats
