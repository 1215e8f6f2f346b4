#include "store/analytics_sql.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <iterator>
#include <utility>

#include "store/pg_text.hpp"

namespace surveyd::store {
namespace {

struct DimensionInfo {
  Dimension dimension;
  const char* name;
  const char* raw;  // over surveys s
};

// The one table of dimensions: API name and raw column or expression. The rollups compute the
// same values in analytics_dim() (migrations/0004_analytics.sql); the integration tests check
// that both agree for every dimension.
constexpr std::array<DimensionInfo, 22> kDimensions = {{
    {Dimension::kSurveyGroup, "survey_group", "s.group_id"},
    {Dimension::kIncidentType, "incident_type", "s.incident_type_code"},
    {Dimension::kCategory, "category", "s.incident_category"},
    {Dimension::kGrade, "grade", "s.incident_grade"},
    {Dimension::kNpu, "npu", "s.npu"},
    {Dimension::kBeat, "beat", "s.beat"},
    {Dimension::kChannel, "channel", "s.channel"},
    {Dimension::kTeam, "team", "s.handler_team"},
    {Dimension::kOperator, "operator", "s.handler_id"},
    {Dimension::kOfficer, "officer", "s.officer_id"},
    {Dimension::kDepartment, "department", "s.department"},
    {Dimension::kGender, "gender", "s.caller_gender"},
    {Dimension::kAgeBand, "age_band", "s.caller_age_band"},
    {Dimension::kEthnicity, "ethnicity", "s.caller_ethnicity"},
    {Dimension::kLanguage, "language", "s.language"},
    {Dimension::kDaysToSurvey, "days_to_survey",
     "analytics_days_to_survey(s.contact_at, s.send_at)"},
    {Dimension::kQuestion, "question", nullptr},
    {Dimension::kHour, "hour", "analytics_hour(s.contact_at)"},
    {Dimension::kDayOfWeek, "day_of_week",
     "extract(isodow FROM analytics_day(s.contact_at))::int::text"},
    {Dimension::kDay, "day", "analytics_day(s.contact_at)::text"},
    {Dimension::kWeek, "week",
     "date_trunc('week', analytics_day(s.contact_at)::timestamp)::date::text"},
    {Dimension::kMonth, "month", "to_char(analytics_day(s.contact_at), 'YYYY-MM')"},
}};

const DimensionInfo& Info(Dimension dimension) {
  return kDimensions[static_cast<std::size_t>(dimension)];
}

}  // namespace

const char* DimensionName(Dimension dimension) { return Info(dimension).name; }

std::optional<Dimension> ParseDimension(std::string_view name) {
  for (const auto& info : kDimensions) {
    if (name == info.name) return info.dimension;
  }
  return std::nullopt;
}

const std::vector<Dimension>& AllDimensions() {
  static const std::vector<Dimension> kAll = [] {
    std::vector<Dimension> all;
    for (const auto& info : kDimensions) all.push_back(info.dimension);
    return all;
  }();
  return kAll;
}

bool IsFilter(Dimension dimension) {
  return static_cast<int>(dimension) <= static_cast<int>(Dimension::kDaysToSurvey);
}

const std::vector<std::string>& FixedValues(Dimension dimension) {
  static const std::vector<std::string> kAgeBands = {"under_18", "18-24", "25-34", "35-44",
                                                     "45-54",    "55-64", "65-74", "75+"};
  // As analytics_days_to_survey() writes them.
  static const std::vector<std::string> kDaysToSurvey = {"0", "1", "2", "3", "4", "5", "6", "7+"};
  static const std::vector<std::string> kNone;
  if (dimension == Dimension::kAgeBand) return kAgeBands;
  if (dimension == Dimension::kDaysToSurvey) return kDaysToSurvey;
  return kNone;
}

std::optional<std::string> AgeBand(const std::optional<int>& age) {
  if (!age || *age < 0 || *age > 130) return std::nullopt;
  // The first band's upper bound, then each next one's.
  static constexpr int kBelow[] = {18, 25, 35, 45, 55, 65, 75};
  const auto& bands = FixedValues(Dimension::kAgeBand);
  for (std::size_t i = 0; i < std::size(kBelow); ++i) {
    if (*age < kBelow[i]) return bands[i];
  }
  return bands.back();
}

namespace analytics {
namespace {

// Collects parameters and hands out their placeholders.
class Params {
 public:
  std::string Add(std::optional<std::string> value) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size());
  }
  std::string AddList(const std::vector<std::string>& values) {
    pg::ArrayLiteral list;
    for (const auto& value : values) list.Add(pg::CleanText(value));
    return Add(list.Text());
  }
  std::vector<std::optional<std::string>> Take() { return std::move(values_); }

