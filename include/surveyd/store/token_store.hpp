#pragma once
// API bearer tokens as stored: an id, who holds it, a role, and only the hash of the token.
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

struct ApiToken {
  std::string id;    // "tok_..."; never the token itself
  std::string name;  // who or what it was issued to
  std::string role;  // "analyst", "supervisor", "ops", "admin", "safeguarding"
  std::string created_by;
  TimePoint created_at;
  std::optional<TimePoint> last_used_at, revoked_at;
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  virtual void CreateToken(const ApiToken& token, const std::string& token_hash) = 0;
  virtual std::vector<ApiToken> ListTokens() = 0;  // oldest first, revoked ones too
  // False when there is no such token or it was already revoked.
  virtual bool RevokeToken(const std::string& id, TimePoint now) = 0;
  // The token with this hash unless revoked; notes its use (to the minute).
  virtual std::optional<ApiToken> FindActiveToken(const std::string& token_hash, TimePoint now) = 0;
};

}  // namespace surveyd::store
