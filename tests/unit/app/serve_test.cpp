#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/commands.hpp"

namespace surveyd::app {
namespace {

// What a process saw of itself after KeepMemoryPrivate.
struct Seen {
  long core_allowed_before = 0;  // the soft core limit it started with, raised as far as it goes
  long dumpable = -1;            // prctl(PR_GET_DUMPABLE)
  long core_soft = -1, core_hard = -1;
  long done = 0;  // KeepMemoryPrivate said "" (all done)
};

// In a child of its own: the test process stays dumpable, with its own limits.
Seen InAChild(bool dumpable) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Seen seen;
    // As a shell with `ulimit -c unlimited` would start it: cores allowed.
    rlimit limit{};
    getrlimit(RLIMIT_CORE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_CORE, &limit);
    getrlimit(RLIMIT_CORE, &limit);
    seen.core_allowed_before = limit.rlim_cur > 0 ? 1 : 0;
    seen.done = KeepMemoryPrivate(dumpable).empty() ? 1 : 0;
    seen.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    getrlimit(RLIMIT_CORE, &limit);
    seen.core_soft = static_cast<long>(limit.rlim_cur);
    seen.core_hard = static_cast<long>(limit.rlim_max);
    const auto written = write(fds[1], &seen, sizeof seen);
    _exit(written == static_cast<ssize_t>(sizeof seen) ? 0 : 1);
  }
  close(fds[1]);
  Seen seen;
  EXPECT_EQ(read(fds[0], &seen, sizeof seen), static_cast<ssize_t>(sizeof seen));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return seen;
}

// A core of serve would hold every secret and what it decrypted: none is written, and by
// default no other process of the same user can read its memory either.
TEST(Serve, KeepsItsMemoryOutOfCoreDumps) {
  const Seen seen = InAChild(/*dumpable=*/false);
  ASSERT_EQ(seen.core_allowed_before, 1) << "the test needs a hard core limit above 0";
  EXPECT_EQ(seen.done, 1);
  EXPECT_EQ(seen.dumpable, 0);
  EXPECT_EQ(seen.core_soft, 0);
  EXPECT_EQ(seen.core_hard, 0) << "nothing it runs may raise it again";
}

// service.dumpable (benchmarks, fault tests reading /proc/PID as the same user): still no core.
TEST(Serve, DumpableForWhatMeasuresItStillWritesNoCore) {
  const Seen seen = InAChild(/*dumpable=*/true);
  EXPECT_EQ(seen.done, 1);
  EXPECT_EQ(seen.dumpable, 1);
  EXPECT_EQ(seen.core_soft, 0);
}

}  // namespace
}  // namespace surveyd::app
