#pragma once
// Opening a connection to PostgreSQL: every connection the store makes goes through here, so a
// failure reads the same everywhere and never repeats the URL, which may hold a password.
#include <memory>
#include <pqxx/connection>
#include <string>

namespace surveyd::store {

// A new connection to `url`. Throws Unavailable("cannot connect to the database at HOST:PORT:
// WHY") when the server cannot be reached or refuses: where libpq tried (a host and port, or a
// socket) and why, from a list of known causes (refused, unknown host, no such database,
// authentication...). libpq's own message is never repeated: it quotes a malformed URL back,
// password and all.
std::unique_ptr<pqxx::connection> Connect(const std::string& url);

}  // namespace surveyd::store
