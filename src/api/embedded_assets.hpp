#pragma once
// The files of web/ compiled into the binary (cmake/embed_assets.cmake): the dashboard and the
// OpenAPI document. The daemon serves them without reading the disk.
#include <string_view>
#include <vector>

namespace surveyd::api::internal {

struct EmbeddedAsset {
  std::string_view path;  // under web/: "dashboard/app.js", "openapi.json"
  std::string_view content;
};

const std::vector<EmbeddedAsset>& EmbeddedAssets();

}  // namespace surveyd::api::internal
