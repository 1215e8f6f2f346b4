#pragma once
// Who is calling the API and what their role lets them do. Bearer tokens are checked by an
// Authenticator: the seam between the routes and wherever tokens are kept.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "surveyd/core/clock.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/store/token_store.hpp"

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

// Tokens issued with `surveyd token create` (or POST /api/v1/tokens), looked up by their hash,
// and, when `bootstrap_token` is not empty, that one token as an administrator (id "bootstrap"),
// so that a new installation can issue the first tokens. Throws store::Unavailable when the
// store is down.
std::unique_ptr<Authenticator> MakeStoreAuthenticator(store::TokenStore& tokens, const Clock& clock,
                                                      std::string bootstrap_token);

// A new token: the secret ("svd_" and 43 base64url characters, 256 random bits) is shown once;
// the store keeps the record and the hash.
struct IssuedToken {
  store::ApiToken record;
  std::string secret;
  std::string hash;
};
IssuedToken IssueToken(Role role, std::string name, std::string created_by, TimePoint now);
std::string TokenHash(std::string_view secret);  // SHA-256, hex

// The token of an "Authorization: Bearer ..." header; empty when there is none.
std::string_view BearerToken(const http::Request& request);

}  // namespace surveyd::api
