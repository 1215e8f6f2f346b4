// libFuzzer target: the analysts' query parameters (api::ParseQuery: filters, from/to, group_by,
// format, paging, search, dimension; and the alerts list's and recognition's own) through the
// real routes, into an analytics store that builds the store's SQL (store::analytics) for what
// it was asked and answers cells keyed by the values asked for, so that suppression, Wilson
// intervals, JSON and CSV run over fuzzed text too.
//
// The first byte chooses: bit 0 the role (analyst, supervisor), bits 1-3 the route, bit 4 an
// Accept: text/csv header. The rest is the query string.
// Whatever arrives: the answer is 200 (JSON that parses, or CSV), 400 or 403; nothing a request
// says is ever part of a statement (the SQL text is the same whatever the values, only the
// parameters change); the funnel is never asked for instants; suppressed cells reveal no counts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fakes/fake_alerts.hpp"
#include "fakes/manual_clock.hpp"
#include "store/analytics_sql.hpp"
#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/api/api.hpp"

namespace {

namespace st = surveyd::store;
namespace sql = surveyd::store::analytics;

constexpr char kAnalyst[] = "analyst-token-analyst-token-analyst";
constexpr char kSupervisor[] = "supervisor-token-supervisor-token";
constexpr int kMinCell = 10;

// The catalogue migrations 0004 and 0007 create.
const std::vector<sql::Cube>& Cubes() {
  static const std::vector<sql::Cube> cubes = {
      {0, {}, false},
      {1, {"channel", "language", "days_to_survey"}, false},
      {2, {"hour", "channel"}, false},
      {3, {"category", "grade"}, false},
      {4, {"incident_type", "category", "grade"}, false},
      {5, {"npu", "beat"}, false},
      {6, {"operator", "team"}, false},
      {7, {"officer", "department"}, false},
      {8, {"gender", "age_band", "ethnicity"}, false},
      {9, {}, true},
  };
  return cubes;
}

// The filter with every value replaced by a fixed one (as many, in the same places).
st::AnalyticsFilter Blank(st::AnalyticsFilter filter) {
  for (auto& [dimension, values] : filter.values) {
    for (auto& value : values) value = "v";
  }
  return filter;
}

void SameText(const sql::Sql& a, const sql::Sql& b) {
  // Request text never becomes SQL text: only parameters differ.
  if (a.text != b.text || a.params.size() != b.params.size()) std::abort();
}

// What PostgreSQL takes as text: valid UTF-8 (nlohmann's strict check, independent of the API's
// own) without NUL bytes. Anything else the database would refuse: a 500, where the API owes a 400.
void Storable(const std::string& text) {
  if (text.find('\0') != std::string::npos) std::abort();
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::exception&) {
    std::abort();
  }
}

void Storable(const st::AnalyticsFilter& filter) {
  for (const auto& [dimension, values] : filter.values) {
    for (const auto& value : values) Storable(value);
  }
}

// Deterministic counts from a key, so that some cells are suppressed and some are not.
std::int64_t Count(const std::string& key, std::int64_t modulo) {
  return static_cast<std::int64_t>(std::hash<std::string>{}(key) %
                                   static_cast<std::size_t>(modulo));
}

class FuzzAnalytics final : public st::AnalyticsStore {
 public:
  st::StatsResult Stats(const st::AnalyticsFilter& filter,
                        const std::vector<st::Dimension>& group_by) override {
    Storable(filter);
    std::vector<st::Dimension> keys;
    for (auto d : group_by) {
      if (d != st::Dimension::kQuestion) keys.push_back(d);
    }
    const auto cube = sql::ChooseCube(Cubes(), filter, keys);
    const auto months = cube ? sql::MonthlyTwin(Cubes(), *cube, keys) : std::nullopt;
    SameText(sql::BuildStats(cube, filter, keys, months),
             sql::BuildStats(cube, Blank(filter), keys, months));
    st::StatsResult result;
    result.from_rollups = cube.has_value();
    // A cell per value asked for (the first filter's), and one with no values.
    std::vector<std::string> seeds = {""};
    if (!filter.values.empty()) {
      for (const auto& value : filter.values.front().second) seeds.push_back(value);
    }
    for (const auto& seed : seeds) {
      st::StatsCell cell;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (seed.empty()) {
          cell.keys.emplace_back(std::nullopt);
        } else {
          cell.keys.emplace_back(seed + std::to_string(i));
        }
      }
      cell.answered = Count(seed, 40);
      cell.reached = cell.answered + Count(seed + "r", 20);
      cell.sent = cell.reached + 1;
      cell.surveys = cell.sent + 2;
      for (const char* q : {"q1", "q2", "q3", "q4", "q5"}) {
        const std::int64_t respondents = Count(seed + q, cell.answered + 1);
        cell.questions[q] = {respondents, respondents * 7, respondents / 2};
      }
      result.cells.push_back(std::move(cell));
    }
    return result;
  }

  std::vector<st::FunnelRow> Funnel(const st::AnalyticsFilter& filter) override {
    if (filter.UsesInstants()) std::abort();  // the route refuses them: the store would throw
    Storable(filter);
    const auto a = sql::BuildFunnel(filter);
    const auto b = sql::BuildFunnel(Blank(filter));
    SameText(a.events, b.events);
    SameText(a.cells, b.cells);
    SameText(a.cancellations, b.cancellations);
    std::vector<st::FunnelRow> rows;
    for (const auto& [dimension, values] : filter.values) {
      for (const auto& value : values) {
        st::FunnelRow row;
        row.group = value;
        row.received = Count(value, 100);
        row.excluded = row.received / 3;
        row.excluded_by_rule[value] = row.excluded;
        row.surveys = row.received - row.excluded;
        row.cancelled_by_reason[value] = 1;
        rows.push_back(std::move(row));
      }
    }
    return rows;
  }

  st::ResponsePage Responses(const st::ResponseQuery& query) override {
    if (query.limit < 1 || query.limit > 1000) std::abort();
    Storable(query.filter);
    Storable(query.search);
    st::ResponseQuery blank = query;
    blank.filter = Blank(query.filter);
    if (!blank.search.empty()) blank.search = "s";
    SameText(sql::BuildResponses(query), sql::BuildResponses(blank));
    st::ResponsePage page;
    st::ResponseRecord record;
    record.survey_id = query.after ? query.after->survey_id - 1 : 99;
    record.contact_day = query.filter.from_day.value_or("2026-11-26");
    record.contact_hour = "09";
    record.submitted_at = surveyd::FromUnixSeconds(1'850'000'000);
    for (auto d : st::AllDimensions()) {
      if (st::IsFilter(d)) record.context.emplace_back(d, query.search);
    }
    record.q[0] = 7;
    record.comment = query.search;
    page.records.push_back(record);
    page.next_after = st::ResponseCursor{record.submitted_at, record.survey_id};
    return page;
  }

  std::optional<st::SurveyTimeline> Timeline(std::int64_t) override { return std::nullopt; }
};

