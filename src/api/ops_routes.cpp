// Ops: one survey's timeline (GET /api/v1/surveys/{id}), the rules in force (GET /api/v1/rules),
// and the hold on every text (GET and POST /api/v1/sends/hold, POST /api/v1/sends/release).
// Never the number.
#include <spdlog/spdlog.h>
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

json HoldJson(const store::SendHold& hold) {
  return {{"id", hold.id},
          {"reason", hold.reason},
          {"held_by", hold.held_by},
          {"held_at", FormatRfc3339(hold.held_at)}};
}

// Who did it, for the record: the token's name.
std::string ByOf(const Call& call) {
  return call.principal != nullptr ? call.principal->name : std::string("api");
}

http::Response NoOpsStore() { return JsonError(503, "unavailable", "no database for holds"); }

http::Response HandleHoldStatus(const ApiOptions& options, const Call& call) {
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  if (options.ops == nullptr) return NoOpsStore();
  const auto hold = options.ops->ActiveSendHold();
  return http::Response::Json(
      200,
      json{{"held", hold.has_value()}, {"hold", hold ? HoldJson(*hold) : json(nullptr)}}.dump());
}

http::Response HandleHold(const ApiOptions& options, const Call& call) {
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  if (options.ops == nullptr) return NoOpsStore();
  std::string error;
  const auto reason = BodyText(call.request, "reason", error);
  if (!reason) return JsonError(400, "bad_request", error);
  if (reason->empty()) {
    return JsonError(400, "bad_request",
                     "say why every text is held: {\"reason\": \"...\"} (it is recorded)");
  }
  const store::HoldOutcome outcome = options.ops->HoldSends(*reason, ByOf(call));
  if (!outcome.already_held) {
    spdlog::warn("ops: every text held (hold {}) by {}: {}", outcome.hold.id, ByOf(call), *reason);
  }
  return http::Response::Json(outcome.already_held ? 200 : 201,
                              json{{"held", true},
                                   {"already_held", outcome.already_held},
                                   {"hold", HoldJson(outcome.hold)},
                                   {"in_flight", outcome.in_flight}}
                                  .dump());
}

http::Response HandleRelease(const ApiOptions& options, const Call& call) {
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  if (options.ops == nullptr) return NoOpsStore();
  std::string error;
  const auto note = BodyText(call.request, "note", error);
  if (!note) return JsonError(400, "bad_request", error);
  const auto cancel_waiting = BodyFlag(call.request, "cancel_waiting", error);
  if (!cancel_waiting) return JsonError(400, "bad_request", error);
  const TimePoint now = ApiNow(options);
  const store::ReleaseOutcome outcome =
      options.ops->ReleaseSends(ByOf(call), *note, *cancel_waiting, now);
  if (!outcome.released) return JsonError(409, "not_held", "no hold is open");
  spdlog::warn("ops: the hold on texts (hold {}) released by {}; {} waiting text(s) cancelled",
               outcome.released->id, ByOf(call), outcome.cancelled);
  return http::Response::Json(200, json{{"held", false},
                                        {"released", HoldJson(*outcome.released)},
                                        {"cancelled", outcome.cancelled}}
                                       .dump());
}

}  // namespace

void AddOpsRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/surveys/{id}", Role::kOps, "",
              [&options](const Call& call) { return HandleTimeline(options, call); }});
  router.Add({"GET", "/api/v1/rules", Role::kOps, "",
              [&options](const Call& call) { return HandleRules(options, call); }});
  // Whether texts are held, the dashboard asks too: fewer texts sent, and why, is part of what
  // analysts and supervisors read in the figures. Only ops hold and release.
  router.Add({"GET",
              "/api/v1/sends/hold",
              Role::kOps,
              "",
              [&options](const Call& call) { return HandleHoldStatus(options, call); },
              {Role::kAnalyst, Role::kSafeguarding}});
  router.Add({"POST", "/api/v1/sends/hold", Role::kOps, "",
              [&options](const Call& call) { return HandleHold(options, call); }});
  router.Add({"POST", "/api/v1/sends/release", Role::kOps, "",
              [&options](const Call& call) { return HandleRelease(options, call); }});
}

}  // namespace surveyd::api
