#pragma once
// Shared by the route files of src/api: each adds its audience's routes to the table.
#include <optional>
#include <string>
#include <string_view>

#include "surveyd/api/api.hpp"

namespace surveyd::api {

void AddHealthRoutes(Router& router, const ApiOptions& options);     // health_routes.cpp
void AddFeedRoutes(Router& router, const ApiOptions& options);       // feed_routes.cpp
void AddGatewayRoutes(Router& router, const ApiOptions& options);    // gateway_routes.cpp
void AddStatsRoutes(Router& router, const ApiOptions& options);      // stats_routes.cpp
void AddResponsesRoutes(Router& router, const ApiOptions& options);  // responses_routes.cpp
void AddOpsRoutes(Router& router, const ApiOptions& options);        // ops_routes.cpp
void AddAdminRoutes(Router& router, const ApiOptions& options);      // admin_routes.cpp
void AddDocsRoutes(Router& router, const ApiOptions& options);       // docs_routes.cpp
void AddMetricsRoutes(Router& router, const ApiOptions& options);    // metrics_routes.cpp

// Alerts (alerts_routes.cpp) and recognition (recognition_routes.cpp).
void AddAlertRoutes(Router& router, const ApiOptions& options);
void AddRecognitionRoutes(Router& router, const ApiOptions& options);

// GET /healthz: answered without the database, the pool or any lock (also on the server's I/O
// threads, by MakeApiFastHandler), so a load balancer sees the process alive while every worker
// is busy.
http::Response Alive();

// Now on the API's clock (ApiOptions::clock), or the system's where none is set.
TimePoint ApiNow(const ApiOptions& options);

// {"error": code, "message": message}
http::Response JsonError(int status, std::string_view code, std::string_view message);

// The JSON body's text field `name` (trimmed; "" when the body is empty or lacks it); nullopt
// with `error` set when the body is not a JSON object, the field is not text, or it is longer
// than 2,000 characters.
std::optional<std::string> BodyText(const http::Request& request, const char* name,
                                    std::string& error);
// The JSON body's true/false field `name` (false when the body is empty or lacks it); nullopt
// with `error` set as for BodyText.
std::optional<bool> BodyFlag(const http::Request& request, const char* name, std::string& error);

// The "<timestamp>.<body>" HMAC that the feed push carries, at most 5 minutes old either way.
// (Gateway adapters check their own callbacks.)
bool SignatureValid(const http::Request& request, std::string_view secret,
                    std::string_view timestamp_header, std::string_view signature_header,
                    TimePoint now);

}  // namespace surveyd::api
