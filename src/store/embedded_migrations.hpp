#pragma once
// The migrations compiled into the binary; the definition is generated at build time from
// migrations/*.sql (cmake/embed_migrations.cmake).
#include <vector>

namespace surveyd::store::internal {

struct EmbeddedMigration {
  const char* version;  // file name without .sql
  const char* sql;
};

const std::vector<EmbeddedMigration>& EmbeddedMigrations();

}  // namespace surveyd::store::internal
