# Writes OUTPUT, a C++ source holding every migrations/*.sql file (sorted by name) as a raw string,
# for store::BuiltinMigrations(). Run with: cmake -DINPUT_DIR=... -DOUTPUT=... -P embed_migrations.cmake
file(GLOB migration_files "${INPUT_DIR}/*.sql")
list(SORT migration_files)
set(body "")
foreach(migration_file ${migration_files})
  get_filename_component(version "${migration_file}" NAME_WE)
  file(READ "${migration_file}" sql)
  string(FIND "${sql}" ")surveyd_sql\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${migration_file} contains the raw-string delimiter )surveyd_sql\"")
  endif()
  string(APPEND body "    {\"${version}\", R\"surveyd_sql(${sql})surveyd_sql\"},\n")
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
# Rewrite only on change, so that an unrelated reconfigure does not rebuild the library.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
