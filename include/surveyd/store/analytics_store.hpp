#pragma once
// What analysts and supervisors read: scores and rates broken down by the grouping context of
// each survey, the funnel, answers and comments, and one survey's timeline. Answered from the
// rollups (migrations/0004_analytics.sql) where a cube holds every dimension asked for, else
// from the raw tables. Runs on connections of its own, possibly to a read replica, so that a
// heavy dashboard never slows the citizens' pages or dispatch. Never returns a phone number.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

// What analysts filter and group by. Each maps to a fixed column or expression in the store;
// nothing a request says is ever written into SQL.
enum class Dimension {
  // Filters, and group_by.
  kSurveyGroup,
  kIncidentType,
  kCategory,
  kGrade,
  kNpu,
  kBeat,
  kChannel,
  kTeam,      // the call handler's team
  kOperator,  // the call handler who created the log
  kOfficer,   // the officer who attended
  kDepartment,
  kGender,
  kAgeBand,
  kEthnicity,
  kLanguage,
  kDaysToSurvey,  // whole days from the contact to the text: "0".."6", "7+"
  // group_by only. Times are the force's local time (Europe/London).
  kQuestion,
  kHour,       // of the contact: "00".."23"
  kDayOfWeek,  // ISO: "1" Monday .. "7" Sunday
  kDay,        // "2026-11-26"
  kWeek,       // its Monday, "2026-11-23"
  kMonth,      // "2026-11"
};
const char* DimensionName(Dimension dimension);  // "survey_group", ... (the API's names)
std::optional<Dimension> ParseDimension(std::string_view name);
const std::vector<Dimension>& AllDimensions();
bool IsFilter(Dimension dimension);  // kSurveyGroup .. kDaysToSurvey
// The values a dimension takes when they are a fixed set (age bands, days to survey), so that a
// filter on another value is a mistake to name, not an empty selection; empty for the others.
const std::vector<std::string>& FixedValues(Dimension dimension);
// A caller's age band, as surveys keep it: "under_18", "18-24" ... "75+"; nullopt when unknown.
std::optional<std::string> AgeBand(const std::optional<int>& age);

// The contact period (the event's occurred_at), either as local dates (inclusive; answered from
// the rollups) or as instants [from, to) (answered from the raw tables). Unset bounds are open.
struct AnalyticsFilter {
  std::optional<std::string> from_day, to_day;  // "2026-11-01": validated dates
  std::optional<TimePoint> from, to;
  // Each entry: the dimension is any of these values. Filters only (IsFilter).
  std::vector<std::pair<Dimension, std::vector<std::string>>> values;

  bool UsesInstants() const { return from.has_value() || to.has_value(); }
};

struct ScoreSums {
  std::int64_t respondents = 0;  // who answered this question
  std::int64_t total = 0;        // sum of their scores
  std::int64_t top_box = 0;      // how many scored 8-10
  std::int64_t squares = 0;      // sum of their scores squared (the mean's interval)
};

// One cell of a breakdown: the values of the group_by dimensions (question left out: scores
// are always per question), nullopt where the survey had none.
struct StatsCell {
  std::vector<std::optional<std::string>> keys;
  std::int64_t surveys = 0;   // surveys created (texts queued)
  std::int64_t sent = 0;      // texts a gateway took
  std::int64_t reached = 0;   // delivered, or taken with no delivery report: the rate's base
  std::int64_t answered = 0;  // responses
  std::map<std::string, ScoreSums, std::less<>> questions;  // "q1".."q5"
};

struct StatsResult {
  std::vector<StatsCell> cells;  // ordered by keys
  bool from_rollups = false;
};

struct FunnelRow {
  std::string group;  // survey group; "" for events no group took, and rejected lines
  std::int64_t received = 0, rejected = 0, duplicates = 0, ignored = 0, excluded = 0, undecided = 0,
               deferred = 0;
  std::map<std::string, std::int64_t> excluded_by_rule;
  std::int64_t surveys = 0, waiting = 0, sent = 0, delivered = 0, failed = 0, expired_unsent = 0,
               cancelled = 0;
  std::map<std::string, std::int64_t> cancelled_by_reason;
  std::int64_t opened = 0, answered = 0, expired = 0, opted_out = 0;
};