 private:
  std::vector<std::optional<std::string>> values_;
};

bool TimeDerived(Dimension d) {
  return d == Dimension::kDay || d == Dimension::kWeek || d == Dimension::kMonth ||
         d == Dimension::kDayOfWeek;
}

// A date of the calendar, from the validated "2026-11-01" of a filter.
struct Date {
  int year = 0, month = 0, day = 0;
};

bool ParseDate(const std::string& text, Date& date) {
  return text.size() == 10 &&
         std::sscanf(text.c_str(), "%4d-%2d-%2d", &date.year, &date.month, &date.day) == 3 &&
         date.month >= 1 && date.month <= 12 && date.day >= 1 && date.day <= 31;
}

int DaysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

std::string Format(const Date& d) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buffer;
}

Date FirstOfNextMonth(const Date& d) {
  return d.month == 12 ? Date{d.year + 1, 1, 1} : Date{d.year, d.month + 1, 1};
}

Date LastOfPreviousMonth(const Date& d) {
  const Date first = d.month == 1 ? Date{d.year - 1, 12, 1} : Date{d.year, d.month - 1, 1};
  return {first.year, first.month, DaysInMonth(first.year, first.month)};
}

// Cells of one cube over days [from, to] (empty: open), as placeholders.
struct Range {
  int cube = 0;
  std::string from, to;
};

// The period as ranges of cells: the cube's own days, or with its monthly twin the whole months
// from the twin and the days before the first and after the last from the cube. Parameters
// are added in order, before any filter's.
std::vector<Range> Ranges(const Cube& cube, const std::optional<Cube>& months,
                          const AnalyticsFilter& filter, Params& params) {
  auto days = [&](const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return Range{cube.id, a ? params.Add(*a) : "", b ? params.Add(*b) : ""};
  };
  Date from;
  Date to;
  const bool has_from = filter.from_day.has_value();
  const bool has_to = filter.to_day.has_value();
  if (!months || (has_from && !ParseDate(*filter.from_day, from)) ||
      (has_to && !ParseDate(*filter.to_day, to))) {
    return {days(filter.from_day, filter.to_day)};
  }
  // The first month that starts within the period, and the last that ends within it (by their
  // first days).
  const Date first =
      !has_from || from.day == 1 ? Date{from.year, from.month, 1} : FirstOfNextMonth(from);
  Date last = !has_to || to.day == DaysInMonth(to.year, to.month) ? Date{to.year, to.month, 1}
                                                                  : LastOfPreviousMonth(to);
  last.day = 1;
  if (has_from && has_to && Format(first) > Format(last)) {
    return {days(filter.from_day, filter.to_day)};  // no whole month
  }
  std::vector<Range> ranges;
  ranges.push_back(Range{months->id, has_from ? params.Add(Format(first)) : "",
                         has_to ? params.Add(Format(last)) : ""});
  if (has_from && from.day != 1) {
    ranges.push_back(days(filter.from_day, Format(LastOfPreviousMonth(first))));
  }
  if (has_to && to.day != DaysInMonth(to.year, to.month)) {
    ranges.push_back(days(Format(FirstOfNextMonth(last)), filter.to_day));
  }
  return ranges;
}

