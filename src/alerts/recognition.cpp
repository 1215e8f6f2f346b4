#include "surveyd/alerts/recognition.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

#include "surveyd/core/disclosure.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::alerts {
namespace {

std::string LocalDate(const TimeZone& zone, TimePoint t) {
  static const char* const kMonths[] = {"January",   "February", "March",    "April",
                                        "May",       "June",     "July",     "August",
                                        "September", "October",  "November", "December"};
  static const char* const kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                      "Thursday", "Friday", "Saturday"};
  const LocalDateTime local = zone.ToLocal(t);
  return std::string(kDays[local.weekday]) + " " + std::to_string(local.day) + " " +
         kMonths[local.month - 1] + " " + std::to_string(local.year);
}

// Who is hidden: everyone with fewer answers than the minimum, and beside them whoever a total
// would give their counts away by (core/disclosure.hpp), as /api/v1/stats hides them. The totals
// a supervisor can have are rows of a breakdown by role, team and person: a team's (for one
// role, as the stats by team or by department give it), and a person's across their teams (as
// the stats by officer or operator give it). Worked out over everyone, whoever was asked for, so
// that one team's or one person's answer never shows what everyone's hides.
std::vector<char> HiddenPeople(const std::vector<store::PersonScores>& people, int min_cell_size) {
  std::vector<std::array<std::optional<std::string>, 3>> keys;
  keys.reserve(people.size());
  for (const auto& person : people) keys.push_back({person.role, person.team, person.person});
  std::vector<stats::CountedCell> cells;
  cells.reserve(people.size());
  for (std::size_t i = 0; i < people.size(); ++i) {
    cells.push_back({keys[i], people[i].respondents, {}});
  }
  const stats::Suppression suppression = stats::SuppressSmallCounts(cells, 0, min_cell_size);
  std::vector<char> hidden(people.size());
  for (std::size_t i = 0; i < people.size(); ++i) hidden[i] = suppression.Cell(i);
  return hidden;
}

}  // namespace

bool IsPraise(const Lexicon& lexicon, std::string_view comment) {
  bool praise = false;
  for (const LexiconMatch& match : lexicon.Match(comment)) {
    if (match.negated) continue;
    if (match.category == "complaint" || match.category == "safeguarding") return false;
    if (match.category == "praise") praise = true;
  }
  return praise;
}

RecognitionReport BuildRecognition(const store::RecognitionData& data, const Lexicon& lexicon,
                                   int min_cell_size, std::size_t max_praise) {
  RecognitionReport report;
  std::int64_t selected = 0;
  for (const auto& person : data.people) selected += person.selected ? person.respondents : 0;
  report.suppressed = selected < min_cell_size;
  const std::vector<char> hidden = HiddenPeople(data.people, min_cell_size);
  // (person, role, team) -> index in report.people
  std::map<std::tuple<std::string, std::string, std::string>, std::size_t> index;
  for (std::size_t i = 0; i < data.people.size(); ++i) {
    const store::PersonScores& person = data.people[i];
    if (!person.selected) continue;
    PersonRecognition out;
    out.person = person.person;
    out.role = person.role;
    out.team = person.team;
    out.suppressed = report.suppressed || hidden[i] != 0;
    if (!out.suppressed) {
      report.respondents += person.respondents;
      out.respondents = person.respondents;
      std::copy(std::begin(person.top), std::end(person.top), std::begin(out.top));
      out.all_top = person.all_top;
    } else {
      ++report.suppressed_people;
    }
    index[{person.person, person.role, person.team}] = report.people.size();
    report.people.push_back(std::move(out));
  }
  for (const auto& comment : data.comments) {
    const auto it = index.find({comment.person, comment.role, comment.team});
    if (it == index.end()) continue;
    PersonRecognition& person = report.people[it->second];
    if (person.suppressed || !IsPraise(lexicon, comment.comment)) continue;
    ++person.praise;
    if (report.praise.size() >= max_praise) continue;
    PraiseComment praise;
    praise.survey_id = comment.survey_id;
    praise.person = comment.person;
    praise.role = comment.role;
    praise.team = comment.team;
    praise.contact_at = comment.contact_at;
    std::copy(std::begin(comment.q), std::end(comment.q), std::begin(praise.q));
    praise.comment = comment.comment;  // masked by the store
    report.praise.push_back(std::move(praise));
  }
  return report;
}

