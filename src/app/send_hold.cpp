// `surveyd sends hold|release|status`: ops stop every text to the public, on every instance, and
// start them again (store::OpsStore: the hold is a row that each claim checks).
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <ostream>
#include <string_view>

#include "commands.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::app {
namespace {

constexpr const char* kSendsUsage =
    "usage: surveyd sends status [-c FILE]\n"
    "       surveyd sends hold --reason TEXT [-c FILE]\n"
    "       surveyd sends release [--note TEXT] [--cancel-waiting] [-c FILE]\n";

// Who ran the command, for the record: the login behind sudo, else the user.
std::string CommandUser() {
  for (const char* name : {"SUDO_USER", "USER", "LOGNAME"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      return std::string("cli:") + value;
    }
  }
  if (const passwd* entry = getpwuid(geteuid()); entry != nullptr) {
    return std::string("cli:") + entry->pw_name;
  }
  return "cli";
}

void PrintHold(const store::SendHold& hold, std::ostream& out) {
  out << "every text is held (hold " << hold.id << ") since " << FormatRfc3339(hold.held_at)
      << ", by " << hold.held_by << ": " << hold.reason << "\n"
      << "but where to get help (replies.help_now) still goes: it answers a citizen who just "
         "texted that they are in danger\n";
}

}  // namespace

int Sends(const config::Config& config, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) {
  if (args.empty()) {
    err << kSendsUsage;
    return 2;
  }
  const std::string& action = args[0];
  std::string reason;
  std::string note;
  bool cancel_waiting = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (action == "hold" && args[i] == "--reason" && i + 1 < args.size()) {
      reason = args[++i];
    } else if (action == "release" && args[i] == "--note" && i + 1 < args.size()) {
      note = args[++i];
    } else if (action == "release" && args[i] == "--cancel-waiting") {
      cancel_waiting = true;
    } else {
      err << "surveyd sends " << action << ": unexpected argument '" << args[i] << "'\n"
          << kSendsUsage;
      return 2;
    }
  }
  if (action != "status" && action != "hold" && action != "release") {
    err << kSendsUsage;
    return 2;
  }
  if (action == "hold" && reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    err << "surveyd sends hold: say why with --reason TEXT (it is recorded and shown to ops)\n";
    return 2;
  }
  try {
    auto store = store::MakePgStore(StoreOptions(config, 1, nullptr));
    if (action == "status") {
      if (const auto hold = store->ActiveSendHold()) {
        PrintHold(*hold, out);
      } else {
        out << "texts are going out: no hold is open\n";
      }
      return 0;
    }
    if (action == "hold") {
      const store::HoldOutcome outcome = store->HoldSends(reason, CommandUser());
      if (outcome.already_held) out << "already held; nothing changed\n";
      PrintHold(outcome.hold, out);
      out << "no other text will begin on any instance until `surveyd sends release`";
      if (outcome.in_flight > 0) {
        out << "; " << outcome.in_flight
            << " already handed to the gateway may still arrive (their requests were under way)";
      }
      out << "\nevents are still taken and decided; texts falling due wait, and expire past "
             "their deadline\n";
      return 0;
    }
    const store::ReleaseOutcome outcome =
        store->ReleaseSends(CommandUser(), note, cancel_waiting, SystemClock().Now());
    if (!outcome.released) {
      out << "no hold is open; nothing changed\n";
      return 1;
    }
    out << "released hold " << outcome.released->id << " (held since "
        << FormatRfc3339(outcome.released->held_at) << ": " << outcome.released->reason << ")\n";
    if (cancel_waiting) {
      out << outcome.cancelled << " waiting text(s) cancelled (held_by_ops)\n";
    }
    out << "texts are going out again\n";
    return 0;
  } catch (const std::exception& e) {
    err << "surveyd sends " << action << ": " << e.what() << "\n";
    // lock_not_available: the hold waits for the claims under way, 10 s at most.
    if (std::string_view(e.what()).find("55P03") != std::string_view::npos) {
      err << "a dispatcher's claim was still deciding after 10 s; nothing changed: try again\n";
    }
    return 1;
  }
}

}  // namespace surveyd::app