// A range's condition on the columns of `alias` ("c." or ""). The cube is a number from the
// catalogue, written into the statement so that the planner keeps to its partition once, when
// the statement is prepared, instead of planning again for every call.
std::string RangeCondition(const Range& range, const std::string& alias) {
  std::string out = alias + "cube = " + std::to_string(range.cube);
  if (!range.from.empty()) out += " AND " + alias + "day >= " + range.from + "::date";
  if (!range.to.empty()) out += " AND " + alias + "day <= " + range.to + "::date";
  return out;
}

// The cells of `table` in the period, as the FROM item c.
std::string Source(const std::string& table, const std::vector<Range>& ranges) {
  if (ranges.size() == 1) return table + " c";
  std::string out = "(";
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    out += (i ? " UNION ALL " : "") + std::string("SELECT * FROM ") + table + " WHERE " +
           RangeCondition(ranges[i], "");
  }
  return out + ") c";
}

// The expression of a dimension over analytics_cells/analytics_scores c of `cube`.
std::string RollupExpression(const Cube& cube, Dimension dimension) {
  switch (dimension) {
    case Dimension::kSurveyGroup:
      return "c.group_id";
    case Dimension::kDay:
      return "c.day::text";
    case Dimension::kWeek:
      return "date_trunc('week', c.day::timestamp)::date::text";
    case Dimension::kMonth:
      return "to_char(c.day, 'YYYY-MM')";
    case Dimension::kDayOfWeek:
      return "extract(isodow FROM c.day)::int::text";
    default:
      break;
  }
  const std::string name = CubeDimension(dimension);
  const auto it = std::find(cube.dims.begin(), cube.dims.end(), name);
  // ChooseCube only picks cubes that hold every dimension asked for.
  return "c.d" + std::to_string(it - cube.dims.begin() + 1);
}

std::string Expression(const std::optional<Cube>& cube, Dimension dimension) {
  return cube ? RollupExpression(*cube, dimension) : std::string(Info(dimension).raw);
}

// The WHERE clause (without the keyword) of the period and the value filters. For the rollups
// the period is `ranges` (from Ranges()): in the WHERE when there is one, else in Source().
std::string Conditions(const std::optional<Cube>& cube, const std::vector<Range>& ranges,
                       const AnalyticsFilter& filter, Params& params) {
  std::vector<std::string> conditions;
  if (cube) {
    if (ranges.size() == 1) conditions.push_back(RangeCondition(ranges[0], "c."));
  } else {
    if (filter.from_day) {
      conditions.push_back("s.contact_at >= (" + params.Add(*filter.from_day) +
                           "::date::timestamp AT TIME ZONE analytics_zone())");
    }
    if (filter.to_day) {
      conditions.push_back("s.contact_at < ((" + params.Add(*filter.to_day) +
                           "::date + 1)::timestamp AT TIME ZONE analytics_zone())");
    }
    if (filter.from) {
      conditions.push_back("s.contact_at >= " + params.Add(pg::FormatTimestamp(*filter.from)) +
                           "::timestamptz");
    }
    if (filter.to) {
      conditions.push_back("s.contact_at < " + params.Add(pg::FormatTimestamp(*filter.to)) +
                           "::timestamptz");
    }
  }
  for (const auto& [dimension, values] : filter.values) {
    // Over the rollups, one value (one officer, one area: the usual case) is a plain comparison:
    // the planner estimates it from the column's statistics and keeps one plan for every value
    // (the rollups are read through their keys whatever the value), where a list of unknown
    // length makes it plan again at each call. The raw tables keep a plan per call: the best
    // way through them depends on the period.
    conditions.push_back(Expression(cube, dimension) +
                         (cube && values.size() == 1
                              ? " = " + params.Add(pg::CleanText(values[0])) + "::text"
                              : " = ANY(" + params.AddList(values) + "::text[])"));
  }
  std::string out;
  for (const auto& condition : conditions) {
    out += (out.empty() ? "" : " AND ") + condition;
  }
  return out.empty() ? "true" : out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ", ") + part;
  return out;
}

