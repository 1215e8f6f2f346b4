# Writes OUTPUT, a C++ source holding every migrations/*.sql file (sorted by name) as a raw string,
# for store::BuiltinMigrations(). Run with: cmake -DINPUT_DIR=... -DOUTPUT=... -P embed_migrations.cmake
include(${CMAKE_CURRENT_LIST_DIR}/embed.cmake)
file(GLOB migration_files "${INPUT_DIR}/*.sql")
list(SORT migration_files)
set(body "")
foreach(migration_file ${migration_files})
  get_filename_component(version "${migration_file}" NAME_WE)
  embed_file(body "${version}" "${migration_file}" surveyd_sql)
endforeach()
set(content "// Generated from migrations/*.sql by cmake/embed_migrations.cmake. Do not edit.
#include \"store/embedded_migrations.hpp\"

namespace surveyd::store::internal {

const std::vector<EmbeddedMigration>& EmbeddedMigrations() {
  static const std::vector<EmbeddedMigration> migrations = {
${body}  };
  return migrations;
}

}  // namespace surveyd::store::internal
")
embed_write_if_changed("${OUTPUT}" "${content}")
