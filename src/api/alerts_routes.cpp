// Alerts for the people who act on them: supervisors and safeguarding staff list, read,
// acknowledge and resolve them; only safeguarding staff may reveal the number behind one, to call
// back, and every reveal is recorded with who asked and why before the number is returned.
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "analytics_common.hpp"
#include "routes.hpp"
#include "surveyd/alerts/webhook.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;

std::string Dump(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::int64_t> ParseId(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

// The list's cursor, `next_before`: the last alert's position as "MICROS_ID" (microseconds since
// the epoch of its raising or reopening, its id). Clients pass it back as it came.
std::string FormatPosition(const store::AlertListPosition& position) {
  return std::to_string(position.raised_or_reopened.time_since_epoch().count()) + "_" +
         std::to_string(position.id);
}

std::optional<store::AlertListPosition> ParsePosition(std::string_view text) {
  const auto split = text.find('_');
  if (split == std::string_view::npos) return std::nullopt;
  const auto micros = ParseId(text.substr(0, split));
  const auto id = ParseId(text.substr(split + 1));
  if (!micros || !id) return std::nullopt;
  // A time PostgreSQL cannot compare would fail the statement, read as the database down.
  const TimePoint at{Duration(*micros)};
  if (!InRfc3339Range(at)) return std::nullopt;
  return store::AlertListPosition{at, *id};
}

// The survey groups' names in the rules in force, by id.
using GroupNames = std::map<std::string, std::string>;
GroupNames SurveyGroupNames(const ApiOptions& options) {
  GroupNames names;
  if (options.survey_group_names) {
    for (auto& [id, name] : options.survey_group_names()) names.emplace(id, name);
  }
  return names;
}

json ContextJson(const store::AlertContext& c, const GroupNames& names) {
  const auto named = names.find(c.group);
  return alerts::AlertContextJson(c, named == names.end() ? nullptr : &named->second, true);
}

json AlertJson(const store::AlertView& alert, const GroupNames& names) {
  return {
      {"id", alert.id},
      {"survey_id", alert.survey_id},
      {"kind", AlertKindName(alert.kind)},
      {"severity", AlertSeverityName(alert.severity)},
      {"rules", alert.rules},
      {"matched", alert.matched},
      {"created_at", FormatRfc3339(alert.created_at)},
      {"status", store::AlertStatusName(alert.status)},
      {"status_at", alert.status_at ? json(FormatRfc3339(*alert.status_at)) : json(nullptr)},
      {"status_by", alert.status_by.empty() ? json(nullptr) : json(alert.status_by)},
      {"status_note", alert.status_note.empty() ? json(nullptr) : json(alert.status_note)},
      {"reopened_at", alert.reopened_at ? json(FormatRfc3339(*alert.reopened_at)) : json(nullptr)},
      {"notices_sent", alert.rounds},
      {"context", ContextJson(alert.context, names)}};
}

store::Actor ActorOf(const Call& call) {
  store::Actor actor;
  if (call.principal != nullptr) {
    actor.id = call.principal->id;
    actor.name = call.principal->name;
    actor.role = RoleName(call.principal->role);
  }
  return actor;
}

http::Response NoStore() { return JsonError(503, "unavailable", "alerts are not configured"); }

http::Response List(const ApiOptions& options, const Call& call) {
  if (options.alerts == nullptr) return NoStore();
  store::AlertFilter filter;
  for (const auto& [key, value] : http::ParseForm(call.request.query)) {
    if (key == "status") {
      filter.status = store::ParseAlertStatus(value);
      if (!filter.status) {
        return BadParameter(key, "expected open, acknowledged or resolved");
      }
    } else if (key == "kind") {
      filter.kind = ParseAlertKind(value);
      if (!filter.kind) {
        return BadParameter(key, "expected safeguarding, complaint or low_scores");
      }
    } else if (key == "before") {
      filter.before = ParsePosition(value);
      if (!filter.before) return BadParameter(key, "expected the next_before of the page before");
    } else if (key == "limit") {
      const auto limit = ParseId(value);
      if (!limit || *limit > 500) return BadParameter(key, "expected 1 to 500");
      filter.limit = static_cast<int>(*limit);
    } else {
      return BadParameter(key, "unknown parameter (see /api/v1/openapi.json)");
    }
  }
  json alerts = json::array();
  const auto found = options.alerts->ListAlerts(filter);
  const GroupNames names = SurveyGroupNames(options);
  for (const auto& alert : found) alerts.push_back(AlertJson(alert, names));
  json body = {{"alerts", alerts}};
  if (static_cast<int>(found.size()) == filter.limit && !found.empty()) {
    body["next_before"] = FormatPosition(store::ListPositionOf(found.back()));
  }
  auto response = http::Response::Json(200, Dump(body));
  response.Set("X-Row-Count", std::to_string(found.size()));
  return response;
}

http::Response Get(const ApiOptions& options, const Call& call) {
  if (options.alerts == nullptr) return NoStore();
  const auto id = ParseId(call.Param("id"));
  if (!id) return JsonError(404, "not_found", "no such alert");
  const auto detail = options.alerts->GetAlert(*id);
  if (!detail) return JsonError(404, "not_found", "no such alert");
  json body = AlertJson(detail->alert, SurveyGroupNames(options));
  json answer = {{"comment", detail->comment}};
  for (int q = 0; q < 5; ++q) {
    answer["q" + std::to_string(q + 1)] = detail->q[q] ? json(*detail->q[q]) : json(nullptr);
  }
  body["answer"] = answer;
  json history = json::array();
  for (const auto& event : detail->history) {
    history.push_back({{"at", FormatRfc3339(event.at)},
                       {"action", event.action},
                       {"by", event.actor_name.empty() ? json(nullptr) : json(event.actor_name)},
                       {"role", event.actor_role.empty() ? json(nullptr) : json(event.actor_role)},
                       {"note", event.note.empty() ? json(nullptr) : json(event.note)}});
  }
  body["history"] = history;
  return http::Response::Json(200, Dump(body));
}

http::Response Act(const ApiOptions& options, const Call& call, bool resolve) {
  if (options.alerts == nullptr) return NoStore();
  const auto id = ParseId(call.Param("id"));
  if (!id) return JsonError(404, "not_found", "no such alert");
  std::string error;
  const auto note = BodyText(call.request, "note", error);
  if (!note) return JsonError(400, "bad_request", error);
  if (resolve && note->empty()) {
    return JsonError(400, "bad_request", "say what was done: {\"note\": \"...\"}");
  }
  const TimePoint now = ApiNow(options);
  const store::Actor actor = ActorOf(call);
  const store::AlertUpdate outcome = resolve ? options.alerts->Resolve(*id, actor, *note, now)
                                             : options.alerts->Acknowledge(*id, actor, *note, now);
  switch (outcome) {
    case store::AlertUpdate::kNotFound:
      return JsonError(404, "not_found", "no such alert");
    case store::AlertUpdate::kAlreadyResolved:
      return JsonError(409, "conflict", "the alert is already resolved");
    case store::AlertUpdate::kDone:
      break;
  }
  spdlog::info("alerts: alert {} {} by token {}", *id, resolve ? "resolved" : "acknowledged",
               actor.id);
  if (options.on_alert_changed) options.on_alert_changed();
  const auto detail = options.alerts->GetAlert(*id);
  if (!detail) return JsonError(404, "not_found", "no such alert");
  return http::Response::Json(200, Dump(AlertJson(detail->alert, SurveyGroupNames(options))));
}

http::Response RevealNumber(const ApiOptions& options, const Call& call) {
  if (options.alerts == nullptr) return NoStore();
  const auto id = ParseId(call.Param("id"));
  if (!id) return JsonError(404, "not_found", "no such alert");
  std::string error;
  const auto reason = BodyText(call.request, "reason", error);
  if (!reason) return JsonError(400, "bad_request", error);
  if (reason->empty()) {
    return JsonError(400, "bad_request",
                     "say why the number is needed: {\"reason\": \"...\"} (it is recorded)");
  }
  const TimePoint now = ApiNow(options);
  const store::Actor actor = ActorOf(call);
  const store::Reveal reveal = options.alerts->RevealNumber(*id, actor, *reason, now);
  switch (reveal.outcome) {
    case store::Reveal::Outcome::kNotFound:
      return JsonError(404, "not_found", "no such alert");
    case store::Reveal::Outcome::kNumberGone:
      return JsonError(410, "gone", "the number is no longer held for this survey");
    case store::Reveal::Outcome::kRevealed:
      break;
  }
  spdlog::info("alerts: the number behind alert {} was revealed to token {} (recorded)", *id,
               actor.id);
  return http::Response::Json(200, Dump({{"alert_id", *id},
                                         {"phone", reveal.e164},
                                         {"comment", reveal.comment},
                                         {"revealed_at", FormatRfc3339(now)}}));
}

}  // namespace

void AddAlertRoutes(Router& router, const ApiOptions& options) {
  const std::vector<Role> also = {Role::kSafeguarding};
  router.Add({"GET", "/api/v1/alerts", Role::kSupervisor, "",
              [&options](const Call& call) { return List(options, call); }, also});
  router.Add({"GET", "/api/v1/alerts/{id}", Role::kSupervisor, "",
              [&options](const Call& call) { return Get(options, call); }, also});
  router.Add({"POST", "/api/v1/alerts/{id}/acknowledge", Role::kSupervisor, "",
              [&options](const Call& call) { return Act(options, call, false); }, also});
  router.Add({"POST", "/api/v1/alerts/{id}/resolve", Role::kSupervisor, "",
              [&options](const Call& call) { return Act(options, call, true); }, also});
  router.Add({"POST", "/api/v1/alerts/{id}/reveal", Role::kSafeguarding, "",
              [&options](const Call& call) { return RevealNumber(options, call); }});
}

}  // namespace surveyd::api
