#pragma once
// The SQL of the analytics store, assembled from fixed fragments: each dimension maps to one
// column or expression, each filter value becomes a parameter. No text from a request is ever
// part of a statement. Pure (no pqxx), so it is tested without a database.
#include <optional>
#include <string>
#include <vector>

#include "surveyd/store/analytics_store.hpp"

namespace surveyd::store::analytics {

// A row of analytics_cubes: the dimensions (by name) its cells are broken down by, as d1..d3,
// and whether its cells are per calendar month (their day is the month's first) or per day.
struct Cube {
  int id = 0;
  std::vector<std::string> dims;
  bool by_month = false;
};

struct Sql {
  std::string text;
  std::vector<std::optional<std::string>> params;  // $1.. as text, NULL when nullopt
};

// The name a dimension has in analytics_cubes and analytics_dim(); empty for those every cell
// has anyway (survey group, and days, weeks, months and weekdays, derived from the cell's day).
std::string CubeDimension(Dimension dimension);

// The first cube kept per day (the catalogue comes smallest first) holding every dimension the
// filter and the breakdown use; nullopt when none does or the period is given as instants.
std::optional<Cube> ChooseCube(const std::vector<Cube>& cubes, const AnalyticsFilter& filter,
                               const std::vector<Dimension>& group_by);

// The cube kept per month with the dimensions of `cube`, when there is one and the breakdown
// needs no finer time than a month (no day, week or weekday): a period then reads its whole
// months from it and only the days at either end from `cube`.
std::optional<Cube> MonthlyTwin(const std::vector<Cube>& cubes, const Cube& cube,
                                const std::vector<Dimension>& group_by);

// One statement for a breakdown: per cell a row (keys..., NULL, surveys, sent, reached,
// answered) followed by a row per question (keys..., question, respondents, total, top_box,
// squares),
// ordered by keys. `cube` nullopt: from the raw tables; `months`: its MonthlyTwin, if any.
// group_by holds no kQuestion.
Sql BuildStats(const std::optional<Cube>& cube, const AnalyticsFilter& filter,
               const std::vector<Dimension>& group_by,
               const std::optional<Cube>& months = std::nullopt);

// The funnel from the rollups, for whole days: events (group, outcome, reason, events,
// duplicates, deferred), cells (group, surveys, opened, answered, closed_unanswered, waiting,
// unreported, delivered, failed_sent, failed_unsent, expired, cancelled, opted_out) and
// cancellations (group, reason, messages).
struct FunnelSql {
  Sql events, cells, cancellations;
};
FunnelSql BuildFunnel(const AnalyticsFilter& filter);

// Responses, newest survey first: survey id, contact day, contact hour, submitted_at (epoch
// microseconds), the filter dimensions in AllDimensions() order, q1..q5, masked comment.
// Asks for limit + 1 rows, so that the caller knows whether there is a next page.
Sql BuildResponses(const ResponseQuery& query);

}  // namespace surveyd::store::analytics
