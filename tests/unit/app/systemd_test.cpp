#include "app/systemd.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

namespace surveyd::app {
namespace {

// A datagram socket of the test's own, standing in for systemd's.
class NotifySocket {
 public:
  // `abstract`: in Linux's abstract namespace ("@name"), else a file in /tmp.
  explicit NotifySocket(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    const std::string name =
        "surveyd-notify-test-" + std::to_string(getpid()) + "-" + std::to_string(counter_++);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socklen_t length = 0;
    if (abstract) {
      name_ = "@" + name;
      std::memcpy(address.sun_path + 1, name.data(), name.size());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    } else {
      name_ = "/tmp/" + name;
      path_ = name_;
      std::memcpy(address.sun_path, name_.data(), name_.size());
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + 1);
    }
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0) << strerror(errno);
    timeval timeout{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~NotifySocket() {
    close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::string& name() const { return name_; }
  std::string Receive() {
    char buffer[4096];
    const auto n = recv(fd_, buffer, sizeof buffer, 0);
    return n < 0 ? std::string("(nothing)") : std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  static inline int counter_ = 0;
  int fd_ = -1;
  std::string name_;
  std::string path_;
};

TEST(SystemdNotifierTest, SendsToAPathSocket) {
  NotifySocket socket(false);
  const auto notifier = SystemdNotifier::FromEnvironment({{"NOTIFY_SOCKET", socket.name()}});
  ASSERT_TRUE(notifier.enabled());
  EXPECT_TRUE(notifier.Ready("serving"));
  EXPECT_EQ(socket.Receive(), "READY=1\nSTATUS=serving");
  EXPECT_TRUE(notifier.Watchdog());
  EXPECT_EQ(socket.Receive(), "WATCHDOG=1");
  EXPECT_TRUE(notifier.Stopping());
  EXPECT_EQ(socket.Receive(), "STOPPING=1");
}

TEST(SystemdNotifierTest, SendsToAnAbstractSocketAndSaysWhenReloading) {
  NotifySocket socket(true);
  const auto notifier = SystemdNotifier::FromEnvironment({{"NOTIFY_SOCKET", socket.name()}});
  EXPECT_TRUE(notifier.Reloading());
  const std::string message = socket.Receive();
  EXPECT_EQ(message.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << message;
}

TEST(SystemdNotifierTest, OutsideSystemdDoesNothing) {
  const auto notifier = SystemdNotifier::FromEnvironment({});
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.watchdog());
  EXPECT_FALSE(notifier.Ready("x"));
  EXPECT_FALSE(SystemdNotifier::FromEnvironment({{"NOTIFY_SOCKET", "relative"}}).Ready("x"));
  EXPECT_FALSE(
      SystemdNotifier::FromEnvironment({{"NOTIFY_SOCKET", "/nonexistent/sock"}}).Ready("x"));
}

TEST(SystemdNotifierTest, TheWatchdogIsOursOnlyForOurPid) {
  using std::chrono::microseconds;
  EXPECT_EQ(SystemdNotifier::FromEnvironment({{"WATCHDOG_USEC", "3000000"}}).watchdog(),
            microseconds(3000000));
  EXPECT_EQ(SystemdNotifier::FromEnvironment(
                {{"WATCHDOG_USEC", "3000000"}, {"WATCHDOG_PID", std::to_string(getpid())}})
                .watchdog(),
            microseconds(3000000));
  EXPECT_FALSE(SystemdNotifier::FromEnvironment(
                   {{"WATCHDOG_USEC", "3000000"}, {"WATCHDOG_PID", std::to_string(getpid() + 1)}})
                   .watchdog());
  EXPECT_FALSE(SystemdNotifier::FromEnvironment({{"WATCHDOG_USEC", "soon"}}).watchdog());
  EXPECT_FALSE(SystemdNotifier::FromEnvironment({{"WATCHDOG_USEC", "0"}}).watchdog());
}

TEST(StalledLoopsTest, OnlyRunningLoopsOlderThanTheLimit) {
  using namespace std::chrono_literals;
  const Heartbeat::SteadyTime now(1000s);
  const std::vector<LoopProbe> probes = {
      {"dispatcher", [&] { return std::optional(now - 5s); }},
      {"feed", [&] { return std::optional(now - 61s); }},
      {"http", [&] { return std::optional(now - 60s); }},
      {"off", [] { return std::optional<Heartbeat::SteadyTime>(); }},
  };
  EXPECT_EQ(StalledLoops(probes, now, 60s), std::vector<std::string>{"feed"});
  EXPECT_EQ(StalledLoops(probes, now, 1s),
            (std::vector<std::string>{"dispatcher", "feed", "http"}));
}

}  // namespace
}  // namespace surveyd::app
