// Answers with their context (GET /api/v1/responses) and the comments, searchable
// (GET /api/v1/comments?q=), newest answer first, with keyset pagination on the answer's time
// and survey id (FormatResponseCursor). Never a number: the context is the grouping columns, the
// comment is the masked one. Officer and operator ids are shown to supervisors only.
#include <nlohmann/json.hpp>

#include "analytics_common.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;
using store::Dimension;

http::Response HandleResponses(const ApiOptions& options, const Call& call, bool comments) {
  std::vector<std::string_view> allowed = kFilterParameters;
  allowed.insert(allowed.end(), {"after", "limit", "format"});
  if (comments) allowed.push_back("q");
  Query query;
  if (auto error = ParseQuery(call, allowed, query)) return *error;
  const bool supervisor =
      call.principal != nullptr && Grants(call.principal->role, Role::kSupervisor);
  return RunAnalytics(options, [&] {
    store::ResponseQuery request;
    request.filter = query.filter;
    request.after = query.after;
    request.limit = query.limit;
    request.comments_only = comments;
    request.search = query.q;
    const auto page = options.analytics->Responses(request);

    auto shown = [&](Dimension d) {
      return supervisor || (d != Dimension::kOfficer && d != Dimension::kOperator);
    };
    CsvTable csv;
    csv.header = {"survey_id", "contact_day", "contact_hour", "submitted_at"};
    for (Dimension d : store::AllDimensions()) {
      if (store::IsFilter(d) && shown(d)) csv.header.emplace_back(store::DimensionName(d));
    }
    if (!comments) {
      for (const char* q : {"q1", "q2", "q3", "q4", "q5"}) csv.header.emplace_back(q);
    }
    csv.header.emplace_back("comment");

    json records = json::array();
    for (const auto& r : page.records) {
      json entry = {{"survey_id", r.survey_id},
                    {"contact_day", r.contact_day},
                    {"contact_hour", r.contact_hour},
                    {"submitted_at", FormatRfc3339(r.submitted_at)}};
      std::vector<std::optional<std::string>> row = {std::to_string(r.survey_id), r.contact_day,
                                                     r.contact_hour, FormatRfc3339(r.submitted_at)};
      for (const auto& [d, value] : r.context) {
        if (!shown(d)) continue;
        entry[store::DimensionName(d)] = value ? json(*value) : json(nullptr);
        row.push_back(value);
      }
      if (!comments) {
        json answers = json::object();
        for (int i = 0; i < 5; ++i) {
          const std::string key = "q" + std::to_string(i + 1);
          answers[key] = r.q[i] ? json(*r.q[i]) : json(nullptr);
          row.push_back(r.q[i] ? std::optional<std::string>(std::to_string(*r.q[i]))
                               : std::nullopt);
        }
        entry["answers"] = std::move(answers);
      }
      entry["comment"] = r.comment;
      row.emplace_back(r.comment);
      records.push_back(std::move(entry));
      csv.rows.push_back(std::move(row));
    }
    const std::optional<std::string> next =
        page.next_after ? std::optional<std::string>(FormatResponseCursor(*page.next_after))
                        : std::nullopt;
    if (query.csv) {
      auto response = CsvResponse(csv, comments ? "comments" : "responses");
      if (next) response.Set("X-Next-Cursor", *next);
      return response;
    }
    json body = {{comments ? "comments" : "responses", std::move(records)},
                 {"next", next ? json(*next) : json(nullptr)}};
    auto response = JsonTable(body.dump(), page.records.size());
    if (next) response.Set("X-Next-Cursor", *next);
    return response;
  });
}

}  // namespace

void AddResponsesRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/responses", Role::kAnalyst, "",
              [&options](const Call& call) { return HandleResponses(options, call, false); }});
  router.Add({"GET", "/api/v1/comments", Role::kAnalyst, "",
              [&options](const Call& call) { return HandleResponses(options, call, true); }});
}

}  // namespace surveyd::api
