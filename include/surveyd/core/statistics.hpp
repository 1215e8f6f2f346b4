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

// The 95% interval of a share shown with noise (stats::FigureNoise): the widest of the Wilson
// intervals of every true count the figures shown could stand for, so that it holds the true
// share's interval whatever the noise drew (and, as that does, the true share). True counts: k
// of n, with n in [n_low, n_high] (at least 1), k in [k_low, k_high], and k/n in [share_low,
// share_high]. {0, 0} when no counts could.
struct SharesWithin {
  std::int64_t k_low = 0, k_high = 0, n_low = 0, n_high = 0;
  double share_low = 0, share_high = 1;
};
std::pair<double, double> WilsonIntervalWithin(const SharesWithin& within);

// The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1): what a 95% interval
// on a mean from df + 1 answers is wide, in standard errors.
double StudentT975(std::int64_t df);

// 95% interval of the mean of n scores on the scale [low, high], from their sum and the sum of
// their squares: Student's t on the sample's standard deviation, within the scale. The mean
// alone ({m, m}) when n < 2; {0, 0} when n == 0.
std::pair<double, double> MeanInterval(std::int64_t n, std::int64_t sum, std::int64_t squares,
                                       double low, double high);

// The 95% interval of a mean shown with noise (stats::FigureNoise): n answers shown that may stand
// for as few as `fewest` true ones, and a mean that may be up to `margin` from the true one. It is
// MeanInterval's width from `fewest` answers of the spread given (never fewer than 2: one answer
// has no spread to read), and `margin` more on each side, within the scale. So, given a spread no
// smaller than the true answers', it holds the interval of the true figures, and the true mean,
// whatever the noise drew. {0, 0} when n == 0.
std::pair<double, double> MeanIntervalWithin(std::int64_t n, std::int64_t sum, std::int64_t squares,
                                             std::int64_t fewest, double margin, double low,
                                             double high);

}  // namespace surveyd::stats
