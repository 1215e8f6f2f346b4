// Ops: one survey's timeline (GET /api/v1/surveys/{id}) and the rules in force
// (GET /api/v1/rules). Never the number.
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "analytics_common.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;

http::Response HandleTimeline(const ApiOptions& options, const Call& call) {
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  const std::string_view text = call.Param("id");
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id < 1) {
    return BadParameter("id", "expected a survey id");
  }
  return RunAnalytics(options, [&] {
    const auto found = options.analytics->Timeline(id);
    if (!found) return JsonError(404, "not_found", "no such survey");
    const auto& t = *found;
    json events = json::array();
    auto add = [&](TimePoint at, const char* what, json details) {
      details["at"] = FormatRfc3339(at);
      details["what"] = what;
      events.push_back(std::move(details));
    };
    add(t.contact_at, "contact", {{"event_type", t.event_type}});
    add(t.received_at, "event_received", {{"source", t.source}, {"event_id", t.event_id}});
    add(t.received_at, "decided",
        {{"decision", t.decision},
         {"rule", t.reason},
         {"trace", json::parse(t.decision_trace, nullptr, false)}});
    add(t.created_at, "survey_created",
        {{"send_at", FormatRfc3339(t.send_at)},
         {"expires_at", FormatRfc3339(t.expires_at)},
         {"closes_at", FormatRfc3339(t.closes_at)}});
    for (const auto& a : t.attempts) {
      add(a.at, "send_attempt",
          {{"attempt", a.attempt},
           {"gateway", a.gateway},
           {"result", a.result},
           {"http_status", a.http_status ? json(*a.http_status) : json(nullptr)},
           {"error", a.error}});
    }
    for (const auto& r : t.reports) {
      add(r.at, "delivery_report",
          {{"gateway", r.gateway},
           {"status", r.status},
           {"error_code", r.error_code},
           {"received_at", FormatRfc3339(r.received_at)}});
    }
    if (t.opened_at) add(*t.opened_at, "opened", json::object());
    if (t.responded_at) add(*t.responded_at, "answered", json::object());
    std::stable_sort(events.begin(), events.end(), [](const json& a, const json& b) {
      return a["at"].get<std::string>() < b["at"].get<std::string>();
    });
    json body = {{"survey_id", t.survey_id},
                 {"event_id", t.event_id},
                 {"survey_group", t.group},
                 {"message_state", t.message_state},
                 {"cancel_reason", t.cancel_reason ? json(*t.cancel_reason) : json(nullptr)},
                 {"opted_out", t.opted_out},
                 {"timeline", std::move(events)}};
    return JsonTable(body.dump(), 1);
  });
}

http::Response HandleRules(const ApiOptions& options, const Call& call) {
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  if (!options.rules_info) return JsonError(503, "unavailable", "no rules information");
  return http::Response::Json(200, options.rules_info());
}

}  // namespace

void AddOpsRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/surveys/{id}", Role::kOps, "",
              [&options](const Call& call) { return HandleTimeline(options, call); }});
  router.Add({"GET", "/api/v1/rules", Role::kOps, "",
              [&options](const Call& call) { return HandleRules(options, call); }});
}

}  // namespace surveyd::api