std::string Positions(std::size_t count) {
  std::vector<std::string> positions;
  for (std::size_t i = 1; i <= count; ++i) positions.push_back(std::to_string(i));
  return Join(positions);
}

}  // namespace

std::string CubeDimension(Dimension dimension) {
  if (dimension == Dimension::kSurveyGroup || dimension == Dimension::kQuestion ||
      TimeDerived(dimension)) {
    return {};
  }
  return Info(dimension).name;
}

std::optional<Cube> ChooseCube(const std::vector<Cube>& cubes, const AnalyticsFilter& filter,
                               const std::vector<Dimension>& group_by) {
  if (filter.UsesInstants()) return std::nullopt;
  std::vector<std::string> needed;
  auto need = [&](Dimension d) {
    const std::string name = CubeDimension(d);
    if (!name.empty() && std::find(needed.begin(), needed.end(), name) == needed.end()) {
      needed.push_back(name);
    }
  };
  for (const auto& [dimension, values] : filter.values) need(dimension);
  for (Dimension d : group_by) need(d);
  for (const Cube& cube : cubes) {
    if (cube.by_month) continue;
    if (std::all_of(needed.begin(), needed.end(), [&](const std::string& name) {
          return std::find(cube.dims.begin(), cube.dims.end(), name) != cube.dims.end();
        })) {
      return cube;
    }
  }
  return std::nullopt;
}

std::optional<Cube> MonthlyTwin(const std::vector<Cube>& cubes, const Cube& cube,
                                const std::vector<Dimension>& group_by) {
  for (Dimension d : group_by) {
    if (d == Dimension::kDay || d == Dimension::kWeek || d == Dimension::kDayOfWeek) {
      return std::nullopt;
    }
  }
  for (const Cube& twin : cubes) {
    if (twin.by_month && !cube.by_month && twin.dims == cube.dims) return twin;
  }
  return std::nullopt;
}

namespace {

// A daily cube's rows are the cells of a breakdown by day, but for their survey groups, when
// each of the cube's dimensions is a key of the breakdown, fixed to one value by the filter, or
// one that such a dimension determines in practice (an officer's department, an operator's team,
// a beat's NPU: a cell has two rows when an officer moved). A cell that narrow (one officer's
// day) has a row or two; the totals of a day have one per survey group, which the statement adds
// up faster than the store would read them, unless the group is given too. Only speed depends
// on it: the store adds up whatever rows a cell has.
bool RowsAreCells(const Cube& cube, const AnalyticsFilter& filter,
                  const std::vector<Dimension>& group_by) {
  if (cube.by_month ||
      std::find(group_by.begin(), group_by.end(), Dimension::kDay) == group_by.end()) {
    return false;
  }
  std::vector<Dimension> given = group_by;
  for (const auto& [dimension, values] : filter.values) {
    if (values.size() == 1) given.push_back(dimension);
  }
  static constexpr std::pair<Dimension, Dimension> kDetermines[] = {
      {Dimension::kOfficer, Dimension::kDepartment},
      {Dimension::kOperator, Dimension::kTeam},
      {Dimension::kBeat, Dimension::kNpu}};
  for (const auto& [parent, child] : kDetermines) {
    if (std::find(given.begin(), given.end(), parent) != given.end()) given.push_back(child);
  }
  if (cube.dims.empty() &&
      std::find(given.begin(), given.end(), Dimension::kSurveyGroup) == given.end()) {
    return false;
  }
  return std::all_of(cube.dims.begin(), cube.dims.end(), [&](const std::string& dim) {
    return std::any_of(given.begin(), given.end(),
                       [&](Dimension d) { return CubeDimension(d) == dim; });
  });
}

}  // namespace

