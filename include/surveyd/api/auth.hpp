#pragma once
// Who is calling the API and what their role lets them do. Bearer tokens are checked by an
// Authenticator: the seam between the routes and wherever tokens are kept.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "surveyd/http/message.hpp"

namespace surveyd::api {

enum class Role {
  kAnalyst,       // aggregates and comments
  kSupervisor,    // also per-officer and per-operator breakdowns
  kOps,           // rules, health, message status
  kAdmin,         // tokens
  kSafeguarding,  // alerts, and revealing a number to call back
};
const char* RoleName(Role role);  // "analyst", ...
std::optional<Role> ParseRole(std::string_view name);

// Whether a caller holding `held` may use a route that needs `needed`.
bool Grants(Role held, Role needed);

struct Principal {
  std::string id;    // stable id of the token (never the token itself)
  std::string name;  // who it was issued to, for the audit trail
  Role role = Role::kAnalyst;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The principal behind a bearer token; nullopt when the token is unknown or revoked.
  virtual std::optional<Principal> Authenticate(std::string_view token) = 0;
};

// One fixed token (compared in constant time), for a bootstrap administrator.
std::unique_ptr<Authenticator> MakeStaticAuthenticator(std::string token, Principal principal);

// The token of an "Authorization: Bearer ..." header; empty when there is none.
std::string_view BearerToken(const http::Request& request);

}  // namespace surveyd::api
