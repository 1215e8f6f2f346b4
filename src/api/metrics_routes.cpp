// GET /metrics (Prometheus text format) for the addresses in metrics.allow. The client is the
// peer, or behind a trusted proxy the address it forwarded, so that a public proxy in front of
// surveyd does not open the metrics to everyone.
#include "routes.hpp"
#include "surveyd/core/ip_address.hpp"

namespace surveyd::api {

void AddMetricsRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/metrics", std::nullopt, "", [&options](const Call& call) {
                if (options.metrics == nullptr || options.metrics_allow.empty() ||
                    !net::InAnyRange(ClientAddress(call.request, options.trusted_proxies),
                                     options.metrics_allow)) {
                  return JsonError(404, "not_found", "no such endpoint");
                }
                http::Response response;
                response.status = 200;
                response.body = options.metrics->Render();
                response.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                return response;
              }});
}

}  // namespace surveyd::api
