#pragma once
// Honest statistics for small numbers: shares with their 95% Wilson score interval, means with
// their 95% t interval.
#include <cstdint>
#include <utility>

namespace surveyd::stats {

// k out of n as a fraction (0 when n == 0).
double Rate(std::int64_t k, std::int64_t n);

// 95% Wilson score interval for k successes out of n: honest for small n, where the plain
// proportion misleads. Returns {0, 0} for n == 0.
std::pair<double, double> WilsonInterval(std::int64_t k, std::int64_t n);

// The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1): what a 95% interval
// on a mean from df + 1 answers is wide, in standard errors.
double StudentT975(std::int64_t df);

// 95% interval of the mean of n scores on the scale [low, high], from their sum and the sum of
// their squares: Student's t on the sample's standard deviation, within the scale. The mean
// alone ({m, m}) when n < 2; {0, 0} when n == 0.
std::pair<double, double> MeanInterval(std::int64_t n, std::int64_t sum, std::int64_t squares,
                                       double low, double high);

}  // namespace surveyd::stats
