// Recognition for supervisors: the praise a named officer's or operator's contacts earned, with
// each contact's scores, and per person the counts of top scores. Suppressed below the minimum
// cell size.
#include <nlohmann/json.hpp>

#include "analytics_common.hpp"
#include "routes.hpp"
#include "surveyd/alerts/recognition.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;

constexpr auto kDefaultWindow = std::chrono::hours(24 * 7);
constexpr auto kLongestWindow = std::chrono::hours(24 * 366);

json Scores(const std::optional<int> (&q)[5]) {
  json out = json::object();
  for (int i = 0; i < 5; ++i) out["q" + std::to_string(i + 1)] = q[i] ? json(*q[i]) : json(nullptr);
  return out;
}

// `from` or `to` as an instant: an RFC 3339 time as it is, or a date as a whole local day, as
// /api/v1/stats reads one (`from` at its start, `to` at its end: the next day's start).
std::optional<TimePoint> Bound(bool is_to, const std::string& value, const TimeZone& zone) {
  if (!IsDate(value)) return ParseTime(value);
  const int year = std::stoi(value.substr(0, 4));
  const int month = std::stoi(value.substr(5, 2));
  const int day = std::stoi(value.substr(8, 2));
  if (!is_to) return zone.FromLocal(year, month, day, 0, 0);
  // Noon of the day, a day on, is the next day whatever the clocks did; its midnight is the end.
  const LocalDateTime next =
      zone.ToLocal(zone.FromLocal(year, month, day, 12, 0) + std::chrono::hours(24));
  return zone.FromLocal(next.year, next.month, next.day, 0, 0);
}

std::optional<std::string> Score(const std::optional<int>& q) {
  return q ? std::optional<std::string>(std::to_string(*q)) : std::nullopt;
}

// The people as the JSON lists them: those below the cell size named, their counts empty (none
// at all when the whole selection is below it).
http::Response PeopleCsv(const alerts::RecognitionReport& report) {
  CsvTable table;
  table.header = {"person",    "role",           "team",           "suppressed", "respondents",
                  "top_q1",    "top_q2",         "top_q3",         "top_q4",     "top_q5",
                  "top_total", "all_top_scores", "praise_comments"};
  if (report.suppressed) return CsvResponse(table, "recognition-people");
  for (const auto& person : report.people) {
    std::vector<std::optional<std::string>> row = {person.person, person.role, person.team,
                                                   person.suppressed ? "true" : "false"};
    if (person.suppressed) {
      row.resize(table.header.size());
    } else {
      row.emplace_back(std::to_string(person.respondents));
      std::int64_t total = 0;
      for (const std::int64_t top : person.top) {
        row.emplace_back(std::to_string(top));
        total += top;
      }
      row.emplace_back(std::to_string(total));
      row.emplace_back(std::to_string(person.all_top));
      row.emplace_back(std::to_string(person.praise));
    }
    table.rows.push_back(std::move(row));
  }
  return CsvResponse(table, "recognition-people");
}

http::Response PraiseCsv(const alerts::RecognitionReport& report) {
  CsvTable table;
  table.header = {"survey_id", "contact_at", "person", "role", "team",   "q1",
                  "q2",        "q3",         "q4",     "q5",   "comment"};
  for (const auto& c : report.praise) {
    table.rows.push_back({std::to_string(c.survey_id), FormatRfc3339(c.contact_at), c.person,
                          c.role, c.team, Score(c.q[0]), Score(c.q[1]), Score(c.q[2]),
                          Score(c.q[3]), Score(c.q[4]), c.comment});
  }
  return CsvResponse(table, "recognition-praise");
}