// One answered survey as an analyst sees it: the answers and the grouping context, never the
// number; the comment with phone numbers and e-mail addresses masked.
struct ResponseRecord {
  std::int64_t survey_id = 0;
  std::string contact_day;   // local date of the contact
  std::string contact_hour;  // "00".."23"
  TimePoint submitted_at;
  std::vector<std::pair<Dimension, std::optional<std::string>>> context;  // every filter
  std::optional<int> q[5];
  std::string comment;  // masked
};

// Where a page of responses ends: its last answer's time and survey. Answers come newest first,
// and of answers given at the same time the higher survey id first, so these two place every
// answer once.
struct ResponseCursor {
  TimePoint submitted_at;
  std::int64_t survey_id = 0;
  bool operator==(const ResponseCursor&) const = default;
};

struct ResponsePage {
  std::vector<ResponseRecord> records;       // newest answer first
  std::optional<ResponseCursor> next_after;  // pass as `after` for the next page
};

struct ResponseQuery {
  AnalyticsFilter filter;
  std::optional<ResponseCursor> after;  // keyset: the answers after this one, in that order
  int limit = 100;
  bool comments_only = false;  // only responses with a comment
  std::string search;          // full-text query (English stemming); empty: none
};

struct SurveyTimeline {
  std::int64_t survey_id = 0;
  std::string event_id, event_type, source, group, decision, reason;
  std::string decision_trace;  // JSON array of the rules that matched
  TimePoint contact_at, received_at, created_at, send_at, expires_at, closes_at;
  std::string message_state;
  std::optional<std::string> cancel_reason;
  std::optional<TimePoint> opened_at, responded_at;
  bool opted_out = false;  // the number has opted out (now)
  struct Attempt {
    int attempt = 0;
    TimePoint at;
    std::string gateway, result, error;
    std::optional<int> http_status;
  };
  std::vector<Attempt> attempts;
  struct Report {
    TimePoint at, received_at;
    std::string gateway, status, error_code;
  };
  std::vector<Report> reports;
};

class AnalyticsStore {
 public:
  virtual ~AnalyticsStore() = default;

  // Scores and rates per cell of the breakdown (dimensions in `group_by` order).
  virtual StatsResult Stats(const AnalyticsFilter& filter,
                            const std::vector<Dimension>& group_by) = 0;
  // The funnel per survey group, for whole local days (filter.from_day/to_day; instants are
  // refused with std::invalid_argument) and optionally some groups (kSurveyGroup).
  virtual std::vector<FunnelRow> Funnel(const AnalyticsFilter& filter) = 0;
  virtual ResponsePage Responses(const ResponseQuery& query) = 0;
  virtual std::optional<SurveyTimeline> Timeline(std::int64_t survey_id) = 0;
};

// Keeps the rollups up to date on the primary: the daemon folds the queued changes several times
// a second and counts the surveys that closed unanswered every minute.
class RollupSweeper {
 public:
  virtual ~RollupSweeper() = default;
  // Counts texted surveys that closed unanswered up to `upto` since the last call; returns how
  // many. Safe to call from several instances at once.
  virtual int SweepClosedSurveys(TimePoint upto) = 0;
  // Adds the changes the busiest writes queued (ingest, sends, delivery reports) into the
  // rollups; returns how many. Safe to call from several instances at once: they take turns.
  virtual int FoldRollups() = 0;
  // The same, unless another fold is running (another instance's sweeper, an analyst's read):
  // then nothing, at once, as that fold or the next takes the changes. For the sweepers, which
  // would otherwise queue behind each other to fold what little came meanwhile.
  virtual std::optional<int> FoldRollupsIfFree() = 0;
};

}  // namespace surveyd::store
