// `surveyd token create|list|revoke`: API bearer tokens, issued on the host. The token is
// printed once, alone on the last line; only its hash is stored.
#include <iomanip>
#include <ostream>

#include "commands.hpp"
#include "surveyd/api/auth.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/store/pg_analytics.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::app {
namespace {

constexpr const char* kTokenUsage =
    "usage: surveyd token create --role analyst|supervisor|ops|admin|safeguarding --name NAME "
    "[-c FILE]\n"
    "       surveyd token list [-c FILE]\n"
    "       surveyd token revoke ID [-c FILE]\n";

std::string Optional(const std::optional<TimePoint>& t) { return t ? FormatRfc3339(*t) : "-"; }

}  // namespace

int Token(const config::Config& config, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) {
  if (args.empty()) {
    err << kTokenUsage;
    return 2;
  }
  const std::string& action = args[0];
  std::string role_name;
  std::string name;
  std::vector<std::string> rest;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if ((args[i] == "--role" || args[i] == "--name") && i + 1 < args.size()) {
      (args[i] == "--role" ? role_name : name) = args[i + 1];
      ++i;
    } else {
      rest.push_back(args[i]);
    }
  }
  const bool create = action == "create" && rest.empty();
  const bool list = action == "list" && rest.empty() && role_name.empty() && name.empty();
  const bool revoke = action == "revoke" && rest.size() == 1 && role_name.empty() && name.empty();
  if (!create && !list && !revoke) {
    err << kTokenUsage;
    return 2;
  }
  std::optional<api::Role> role;
  if (create) {
    role = api::ParseRole(role_name);
    if (!role) {
      err << "surveyd token create: --role must be analyst, supervisor, ops, admin or "
             "safeguarding\n";
      return 2;
    }
    if (name.empty() || name.size() > 200) {
      err << "surveyd token create: --name is required (who the token is for, at most 200 "
             "characters)\n";
      return 2;
    }
  }
  try {
    if (config.database.migrate_on_start) store::Migrate(config.database.url);
    auto tokens = store::MakePgAccessStore(config.database.url, 1);
    const SystemClock clock;
    if (create) {
      auto issued = api::IssueToken(*role, name, "cli", clock.Now());
      tokens->CreateToken(issued.record, issued.hash);
      out << "id:   " << issued.record.id << "\nrole: " << issued.record.role
          << "\nname: " << issued.record.name
          << "\nThe token is shown once, below; only its hash is stored.\n"
          << issued.secret << "\n";
      return 0;
    }
    if (list) {
      out << std::left << std::setw(22) << "ID" << std::setw(14) << "ROLE" << std::setw(26)
          << "CREATED" << std::setw(26) << "LAST USED" << std::setw(26) << "REVOKED"
          << "NAME\n";
      for (const auto& t : tokens->ListTokens()) {
        out << std::setw(22) << t.id << std::setw(14) << t.role << std::setw(26)
            << FormatRfc3339(t.created_at) << std::setw(26) << Optional(t.last_used_at)
            << std::setw(26) << Optional(t.revoked_at) << t.name << "\n";
      }
      return 0;
    }
    if (!tokens->RevokeToken(rest[0], clock.Now())) {
      err << "surveyd token revoke: no active token " << rest[0] << "\n";
      return 1;
    }
    out << "revoked " << rest[0] << "\n";
    return 0;
  } catch (const std::exception& e) {
    err << "surveyd token " << action << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace surveyd::app
