#include "app/systemd.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

extern char** environ;

namespace surveyd::app {

SystemdNotifier SystemdNotifier::FromEnvironment(const std::map<std::string, std::string>& env) {
  auto get = [&](const char* name) {
    auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  std::optional<std::chrono::microseconds> watchdog;
  const std::string usec = get("WATCHDOG_USEC");
  const std::string pid = get("WATCHDOG_PID");
  if (!usec.empty() && (pid.empty() || pid == std::to_string(getpid()))) {
    try {
      const long long value = std::stoll(usec);
      if (value > 0) watchdog = std::chrono::microseconds(value);
    } catch (const std::exception&) {
      spdlog::warn("systemd: WATCHDOG_USEC is not a number; the watchdog is not fed");
    }
  }
  return SystemdNotifier(get("NOTIFY_SOCKET"), watchdog);
}

std::map<std::string, std::string> SystemdNotifier::ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = text.substr(0, eq);
    if (name == "NOTIFY_SOCKET" || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID") {
      env.emplace(name, text.substr(eq + 1));
    }
  }
  return env;
}

bool SystemdNotifier::Notify(const std::string& state) const {
  if (socket_.empty()) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof address.sun_path || (socket_[0] != '/' && socket_[0] != '@')) {
    spdlog::warn("systemd: NOTIFY_SOCKET is not a unix socket path; not notifying");
    return false;
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') address.sun_path[0] = '\0';  // abstract namespace: no terminating NUL
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() +
                                             (socket_[0] == '@' ? 0 : 1));
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    spdlog::warn("systemd: cannot open a socket to notify: {}", std::strerror(errno));
    return false;
  }
  const auto sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&address), length);
  const int error = errno;
  close(fd);
  if (sent < 0) {
    spdlog::warn("systemd: notification not sent: {}", std::strerror(error));
    return false;
  }
  return true;
}

bool SystemdNotifier::Reloading() const {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  return Notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

std::vector<std::string> StalledLoops(const std::vector<LoopProbe>& probes,
                                      Heartbeat::SteadyTime now,
                                      std::chrono::steady_clock::duration stall_after) {
  std::vector<std::string> stalled;
  for (const auto& probe : probes) {
    const auto last = probe.last_progress();
    if (last && now - *last > stall_after) stalled.push_back(probe.name);
  }
  return stalled;
}

}  // namespace surveyd::app
