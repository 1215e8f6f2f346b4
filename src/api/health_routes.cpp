// Health for load balancers (public: alive, ready or not) and for ops (every check, with a token).
#include <nlohmann/json.hpp>

#include "analytics_common.hpp"

namespace surveyd::api {

http::Response Alive() { return http::Response::Json(200, R"({"status":"alive"})"); }

void AddHealthRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/healthz", std::nullopt, "", [](const Call&) { return Alive(); }});
  // Public: ready or not, and which parts work only in part (by name); what is wrong is for ops
  // (below).
  router.Add({"GET", "/readyz", std::nullopt, "", [&options](const Call&) {
                const Readiness readiness = options.readiness ? options.readiness() : Readiness{};
                nlohmann::json body = {{"ready", readiness.ready}};
                if (!readiness.degraded.empty()) body["degraded"] = readiness.degraded;
                return http::Response::Json(readiness.ready ? 200 : 503, body.dump());
              }});
  router.Add({"GET", "/api/v1/health", Role::kOps, "", [&options](const Call& call) {
                Query query;  // takes no parameters (as documented in web/openapi.json)
                if (auto error = ParseQuery(call, {}, query)) return *error;
                if (!options.readiness) return JsonError(503, "unavailable", "no health checks");
                const Readiness readiness = options.readiness();
                return http::Response::Json(readiness.ready ? 200 : 503, readiness.details);
              }});
}

}  // namespace surveyd::api
