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

std::pair<double, double> WilsonIntervalWithin(const SharesWithin& within) {
  // A few counts each way: the noise moves each by a couple at most (kCountWithin), so this is a
  // handful of intervals, not a search.
  constexpr double kEdge = 1e-9;  // a share at a bound, read back through a division, stays in
  std::pair<double, double> widest{1, 0};
  for (std::int64_t n = std::max<std::int64_t>(1, within.n_low); n <= within.n_high; ++n) {
    const double nn = static_cast<double>(n);
    const std::int64_t lowest = std::max<std::int64_t>(
        {0, within.k_low, static_cast<std::int64_t>(std::ceil(within.share_low * nn - kEdge))});
    const std::int64_t highest = std::min<std::int64_t>(
        {n, within.k_high, static_cast<std::int64_t>(std::floor(within.share_high * nn + kEdge))});
    for (std::int64_t k = lowest; k <= highest; ++k) {
      const auto [low, high] = WilsonInterval(k, n);
      widest = {std::min(widest.first, low), std::max(widest.second, high)};
    }
  }
  if (widest.first > widest.second) return {0, 0};
  return widest;
}

double StudentT975(std::int64_t df) {
  // Exact for the few answers where the expansion below is least accurate.
  static constexpr double kSmall[] = {12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818,
                                      2.4469119,  2.3646243, 2.3060041, 2.2621572, 2.2281389};
  if (df < 1) df = 1;
  if (df <= 10) return kSmall[df - 1];
  // Cornish-Fisher expansion about the normal quantile (Abramowitz and Stegun 26.7.5): within
  // 1e-5 from 10 degrees of freedom on.
  constexpr double kZ = 1.959963984540054;
  const double v = static_cast<double>(df);
  const double z2 = kZ * kZ;
  const double g1 = kZ * (z2 + 1) / 4;
  const double g2 = kZ * ((5 * z2 + 16) * z2 + 3) / 96;
  const double g3 = kZ * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384;
  const double g4 = kZ * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160;
  return kZ + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v);
}

std::pair<double, double> MeanInterval(std::int64_t n, std::int64_t sum, std::int64_t squares,
                                       double low, double high) {
  if (n <= 0) return {0, 0};
  const double nn = static_cast<double>(n);
  const double mean = std::clamp(static_cast<double>(sum) / nn, low, high);
  if (n < 2) return {mean, mean};
  // The sample variance; never below 0, where rounding would take it.
  const double s = static_cast<double>(sum);
  const double variance = std::max(0.0, (static_cast<double>(squares) - s * s / nn) / (nn - 1));
  const double half = StudentT975(n - 1) * std::sqrt(variance / nn);
  return {std::max(low, mean - half), std::min(high, mean + half)};
}

std::pair<double, double> MeanIntervalWithin(std::int64_t n, std::int64_t sum, std::int64_t squares,
                                             std::int64_t fewest, double margin, double low,
                                             double high) {
  if (n <= 0) return {0, 0};
  const double nn = static_cast<double>(n);
  const double mean = std::clamp(static_cast<double>(sum) / nn, low, high);
  const double s = static_cast<double>(sum);
  const double variance =
      n < 2 ? 0.0 : std::max(0.0, (static_cast<double>(squares) - s * s / nn) / (nn - 1));
  // t / sqrt(k) shrinks as k grows: the fewest answers the figure may stand for give the widest
  // interval any of them could have had.
  const std::int64_t k = std::max<std::int64_t>(2, std::min(fewest, n));
  const double half =
      StudentT975(k - 1) * std::sqrt(variance / static_cast<double>(k)) + std::max(0.0, margin);
  return {std::max(low, mean - half), std::min(high, mean + half)};
}

}  // namespace surveyd::stats
