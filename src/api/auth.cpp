#include "surveyd/api/auth.hpp"

#include <array>
#include <utility>

#include "surveyd/core/crypto.hpp"

namespace surveyd::api {
namespace {

constexpr std::array<std::pair<Role, const char*>, 5> kRoleNames = {{
    {Role::kAnalyst, "analyst"},
    {Role::kSupervisor, "supervisor"},
    {Role::kOps, "ops"},
    {Role::kAdmin, "admin"},
    {Role::kSafeguarding, "safeguarding"},
}};

class StaticAuthenticator final : public Authenticator {
 public:
  StaticAuthenticator(std::string token, Principal principal)
      : token_(std::move(token)), principal_(std::move(principal)) {}

  std::optional<Principal> Authenticate(std::string_view token) override {
    if (token_.empty() || !crypto::ConstantTimeEquals(token, token_)) return std::nullopt;
    return principal_;
  }

 private:
  const std::string token_;
  const Principal principal_;
};

class StoreAuthenticator final : public Authenticator {
 public:
  StoreAuthenticator(store::TokenStore& tokens, const Clock& clock, std::string bootstrap)
      : tokens_(tokens), clock_(clock), bootstrap_(std::move(bootstrap)) {}

  std::optional<Principal> Authenticate(std::string_view token) override {
    if (!bootstrap_.empty() && crypto::ConstantTimeEquals(token, bootstrap_)) {
      return Principal{"bootstrap", "api.bootstrap_token", Role::kAdmin};
    }
    // Looked up by hash: the database never sees the token, and the comparison is the index's.
    auto found = tokens_.FindActiveToken(TokenHash(token), clock_.Now());
    if (!found) return std::nullopt;
    const auto role = ParseRole(found->role);
    if (!role) return std::nullopt;  // a role this build does not know grants nothing
    return Principal{found->id, found->name, *role};
  }

 private:
  store::TokenStore& tokens_;
  const Clock& clock_;
  const std::string bootstrap_;
};

}  // namespace

const char* RoleName(Role role) {
  for (const auto& [value, name] : kRoleNames) {
    if (value == role) return name;
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (const auto& [value, text] : kRoleNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool Grants(Role held, Role needed) {
  if (held == needed) return true;
  switch (held) {
    case Role::kSupervisor:
      return needed == Role::kAnalyst;
    case Role::kAdmin:
      // An administrator runs the service, but revealing a citizen's number stays with
      // safeguarding staff.
      return needed != Role::kSafeguarding;
    default:
      return false;
  }
}

std::unique_ptr<Authenticator> MakeStaticAuthenticator(std::string token, Principal principal) {
  return std::make_unique<StaticAuthenticator>(std::move(token), std::move(principal));
}

std::unique_ptr<Authenticator> MakeStoreAuthenticator(store::TokenStore& tokens, const Clock& clock,
                                                      std::string bootstrap_token) {
  return std::make_unique<StoreAuthenticator>(tokens, clock, std::move(bootstrap_token));
}

std::string TokenHash(std::string_view secret) { return crypto::Sha256Hex(secret); }

IssuedToken IssueToken(Role role, std::string name, std::string created_by, TimePoint now) {
  IssuedToken issued;
  issued.secret = "svd_" + crypto::Base64Url(crypto::RandomBytes(32));
  issued.hash = TokenHash(issued.secret);
  issued.record.id = "tok_" + crypto::Hex(crypto::RandomBytes(8));
  issued.record.name = std::move(name);
  issued.record.role = RoleName(role);
  issued.record.created_by = std::move(created_by);
  issued.record.created_at = now;
  return issued;
}

std::string_view BearerToken(const http::Request& request) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view header = request.Header("Authorization");
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return {};
  return header.substr(kBearer.size());
}

}  // namespace surveyd::api
