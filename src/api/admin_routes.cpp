// Administrators: API tokens (list, issue, revoke) and the audit trail of API calls.
#include <nlohmann/json.hpp>

#include "analytics_common.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;

json OptionalTime(const std::optional<TimePoint>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

json TokenJson(const store::ApiToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"role", t.role},
          {"created_by", t.created_by},
          {"created_at", FormatRfc3339(t.created_at)},
          {"last_used_at", OptionalTime(t.last_used_at)},
          {"revoked_at", OptionalTime(t.revoked_at)}};
}

http::Response HandleListTokens(const ApiOptions& options, const Call& call) {
  if (options.tokens == nullptr) return NotConfigured("tokens are");
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  json tokens = json::array();
  for (const auto& t : options.tokens->ListTokens()) tokens.push_back(TokenJson(t));
  const std::size_t rows = tokens.size();
  return JsonTable(json{{"tokens", std::move(tokens)}}.dump(), rows);
}

http::Response HandleCreateToken(const ApiOptions& options, const Call& call) {
  if (options.tokens == nullptr) return NotConfigured("tokens are");
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  const auto body = json::parse(call.request.body, nullptr, false);
  if (!body.is_object() || !body.contains("role") || !body["role"].is_string() ||
      !body.contains("name") || !body["name"].is_string()) {
    return JsonError(400, "bad_request", R"(expected {"role": "...", "name": "..."})");
  }
  const auto role = ParseRole(body["role"].get<std::string>());
  if (!role)
    return BadParameter("role", "expected analyst, supervisor, ops, admin or safeguarding");
  const auto name = body["name"].get<std::string>();
  if (name.empty() || name.size() > 200) return BadParameter("name", "1 to 200 characters");
  // Nobody issues a token that could do more than their own (safeguarding is issued on the
  // host, with `surveyd token create`).
  if (!Grants(call.principal->role, *role)) {
    return BadParameter("role", "you cannot issue a token with more rights than yours", 403);
  }
  auto issued = IssueToken(*role, name, call.principal->id, options.clock->Now());
  options.tokens->CreateToken(issued.record, issued.hash);
  json out = TokenJson(issued.record);
  out["token"] = issued.secret;  // shown once
  auto response = http::Response::Json(201, out.dump());
  response.Set("X-Row-Count", "1");
  return response;
}

http::Response HandleRevokeToken(const ApiOptions& options, const Call& call) {
  if (options.tokens == nullptr) return NotConfigured("tokens are");
  Query query;
  if (auto error = ParseQuery(call, {}, query)) return *error;
  if (!options.tokens->RevokeToken(std::string(call.Param("id")), options.clock->Now())) {
    return JsonError(404, "not_found", "no such active token");
  }
  http::Response response;
  response.status = 204;
  response.Set("X-Row-Count", "1");
  return response;
}

http::Response HandleAudit(const ApiOptions& options, const Call& call) {
  if (options.audit == nullptr) return NotConfigured("the audit trail is");
  Query query;
  if (auto error = ParseQuery(call, {"limit", "before", "format"}, query)) return *error;
  const auto entries = options.audit->RecentCalls(query.limit, query.before);
  CsvTable csv;
  csv.header = {"id",     "at",      "token_id", "role", "method",     "route",
                "params", "subject", "status",   "rows", "duration_ms"};
  json out = json::array();
  for (const auto& e : entries) {
    std::string params;
    for (const auto& p : e.params) params += (params.empty() ? "" : " ") + p;
    out.push_back({{"id", e.id},
                   {"at", FormatRfc3339(e.at)},
                   {"token_id", e.token_id.empty() ? json(nullptr) : json(e.token_id)},
                   {"role", e.role.empty() ? json(nullptr) : json(e.role)},
                   {"method", e.method},
                   {"route", e.route},
                   {"params", e.params},
                   {"subject", e.subject.empty() ? json(nullptr) : json(e.subject)},
                   {"status", e.status},
                   {"rows", e.rows ? json(*e.rows) : json(nullptr)},
                   {"duration_ms", e.duration_ms}});
    csv.rows.push_back({std::to_string(e.id), FormatRfc3339(e.at), e.token_id, e.role, e.method,
                        e.route, params, e.subject, std::to_string(e.status),
                        e.rows ? std::optional<std::string>(std::to_string(*e.rows)) : std::nullopt,
                        Number(e.duration_ms)});
  }
  const std::optional<std::string> next =
      static_cast<int>(entries.size()) == query.limit && !entries.empty()
          ? std::optional<std::string>(std::to_string(entries.back().id))
          : std::nullopt;
  if (query.csv) {
    auto response = CsvResponse(csv, "audit");
    if (next) response.Set("X-Next-Cursor", *next);
    return response;
  }
  auto response = JsonTable(
      json{{"calls", std::move(out)}, {"next", next ? json(*next) : json(nullptr)}}.dump(),
      entries.size());
  if (next) response.Set("X-Next-Cursor", *next);
  return response;
}

}  // namespace

void AddAdminRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/tokens", Role::kAdmin, "",
              [&options](const Call& call) { return HandleListTokens(options, call); }});
  router.Add({"POST", "/api/v1/tokens", Role::kAdmin, "",
              [&options](const Call& call) { return HandleCreateToken(options, call); }});
  router.Add({"DELETE", "/api/v1/tokens/{id}", Role::kAdmin, "",
              [&options](const Call& call) { return HandleRevokeToken(options, call); }});
  router.Add({"GET", "/api/v1/audit", Role::kAdmin, "",
              [&options](const Call& call) { return HandleAudit(options, call); }});
}

}  // namespace surveyd::api
