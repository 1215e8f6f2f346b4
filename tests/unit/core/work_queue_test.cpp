#include "surveyd/core/work_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace surveyd {
namespace {

TEST(WorkQueue, RunsTheJobOnAWorkerAndWaitsForIt) {
  WorkQueue queue(2, 1);
  std::thread::id ran_on;
  EXPECT_TRUE(queue.Run([&] { ran_on = std::this_thread::get_id(); }));
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_EQ(queue.InFlight(), 0u);
}

TEST(WorkQueue, HandsExceptionsBack) {
  WorkQueue queue(1, 0);
  EXPECT_THROW(queue.Run([] { throw std::runtime_error("boom"); }), std::runtime_error);
  EXPECT_TRUE(queue.Run([] {})) << "the worker survives";
}

TEST(WorkQueue, RefusesWhenEveryWorkerAndWaitingPlaceIsTaken) {
  WorkQueue queue(1, 1);
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  auto block = [&] {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return release; });
  };
  std::thread first([&] { EXPECT_TRUE(queue.Run(block)); });
  std::thread second([&] {
    while (queue.InFlight() < 1) std::this_thread::yield();
    EXPECT_TRUE(queue.Run(block));
  });
  while (queue.InFlight() < 2) std::this_thread::yield();
  bool ran = false;
  EXPECT_FALSE(queue.Run([&] { ran = true; }));
  EXPECT_FALSE(ran);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  first.join();
  second.join();
  EXPECT_TRUE(queue.Run([&] { ran = true; }));
  EXPECT_TRUE(ran);
  queue.Stop();
  EXPECT_FALSE(queue.Run([] {})) << "stopped";
}

}  // namespace
}  // namespace surveyd
