#pragma once
// Honest statistics for small numbers: shares with their 95% Wilson score interval.
#include <cstdint>
#include <utility>

namespace surveyd::stats {

// k out of n as a fraction (0 when n == 0).
double Rate(std::int64_t k, std::int64_t n);

// 95% Wilson score interval for k successes out of n: honest for small n, where the plain
// proportion misleads. Returns {0, 0} for n == 0.
std::pair<double, double> WilsonInterval(std::int64_t k, std::int64_t n);

}  // namespace surveyd::stats
