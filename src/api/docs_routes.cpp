// What the daemon serves from web/, compiled in: the OpenAPI document of this API
// (GET /api/v1/openapi.json) and the dashboard (GET /dashboard, /dashboard/...). Both public:
// the dashboard asks for a token and holds no data of its own.
#include <algorithm>

#include "api/embedded_assets.hpp"
#include "routes.hpp"

namespace surveyd::api {
namespace {

// Scripts and styles from this origin only, no inline code, data only from this API.
constexpr const char* kDashboardPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const internal::EmbeddedAsset* FindAsset(std::string_view path) {
  const auto& assets = internal::EmbeddedAssets();
  const auto it = std::find_if(assets.begin(), assets.end(),
                               [&](const auto& asset) { return asset.path == path; });
  return it == assets.end() ? nullptr : &*it;
}

const char* ContentType(std::string_view path) {
  auto ends = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

http::Response Asset(std::string_view path) {
  const auto* asset = FindAsset(path);
  if (asset == nullptr) {
    return http::Response::Json(404, R"({"error":"not_found","message":"no such file"})");
  }
  http::Response response;
  response.status = 200;
  response.body = std::string(asset->content);
  response.Set("Content-Type", ContentType(path));
  response.Set("Content-Security-Policy", kDashboardPolicy);
  // Small, and changes with every build: always fresh.
  response.Set("Cache-Control", "no-cache");
  return response;
}

}  // namespace

void AddDocsRoutes(Router& router, const ApiOptions&) {
  router.Add({"GET", "/api/v1/openapi.json", std::nullopt, "",
              [](const Call&) { return Asset("openapi.json"); }});
  for (const char* path : {"/dashboard", "/dashboard/"}) {
    router.Add({"GET", path, std::nullopt, "/dashboard",
                [](const Call&) { return Asset("dashboard/index.html"); }});
  }
  router.Add({"GET", "/dashboard/{*file}", std::nullopt, "/dashboard/{file}", [](const Call& call) {
                const std::string_view file = call.Param("file");
                // Only files directly in web/dashboard/: no "..", no subfolders.
                if (file.find('/') != std::string_view::npos || file.find("..") == 0) {
                  return http::Response::Json(404, R"({"error":"not_found"})");
                }
                return Asset("dashboard/" + std::string(file));
              }});
}

}  // namespace surveyd::api
