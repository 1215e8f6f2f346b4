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

std::string_view BearerToken(const http::Request& request) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view header = request.Header("Authorization");
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return {};
  return header.substr(kBearer.size());
}

}  // namespace surveyd::api