// Recognition's team and person reach the database too.
class FuzzAlerts final : public surveyd::testing::EmptyAlertStore {
 public:
  st::RecognitionData Recognition(const st::RecognitionFilter& filter) override {
    if (filter.team) Storable(*filter.team);
    if (filter.person) Storable(*filter.person);
    if (filter.from >= filter.to) std::abort();
    return {};
  }
};

struct Harness {
  Harness() : clock(surveyd::FromUnixSeconds(1'850'000'000)) {
    static const auto loaded = surveyd::alerts::LoadAlertConfigFile(
        std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
    if (!loaded.config) std::abort();
    for (int i = 0; i < 2; ++i) {
      const bool supervisor = i == 1;
      authenticators[i] = surveyd::api::MakeStaticAuthenticator(
          supervisor ? kSupervisor : kAnalyst,
          {"fuzz", "fuzz",
           supervisor ? surveyd::api::Role::kSupervisor : surveyd::api::Role::kAnalyst});
      surveyd::api::ApiOptions options;
      options.clock = &clock;
      options.analytics = &analytics;
      options.alerts = &alerts;
      options.alert_config = [] { return loaded.config; };
      options.authenticator = authenticators[i].get();
      options.min_cell_size = kMinCell;
      options.question_texts = {"Polite?", "Understood?", "Time?", "Next steps?", "Helped?"};
      options.readiness = [] { return surveyd::api::Readiness{true, "{}", {}}; };
      handlers[i] = surveyd::api::MakeApiHandler(options);
    }
  }

  surveyd::testing::ManualClock clock;
  FuzzAnalytics analytics;
  FuzzAlerts alerts;
  std::unique_ptr<surveyd::api::Authenticator> authenticators[2];
  surveyd::http::Handler handlers[2];
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness* harness = new Harness();  // lives for the whole run, like the daemon's
  if (size == 0) return 0;
  static const char* const kRoutes[] = {
      "/api/v1/stats",    "/api/v1/funnel", "/api/v1/representativeness", "/api/v1/responses",
      "/api/v1/comments", "/api/v1/alerts", "/api/v1/recognition",        "/api/v1/stats"};
  const unsigned setup = data[0];
  const int role = setup & 1;
  const std::string path = kRoutes[(setup >> 1) & 7];
  const bool csv = (setup & 16) != 0;
  const std::string query(reinterpret_cast<const char*>(data) + 1, size - 1);

  surveyd::http::Request request;
  request.method = "GET";
  request.path = path;
  request.query = query;
  request.target = path + "?" + query;
  request.remote_address = "192.0.2.9";
  request.headers.emplace_back("Authorization",
                               std::string("Bearer ") + (role == 1 ? kSupervisor : kAnalyst));
  if (csv) request.headers.emplace_back("Accept", "text/csv");
  const auto response = harness->handlers[role](request);

  if (response.status != 200 && response.status != 400 && response.status != 403) std::abort();
  // Analysts may not see the alerts or recognition: those are refused before the query is read.
  if (role == 0 && (path == "/api/v1/alerts" || path == "/api/v1/recognition") &&
      response.status != 403) {
    std::abort();
  }
  const auto type = surveyd::http::FindHeader(response.headers, "Content-Type");
  if (type.substr(0, 16) == "application/json") {
    const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) std::abort();
    // A suppressed cell shows no counts: a cell's answers, or a question's respondents when the
    // breakdown is by question.
    if (response.status == 200 && body.is_object() && body.contains("cells")) {
      for (const auto& cell : body["cells"]) {
        const char* count = cell.contains("question") ? "respondents" : "answered";
        if (cell.value("suppressed", false) && cell.contains(count) && !cell[count].is_null()) {
          std::abort();
        }
      }
    }
  } else if (response.status == 200 && type.substr(0, 8) != "text/csv") {
    std::abort();
  }
  return 0;
}