TimePoint LatestDigestTime(const DigestSchedule& schedule, const TimeZone& zone, TimePoint now) {
  // Looks back day by day from today (local) for the scheduled weekday at or before now.
  for (int back = 0; back <= 8; ++back) {
    const LocalDateTime day = zone.ToLocal(now - std::chrono::hours(24 * back));
    if (day.weekday != schedule.weekday) continue;
    const TimePoint at = zone.FromLocal(day.year, day.month, day.day, schedule.minute_of_day / 60,
                                        schedule.minute_of_day % 60);
    if (at <= now) return at;
  }
  return now - std::chrono::hours(24 * 7);  // unreachable: one of 8 days is the weekday
}

TimePoint DigestPeriodStart(const DigestSchedule& schedule, const TimeZone& zone, TimePoint at) {
  // Seven local days back, at the same local time, whatever the clocks did in between. Noon of
  // the previous week's day is safely inside it whatever the offset.
  const LocalDateTime local = zone.ToLocal(at);
  const TimePoint noon = zone.FromLocal(local.year, local.month, local.day, 12, 0);
  const LocalDateTime week_before = zone.ToLocal(noon - std::chrono::hours(24 * 7));
  return zone.FromLocal(week_before.year, week_before.month, week_before.day,
                        schedule.minute_of_day / 60, schedule.minute_of_day % 60);
}

std::string PraiseViewLink(std::string_view public_base_url, std::string_view team, TimePoint from,
                           TimePoint to, const TimeZone& zone) {
  auto day = [&zone](TimePoint t) {
    const LocalDateTime local = zone.ToLocal(t);
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d", local.year, local.month, local.day);
    return std::string(text);
  };
  return std::string(public_base_url) + "/dashboard?view=praise&team=" + http::UrlEncode(team) +
         "&from=" + day(from) + "&to=" + day(to - std::chrono::seconds(1)) + "&dates=answered";
}

DigestText FormatDigest(std::string_view force_name, std::string_view team, TimePoint from,
                        TimePoint to, const TimeZone& zone, const RecognitionReport& report,
                        int min_cell_size, std::string_view link) {
  DigestText text;
  text.subject = std::string(force_name) + ": recognition for " + std::string(team) + ", week to " +
                 LocalDate(zone, to - std::chrono::seconds(1));
  std::string& b = text.body;
  b += "Recognition for " + std::string(team) + "\n";
  b += "Answers given from " + LocalDate(zone, from) + " to " +
       LocalDate(zone, to - std::chrono::seconds(1)) + ".\n\n";
  if (report.suppressed) {
    b += "Fewer than " + std::to_string(min_cell_size) +
         " answers this week: nothing is shown, so that no one who answered can be told "
         "apart.\n";
  } else {
    b += std::to_string(report.respondents) + " answers about contacts with the people shown.\n\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-16s %-9s %8s %12s %9s %7s\n", "Person", "Role", "Answers",
                  "Top scores", "All 10s", "Praise");
    b += line;
    for (const auto& person : report.people) {
      if (person.suppressed) continue;
      std::int64_t tops = 0;
      for (std::int64_t count : person.top) tops += count;
      std::snprintf(line, sizeof line, "%-16s %-9s %8lld %12lld %9lld %7lld\n",
                    person.person.c_str(), person.role.c_str(),
                    static_cast<long long>(person.respondents), static_cast<long long>(tops),
                    static_cast<long long>(person.all_top), static_cast<long long>(person.praise));
      b += line;
    }
    if (report.suppressed_people > 0) {
      b += "\n" + std::to_string(report.suppressed_people) + " more " +
           (report.suppressed_people == 1 ? "person" : "people") + " not shown: fewer than " +
           std::to_string(min_cell_size) +
           " answers, or hidden beside someone who had, so that no one's count can be worked out "
           "from the team's total.\n";
    }
    b += "\nTop scores: answers of 10 out of 10, all questions together. All 10s: answers with "
         "10 on every question answered. Praise: comments that thank or praise the contact. "
         "Neither counts a contact that raised a complaint or safeguarding alert.\n";
  }
  b += "\nThe praise comments themselves are on the dashboard (supervisors): ";
  b += std::string(link) + "\n";
  return text;
}

}  // namespace surveyd::alerts