http::Response Recognition(const ApiOptions& options, const Call& call) {
  if (options.alerts == nullptr || !options.alert_config) {
    return JsonError(503, "unavailable", "recognition is not configured");
  }
  const auto config = options.alert_config();
  if (!config || !config->lexicon) {
    return JsonError(503, "unavailable", "no lexicon is loaded");
  }
  store::RecognitionFilter filter;
  std::optional<TimePoint> from, to;
  bool csv = call.request.Header("Accept").find("text/csv") != std::string_view::npos;
  bool praise_table = false;  // the CSV of the praise comments rather than of the people
  const auto zone = options.zone ? options.zone() : nullptr;
  for (const auto& [key, value] : http::ParseForm(call.request.query)) {
    if (key == "from" || key == "to") {
      auto t = Bound(key == "to", value, zone ? *zone : *TimeZone::Utc());
      if (!t) return BadParameter(key, "expected a date (2026-11-26) or an RFC 3339 time");
      (key == "from" ? from : to) = t;
    } else if ((key == "team" || key == "officer") && !IsStorableText(value)) {
      return BadParameter(key, "not UTF-8 text");
    } else if (key == "team") {
      if (!value.empty()) filter.team = value;
    } else if (key == "officer") {
      if (!value.empty()) filter.person = value;
    } else if (key == "format") {
      if (value != "json" && value != "csv") return BadParameter(key, "expected json or csv");
      csv = value == "csv";
    } else if (key == "dates") {
      if (value != "contact" && value != "answered") {
        return BadParameter(key, "expected contact or answered");
      }
      filter.dated = value == "answered" ? store::RecognitionFilter::Dated::kByAnswer
                                         : store::RecognitionFilter::Dated::kByContact;
    } else if (key == "table") {
      if (value != "people" && value != "praise") {
        return BadParameter(key, "expected people or praise");
      }
      praise_table = value == "praise";
    } else {
      return BadParameter(key, "unknown parameter (see /api/v1/openapi.json)");
    }
  }
  const TimePoint now = ApiNow(options);
  filter.to = to.value_or(now);
  filter.from = from.value_or(filter.to - kDefaultWindow);
  if (filter.from >= filter.to) return BadParameter("to", "is not after from");
  if (filter.to - filter.from > kLongestWindow) {
    return BadParameter(from ? "from" : "to", "at most 366 days at a time");
  }
  filter.comment_limit = options.recognition_comments;
  const store::RecognitionData data = options.alerts->Recognition(filter);
  if (!data.comments_complete) {
    // Praise is counted from the comments themselves: a count made from some would be short,
    // with nothing to say so (it was: the newest 2,000 of a year's).
    return BadParameter(from ? "from" : "to",
                        "more than " + std::to_string(options.recognition_comments) +
                            " comments in the period: praise could not be counted whole; choose "
                            "a shorter period, or one team");
  }
  const auto report =
      alerts::BuildRecognition(data, *config->lexicon, options.recognition_min_cell_size);
  if (csv) return praise_table ? PraiseCsv(report) : PeopleCsv(report);
  json people = json::array();
  for (const auto& person : report.people) {
    json entry = {{"person", person.person},
                  {"role", person.role},
                  {"team", person.team},
                  {"suppressed", person.suppressed}};
    if (!person.suppressed) {
      json top = json::object();
      std::int64_t total = 0;
      for (int i = 0; i < 5; ++i) {
        top["q" + std::to_string(i + 1)] = person.top[i];
        total += person.top[i];
      }
      top["total"] = total;
      entry["respondents"] = person.respondents;
      entry["top_scores"] = top;
      entry["all_top_scores"] = person.all_top;
      entry["praise_comments"] = person.praise;
    }
    people.push_back(entry);
  }
  json praise = json::array();
  for (const auto& comment : report.praise) {
    praise.push_back({{"survey_id", comment.survey_id},
                      {"person", comment.person},
                      {"role", comment.role},
                      {"team", comment.team},
                      {"contact_at", FormatRfc3339(comment.contact_at)},
                      {"scores", Scores(comment.q)},
                      {"comment", comment.comment}});
  }
  json body = {{"from", FormatRfc3339(filter.from)},
               {"to", FormatRfc3339(filter.to)},
               {"dates", filter.dated == store::RecognitionFilter::Dated::kByAnswer ? "answered"
                                                                                    : "contact"},
               {"team", filter.team ? json(*filter.team) : json(nullptr)},
               {"officer", filter.person ? json(*filter.person) : json(nullptr)},
               {"min_cell_size", options.recognition_min_cell_size},
               {"suppressed", report.suppressed},
               {"suppressed_people", report.suppressed_people},
               {"questions", QuestionList(options, {"q1", "q2", "q3", "q4", "q5"})},
               {"people", report.suppressed ? json::array() : people},
               {"praise", praise}};
  if (!report.suppressed) body["respondents"] = report.respondents;
  auto response =
      http::Response::Json(200, body.dump(-1, ' ', false, json::error_handler_t::replace));
  response.Set("X-Row-Count", std::to_string(report.praise.size()));
  return response;
}

}  // namespace

void AddRecognitionRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/recognition", Role::kSupervisor, "",
              [&options](const Call& call) { return Recognition(options, call); }});
}

}  // namespace surveyd::api