Sql BuildStats(const std::optional<Cube>& cube, const AnalyticsFilter& filter,
               const std::vector<Dimension>& group_by, const std::optional<Cube>& months) {
  std::vector<std::string> keys;
  for (Dimension d : group_by) keys.push_back(Expression(cube, d));
  const std::string select_keys = keys.empty() ? "" : Join(keys) + ", ";
  const std::string group = keys.empty() ? "" : " GROUP BY " + Positions(keys.size());
  Params params;
  // One WHERE for both halves: the same parameters, one statement, one snapshot.
  const auto ranges = cube ? Ranges(*cube, months, filter, params) : std::vector<Range>{};
  const std::string where = Conditions(cube, ranges, filter, params);
  std::string cells;
  std::string scores;
  if (cube && RowsAreCells(*cube, filter, group_by)) {
    // The rollup rows are the cells already, but for their survey groups (a few rows a cell):
    // read as they are, the store adds them up. An officer's days: a third of the statement's
    // time was its aggregation.
    cells = "SELECT " + select_keys +
            "NULL::text, c.surveys, c.msg_unreported + c.msg_delivered + c.msg_failed_sent, "
            "c.msg_unreported + c.msg_delivered + c.replied_unreached, c.answered FROM " +
            Source("analytics_cells", ranges) + " WHERE " + where;
    scores = "SELECT " + select_keys +
             "c.question, c.respondents, c.total, c.top_box, c.squares FROM " +
             Source("analytics_scores", ranges) + " WHERE " + where + " AND c.respondents <> 0";
  } else if (cube) {
    // Each rollup row counts one cell's day or month, far below 2^31: summed as integers (into
    // a bigint) instead of as bigints, which PostgreSQL adds up in numeric (a third of the
    // statement's time for an officer's year).
    cells = "SELECT " + select_keys +
            "NULL::text, COALESCE(sum(c.surveys::int), 0), "
            "COALESCE(sum((c.msg_unreported + c.msg_delivered + c.msg_failed_sent)::int), 0), "
            "COALESCE(sum((c.msg_unreported + c.msg_delivered + c.replied_unreached)::int), 0), "
            "COALESCE(sum(c.answered::int), 0) FROM " +
            Source("analytics_cells", ranges) + " WHERE " + where + group;
    scores = "SELECT " + select_keys +
             "c.question, sum(c.respondents::int), sum(c.total::int), "
             "sum(c.top_box::int), sum(c.squares::int) FROM " +
             Source("analytics_scores", ranges) + " WHERE " + where + " GROUP BY " +
             Positions(keys.size() + 1) + " HAVING sum(c.respondents::int) <> 0";
  } else {
    // Reached per text: delivered, or taken with no report either way, or replied to (a reply
    // shows it arrived, whatever the gateway said). Answered: a reply that gave a score.
    cells = "SELECT " + select_keys +
            "NULL::text, count(*), count(*) FILTER (WHERE m.bucket IN ('unreported', "
            "'delivered', 'failed_sent')), count(*) FILTER (WHERE m.bucket IN ('unreported', "
            "'delivered') OR r.survey_id IS NOT NULL), count(r.survey_id) FILTER (WHERE "
            "num_nonnulls(r.q1, r.q2, r.q3, r.q4, r.q5) > 0) FROM surveys s "
            "LEFT JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' LEFT JOIN responses r "
            "ON r.survey_id = s.id "
            "CROSS JOIN LATERAL (SELECT analytics_message_bucket(o.state, "
            "o.gateway_message_id IS NOT NULL) AS bucket) m WHERE " +
            where + group;
    scores = "SELECT " + select_keys +
             "a.question, count(*), sum(a.score)::bigint, count(*) FILTER (WHERE a.score >= 8), "
             "sum(a.score * a.score)::bigint FROM surveys s JOIN responses r ON r.survey_id = s.id "
             "CROSS JOIN LATERAL analytics_answers(r) a WHERE " +
             where + " GROUP BY " + Positions(keys.size() + 1);
  }
  Sql sql;
  // Unordered: the store gathers the rows into cells and orders those (sorting here was a
  // quarter of the statement's time for an officer's year).
  sql.text = "(" + cells + ") UNION ALL (" + scores + ")";
  sql.params = params.Take();
  return sql;
}

