#include "surveyd/core/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace surveyd {
namespace {

using Strings = std::vector<std::string>;
using Group = GroupCommit<std::string, std::string>;

Strings Upper(const Strings& items) {
  Strings out;
  for (const auto& item : items) {
    if (item == "bad") throw std::invalid_argument("bad item");
    std::string upper = item;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.push_back(upper);
  }
  return out;
}

TEST(GroupCommitTest, ACallerAloneIsWrittenAtOnce) {
  Group group(10);
  EXPECT_EQ(group.Submit({"a", "b"}, Upper), (Strings{"A", "B"}));
  EXPECT_EQ(group.writes(), 1u);
}

// The first caller's write is held until three more callers wait; they then go in one write,
// each getting its own results back.
class HeldWrite {
 public:
  explicit HeldWrite(Group& group, std::size_t callers) : group_(group), callers_(callers) {}

  Group::Apply Apply() {
    return [this](const Strings& items) {
      bool first = false;
      {
        std::lock_guard lock(mutex_);
        batches_.push_back(items);
        first = batches_.size() == 1;
      }
      if (first) {
        while (group_.waiting() < callers_) std::this_thread::yield();
      }
      return Upper(items);
    };
  }
  std::vector<Strings> batches() const {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  Group& group_;
  const std::size_t callers_;
  mutable std::mutex mutex_;
  std::vector<Strings> batches_;
};

TEST(GroupCommitTest, CallersWaitingTogetherShareOneWrite) {
  Group group(10);
  HeldWrite held(group, 3);
  const auto apply = held.Apply();
  auto first = std::async(std::launch::async, [&] { return group.Submit({"first"}, apply); });
  while (held.batches().empty()) std::this_thread::yield();
  std::vector<std::future<Strings>> others;
  for (const auto& items : {Strings{"a", "b"}, Strings{"c"}, Strings{"d", "e"}}) {
    others.push_back(
        std::async(std::launch::async, [&, items] { return group.Submit(items, apply); }));
  }
  EXPECT_EQ(first.get(), Strings{"FIRST"});
  std::vector<Strings> results;
  for (auto& other : others) results.push_back(other.get());
  EXPECT_EQ(group.writes(), 2u) << "the three that waited went together";
  ASSERT_EQ(held.batches().size(), 2u);
  EXPECT_EQ(held.batches()[1].size(), 5u);
  EXPECT_EQ(results[0], (Strings{"A", "B"}));
  EXPECT_EQ(results[1], Strings{"C"});
  EXPECT_EQ(results[2], (Strings{"D", "E"}));
}

TEST(GroupCommitTest, ABadRequestFailsAloneAndTheOthersAreWritten) {
  Group group(10);
  HeldWrite held(group, 3);
  const auto apply = held.Apply();
  auto first = std::async(std::launch::async, [&] { return group.Submit({"first"}, apply); });
  while (held.batches().empty()) std::this_thread::yield();
  auto good1 = std::async(std::launch::async, [&] { return group.Submit({"x"}, apply); });
  while (group.waiting() < 1) std::this_thread::yield();
  auto bad = std::async(std::launch::async, [&] { return group.Submit({"y", "bad"}, apply); });
  while (group.waiting() < 2) std::this_thread::yield();
  auto good2 = std::async(std::launch::async, [&] { return group.Submit({"z"}, apply); });
  EXPECT_EQ(first.get(), Strings{"FIRST"});
  EXPECT_EQ(good1.get(), Strings{"X"});
  EXPECT_THROW(bad.get(), std::invalid_argument);
  EXPECT_EQ(good2.get(), Strings{"Z"});
  // The group of three failed, then each was written alone.
  ASSERT_EQ(held.batches().size(), 5u);
  EXPECT_EQ(held.batches()[1], (Strings{"x", "y", "bad", "z"}));
}

TEST(GroupCommitTest, AFailureNoRequestCausedIsNotWrittenAgainRequestByRequest) {
  // The writer's own failure (say, the database is down) fails every request of the group at
  // once: writing each alone would repeat it while the others wait.
  struct Down : std::runtime_error {
    Down() : std::runtime_error("down") {}
  };
  std::atomic<bool> down = false;
  Group group(10, [](const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const Down&) {
      return false;
    } catch (...) {
      return true;
    }
  });
  HeldWrite held(group, 2);
  const auto upper = held.Apply();
  const Group::Apply apply = [&](const Strings& items) {
    auto result = upper(items);
    if (down) throw Down();
    return result;
  };
  auto first = std::async(std::launch::async, [&] { return group.Submit({"first"}, apply); });
  while (held.batches().empty()) std::this_thread::yield();
  auto a = std::async(std::launch::async, [&] { return group.Submit({"a"}, apply); });
  while (group.waiting() < 1) std::this_thread::yield();
  down = true;  // before the first write ends: read by the next write only
  auto b = std::async(std::launch::async, [&] { return group.Submit({"b"}, apply); });
  EXPECT_THROW(first.get(), Down);
  EXPECT_THROW(a.get(), Down);
  EXPECT_THROW(b.get(), Down);
  EXPECT_EQ(held.batches().size(), 2u) << "the group once, no request alone";
}

TEST(GroupCommitTest, AGroupStopsAtTheItemLimit) {
  Group group(3);
  HeldWrite held(group, 3);
  const auto apply = held.Apply();
  auto first = std::async(std::launch::async, [&] { return group.Submit({"first"}, apply); });
  while (held.batches().empty()) std::this_thread::yield();
  std::vector<std::future<Strings>> others;
  for (const auto& items : {Strings{"a", "b"}, Strings{"c"}, Strings{"d", "e", "f", "g"}}) {
    const std::size_t before = group.waiting();
    others.push_back(
        std::async(std::launch::async, [&, items] { return group.Submit(items, apply); }));
    while (group.waiting() == before) std::this_thread::yield();
  }
  first.get();
  EXPECT_EQ(others[2].get(), (Strings{"D", "E", "F", "G"})) << "larger than the limit: alone";
  others[0].get();
  others[1].get();
  ASSERT_EQ(held.batches().size(), 3u);
  EXPECT_EQ(held.batches()[1], (Strings{"a", "b", "c"}));
  EXPECT_EQ(held.batches()[2], (Strings{"d", "e", "f", "g"}));
}

// Many callers at once, groups cut short by the item limit: the writer's turn passes from caller
// to caller, and every caller gets its own results back (none is left waiting: the test ends).
TEST(GroupCommitTest, ManyCallersEachGetTheirOwnResults) {
  Group group(3);
  std::atomic<std::size_t> items_written{0};
  const Group::Apply apply = [&](const Strings& items) {
    items_written += items.size();
    return Upper(items);
  };
  constexpr int kCallers = 8;
  constexpr int kEach = 400;
  std::vector<std::future<int>> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.push_back(std::async(std::launch::async, [&, c] {
      int wrong = 0;
      for (int i = 0; i < kEach; ++i) {
        Strings items;
        for (int k = 0; k <= i % 3; ++k) {
          items.push_back("c" + std::to_string(c) + "i" + std::to_string(i) + "k" +
                          std::to_string(k));
        }
        if (group.Submit(items, apply) != Upper(items)) ++wrong;
      }
      return wrong;
    }));
  }
  for (auto& caller : callers) EXPECT_EQ(caller.get(), 0);
  EXPECT_EQ(group.waiting(), 0u);
  EXPECT_LE(group.writes(), static_cast<std::size_t>(kCallers * kEach));
  EXPECT_EQ(items_written.load(), static_cast<std::size_t>(kCallers * (kEach / 3 * 6 + 1)));
}

TEST(GroupCommitTest, ResultsMiscountedAreAnError) {
  Group group(10);
  EXPECT_THROW(group.Submit({"a", "b"}, [](const Strings&) { return Strings{"A"}; }),
               std::logic_error);
}

}  // namespace
}  // namespace surveyd
