#pragma once
// Recognition: the praise a named officer's or operator's contacts earned, and per person the
// counts of top scores, for supervisors (GET /api/v1/recognition) and a weekly e-mail digest per
// team. Everything about a person with fewer answers than the minimum cell size is suppressed,
// and so is everything about whoever a total would give such a person's counts away by; all of
// it when the whole selection has fewer. Pure functions of what the store returns.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/alerts/lexicon.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/store/alert_store.hpp"

namespace surveyd::alerts {

// Praise: a praise term that is not negated, and no complaint or safeguarding term ("lovely
// officer but nobody came back" is not praise).
bool IsPraise(const Lexicon& lexicon, std::string_view comment);

struct PersonRecognition {
  std::string person, role, team;
  // Fewer answers than the minimum cell size, or hidden beside someone who had them (and
  // reading just the same): no counts.
  bool suppressed = false;
  std::int64_t respondents = 0;
  std::int64_t top[5] = {0, 0, 0, 0, 0};
  std::int64_t all_top = 0;
  std::int64_t praise = 0;  // praise comments
};

struct PraiseComment {
  std::int64_t survey_id = 0;
  std::string person, role, team;
  TimePoint contact_at;
  std::optional<int> q[5];
  std::string comment;  // masked
};

struct RecognitionReport {
  // The answers about the people shown: with everyone's, a hidden count would be the whole less
  // the counts shown.
  std::int64_t respondents = 0;
  bool suppressed = false;  // the whole selection is below the minimum cell size
  int suppressed_people = 0;
  std::vector<PersonRecognition> people;  // suppressed people listed without counts
  std::vector<PraiseComment> praise;      // newest first, only for people not suppressed
};

RecognitionReport BuildRecognition(const store::RecognitionData& data, const Lexicon& lexicon,
                                   int min_cell_size, std::size_t max_praise = 100);

// When the weekly digest goes: a day (0 = Sunday ... 6 = Saturday) and a local time.
struct DigestSchedule {
  int weekday = 1;
  int minute_of_day = 8 * 60;
};
// The latest scheduled instant at or before `now`, in `zone` (summer time handled).
TimePoint LatestDigestTime(const DigestSchedule& schedule, const TimeZone& zone, TimePoint now);
// The week a digest sent at `at` covers: the seven local days before it.
TimePoint DigestPeriodStart(const DigestSchedule& schedule, const TimeZone& zone, TimePoint at);

// The dashboard's praise view of a team for the answers given on the local days from `from` to
// the second before `to` (what a digest covers), as a supervisor opens it from the e-mail.
std::string PraiseViewLink(std::string_view public_base_url, std::string_view team, TimePoint from,
                           TimePoint to, const TimeZone& zone);

struct DigestText {
  std::string subject;
  std::string body;
};
// Counts only (no comment, no number), with where supervisors find the comments.
DigestText FormatDigest(std::string_view force_name, std::string_view team, TimePoint from,
                        TimePoint to, const TimeZone& zone, const RecognitionReport& report,
                        int min_cell_size, std::string_view link);

}  // namespace surveyd::alerts
