# Writes OUTPUT, a C++ source holding every file under INPUT_DIR (web/: the dashboard and the
# OpenAPI document) as a raw string, named by its path under INPUT_DIR, for api's
# EmbeddedAssets(). Nothing is read from disk at run time. Run with:
#   cmake -DINPUT_DIR=... -DOUTPUT=... -P embed_assets.cmake
include(${CMAKE_CURRENT_LIST_DIR}/embed.cmake)
file(GLOB_RECURSE asset_files RELATIVE "${INPUT_DIR}" "${INPUT_DIR}/*")
list(SORT asset_files)
set(body "")
foreach(asset ${asset_files})
  # Editors' and test leftovers are not assets.
  if(asset MATCHES "(^|/)(\\.|node_modules/)|~$")
    continue()
  endif()
  embed_file(body "${asset}" "${INPUT_DIR}/${asset}" surveyd_asset)
endforeach()
set(content "// Generated from web/ by cmake/embed_assets.cmake. Do not edit.
#include \"api/embedded_assets.hpp\"

namespace surveyd::api::internal {

const std::vector<EmbeddedAsset>& EmbeddedAssets() {
  static const std::vector<EmbeddedAsset> assets = {
${body}  };
  return assets;
}

}  // namespace surveyd::api::internal
")
embed_write_if_changed("${OUTPUT}" "${content}")
