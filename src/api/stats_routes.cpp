// Analysts' API: the funnel and the per-question scores.
#include <nlohmann/json.hpp>

#include "routes.hpp"
#include "surveyd/core/statistics.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;

store::StatsFilter ParseFilter(const http::Request& request, std::string& error) {
  store::StatsFilter filter;
  for (const auto& [key, value] : http::ParseForm(request.query)) {
    if (key == "from" || key == "to") {
      auto t = ParseRfc3339(value);
      if (!t) {
        error = key + " must be an RFC 3339 time";
        return filter;
      }
      (key == "from" ? filter.from : filter.to) = t;
    } else if (key == "group") {
      filter.group = value;
    } else {
      error = "unknown parameter '" + key + "'";
      return filter;
    }
  }
  return filter;
}

http::Response HandleFunnel(const ApiOptions& options, const http::Request& request) {
  std::string error;
  auto filter = ParseFilter(request, error);
  if (!error.empty()) return JsonError(400, "bad_request", error);
  const auto f = options.stats->GetFunnel(filter);
  json reasons = json::object();
  for (const auto& [reason, count] : f.excluded_by_reason) reasons[reason] = count;
  json cancelled = json::object();
  for (const auto& [reason, count] : f.cancelled_by_reason) cancelled[reason] = count;
  const auto rate = [](std::int64_t k, std::int64_t n) {
    auto [low, high] = stats::WilsonInterval(k, n);
    return json{{"rate", stats::Rate(k, n)}, {"ci95", {low, high}}};
  };
  json body = {
      {"events",
       {{"received", f.events_received},
        {"rejected", f.events_rejected},
        {"duplicate", f.events_duplicate},
        {"ignored", f.events_ignored},
        {"excluded", f.events_excluded},
        {"excluded_by_reason", reasons}}},
      {"surveys",
       {{"created", f.surveys_created},
        {"pending", f.pending},
        {"sent", f.sms_accepted},
        {"delivered", f.sms_delivered},
        {"failed", f.sms_failed},
        {"expired", f.sms_expired},
        {"cancelled", f.cancelled},
        {"cancelled_by_reason", cancelled},
        {"opened", f.opened},
        {"answered", f.answered}}},
      {"response_rate", rate(f.answered, f.sms_accepted)},
  };
  return http::Response::Json(200, body.dump());
}

http::Response HandleQuestions(const ApiOptions& options, const http::Request& request) {
  std::string error;
  auto filter = ParseFilter(request, error);
  if (!error.empty()) return JsonError(400, "bad_request", error);
  json questions = json::array();
  for (const auto& q : options.stats->GetQuestionStats(filter)) {
    auto [low, high] = stats::WilsonInterval(q.top_box, q.respondents);
    questions.push_back(
        {{"question", q.question},
         {"respondents", q.respondents},
         {"mean", q.respondents ? json(q.mean) : json(nullptr)},
         {"pct_8_10",
          q.respondents ? json(100 * stats::Rate(q.top_box, q.respondents)) : json(nullptr)},
         {"pct_8_10_ci95", {100 * low, 100 * high}}});
  }
  return http::Response::Json(200, json{{"questions", questions}}.dump());
}

}  // namespace

void AddStatsRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/stats/funnel", Role::kAnalyst, "",
              [&options](const Call& call) { return HandleFunnel(options, call.request); }});
  router.Add({"GET", "/api/v1/stats/questions", Role::kAnalyst, "",
              [&options](const Call& call) { return HandleQuestions(options, call.request); }});
}

}  // namespace surveyd::api
