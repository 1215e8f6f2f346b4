#include "store/connect.hpp"

#include <regex>
#include <string_view>
#include <utility>

#include "surveyd/store/store.hpp"

namespace surveyd::store {
namespace {

// Where libpq tried, as its message says it once it has read the URL: a server's host and port,
// or a local socket. Nothing else of the message is repeated.
std::string ConnectTarget(const std::string& message) {
  static const std::regex kServer(R"re(server at "([^"]+)", port ([0-9]+))re");
  static const std::regex kSocket(R"re(server on socket "([^"]+)")re");
  std::smatch match;
  if (std::regex_search(message, match, kServer)) {
    return " at " + match[1].str() + ":" + match[2].str();
  }
  if (std::regex_search(message, match, kSocket)) return " on socket " + match[1].str();
  return "";
}

// Why a connection failed, in words ops can act on, from libpq's message.
std::string ConnectFailure(std::string_view message) {
  static constexpr std::pair<std::string_view, std::string_view> kCauses[] = {
      // The URL itself (database.url), before any server is tried.
      {"invalid sslmode value",
       "the database URL's sslmode is not one of disable, allow, prefer, require, verify-ca, "
       "verify-full"},
      {"invalid port number", "the database URL's port is not a number"},
      {"invalid integer value", "a number in the database URL is not a number"},
      {"invalid connection option", "the database URL has an option libpq does not know"},
      {"invalid URI query parameter", "the database URL has an option libpq does not know"},
      {"missing \"=\"", "the database URL cannot be read (postgresql://USER@HOST:PORT/DATABASE)"},
      {"invalid URI", "the database URL cannot be read (postgresql://USER@HOST:PORT/DATABASE)"},
      {"invalid percent-encoded token",
       "the database URL has a % not followed by two hex digits (write % as %25)"},
      {"unterminated quoted string",
       "the database URL cannot be read (postgresql://USER@HOST:PORT/DATABASE)"},
      {"Connection refused", "connection refused (is PostgreSQL listening there?)"},
      {"No such file or directory", "no server there (is PostgreSQL running?)"},
      {"timeout expired", "timed out"},
      {"could not translate host name", "unknown host name"},
      {"password authentication failed", "password authentication failed"},
      {"no password supplied", "the server wants a password and none was given"},
      {"no pg_hba.conf entry", "refused by the server's pg_hba.conf"},
      {"does not exist", "the database or the role does not exist"},
      {"too many clients", "the server has no connection slot free"},
      {"starting up", "the server is starting up"},
      {"shutting down", "the server is shutting down"},
      {"recovery mode", "the server is recovering"},
      {"SSL", "TLS failed"},
  };
  for (const auto& [needle, cause] : kCauses) {
    if (message.find(needle) != std::string_view::npos) return ": " + std::string(cause);
  }
  return "";
}

}  // namespace

std::unique_ptr<pqxx::connection> Connect(const std::string& url) {
  try {
    return std::make_unique<pqxx::connection>(url);
  } catch (const std::exception& e) {
    throw Unavailable("cannot connect to the database" + ConnectTarget(e.what()) +
                      ConnectFailure(e.what()));
  }
}

}  // namespace surveyd::store
