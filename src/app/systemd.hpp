#pragma once
// The service manager's readiness and watchdog protocol (sd_notify(3)), spoken directly: one
// datagram per message to the unix socket named by $NOTIFY_SOCKET ("@name" is in Linux's abstract
// namespace). Outside systemd (no NOTIFY_SOCKET) every call does nothing.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/heartbeat.hpp"

namespace surveyd::app {

class SystemdNotifier {
 public:
  // NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` (the watchdog is ours only when
  // WATCHDOG_PID is unset or our pid).
  static SystemdNotifier FromEnvironment(const std::map<std::string, std::string>& env);
  static std::map<std::string, std::string> ProcessEnvironment();

  SystemdNotifier() = default;
  SystemdNotifier(std::string socket, std::optional<std::chrono::microseconds> watchdog)
      : socket_(std::move(socket)), watchdog_(watchdog) {}

  bool enabled() const { return !socket_.empty(); }
  // How often systemd expects WATCHDOG=1 at the latest (WatchdogSec=); nullopt when it does not.
  std::optional<std::chrono::microseconds> watchdog() const { return watchdog_; }

  // Sends `state` ("READY=1\nSTATUS=..."). False when it could not be sent (logged).
  bool Notify(const std::string& state) const;

  bool Ready(const std::string& status) const { return Notify("READY=1\nSTATUS=" + status); }
  bool Reloading() const;  // RELOADING=1 with MONOTONIC_USEC, as systemd 253 asks
  bool Stopping() const { return Notify("STOPPING=1"); }
  bool Status(const std::string& status) const { return Notify("STATUS=" + status); }
  bool Watchdog() const { return Notify("WATCHDOG=1"); }

 private:
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_;
};

// A loop the watchdog watches: its last proof of progress, or nullopt while it is not running
// (a component that is off is not stalled).
struct LoopProbe {
  std::string name;  // "dispatcher", "feed", "http"
  std::function<std::optional<Heartbeat::SteadyTime>()> last_progress;
};

// The loops whose last progress is older than `stall_after` at `now`.
std::vector<std::string> StalledLoops(const std::vector<LoopProbe>& probes,
                                      Heartbeat::SteadyTime now,
                                      std::chrono::steady_clock::duration stall_after);

}  // namespace surveyd::app
