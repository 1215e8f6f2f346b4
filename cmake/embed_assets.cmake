# Writes OUTPUT, a C++ source holding every file under INPUT_DIR (web/: the dashboard and the
# OpenAPI document) as a raw string, named by its path under INPUT_DIR, for api's
# EmbeddedAssets(). Nothing is read from disk at run time. Run with:
#   cmake -DINPUT_DIR=... -DOUTPUT=... -P embed_assets.cmake
file(GLOB_RECURSE asset_files RELATIVE "${INPUT_DIR}" "${INPUT_DIR}/*")
list(SORT asset_files)
set(body "")
foreach(asset ${asset_files})
  # Editors' and test leftovers are not assets.
  if(asset MATCHES "(^|/)(\\.|node_modules/)|~$")
    continue()
  endif()
  file(READ "${INPUT_DIR}/${asset}" content)
  string(FIND "${content}" ")surveyd_asset\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${asset} contains the raw-string delimiter )surveyd_asset\"")
  endif()
  string(APPEND body "    {\"${asset}\", R\"surveyd_asset(${content})surveyd_asset\"},\n")
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
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