FunnelSql BuildFunnel(const AnalyticsFilter& filter) {
  auto where = [&](Params& params, bool cells) {
    std::string out = cells ? "cube = 0" : "true";
    if (filter.from_day) out += " AND day >= " + params.Add(*filter.from_day) + "::date";
    if (filter.to_day) out += " AND day <= " + params.Add(*filter.to_day) + "::date";
    for (const auto& [dimension, values] : filter.values) {
      if (dimension == Dimension::kSurveyGroup) {
        out += " AND group_id = ANY(" + params.AddList(values) + "::text[])";
      }
    }
    return out;
  };
  FunnelSql out;
  {
    Params params;
    out.events.text =
        "SELECT group_id, outcome, reason, sum(events), sum(duplicates), sum(deferred) "
        "FROM analytics_events WHERE " +
        where(params, false) + " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    out.events.params = params.Take();
  }
  {
    Params params;
    out.cells.text =
        "SELECT group_id, sum(surveys), sum(opened), sum(answered), sum(closed_unanswered), "
        "sum(msg_waiting), sum(msg_unreported), sum(msg_delivered), sum(msg_failed_sent), "
        "sum(msg_failed_unsent), sum(msg_expired), sum(msg_cancelled), sum(opted_out) "
        "FROM analytics_cells WHERE " +
        where(params, true) + " GROUP BY 1 ORDER BY 1";
    out.cells.params = params.Take();
  }
  {
    Params params;
    out.cancellations.text =
        "SELECT group_id, reason, sum(messages) FROM analytics_cancellations WHERE " +
        where(params, false) + " GROUP BY 1, 2 ORDER BY 1, 2";
    out.cancellations.params = params.Take();
  }
  return out;
}

Sql BuildResponses(const ResponseQuery& query) {
  Params params;
  std::string where = Conditions(std::nullopt, {}, query.filter, params);
  if (query.after) {
    // A row comparison, which the index on (submitted_at, survey_id) serves (migration 0034).
    where += " AND (r.submitted_at, r.survey_id) < (" +
             params.Add(pg::FormatTimestamp(query.after->submitted_at)) + "::timestamptz, " +
             params.Add(std::to_string(query.after->survey_id)) + "::bigint)";
  }
  if (query.comments_only) where += " AND r.comment_masked <> ''";
  if (!query.search.empty()) {
    where += " AND r.comment_search @@ websearch_to_tsquery('english', " +
             params.Add(pg::CleanText(query.search)) + ")";
  }
  std::vector<std::string> context;
  for (Dimension d : AllDimensions()) {
    if (IsFilter(d)) context.push_back(Info(d).raw);
  }
  Sql sql;
  sql.text =
      "SELECT s.id, analytics_day(s.contact_at)::text, analytics_hour(s.contact_at), "
      "surveyd_epoch_us(r.submitted_at), " +
      Join(context) +
      ", r.q1, r.q2, r.q3, r.q4, r.q5, r.comment_masked "
      "FROM responses r JOIN surveys s ON s.id = r.survey_id WHERE " +
      where + " ORDER BY r.submitted_at DESC, r.survey_id DESC LIMIT " +
      params.Add(std::to_string(query.limit + 1)) + "::int";
  sql.params = params.Take();
  return sql;
}

}  // namespace analytics
}  // namespace surveyd::store
