#include "surveyd/metrics/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace surveyd::metrics {
namespace {

constexpr std::size_t kBlock = 64 << 20;

// Under AddressSanitizer the allocator is the sanitizer's, which tells mallinfo2 nothing: the
// heap's figures are then unreadable, and left out rather than shown as zero.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kGlibcHeap = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kGlibcHeap = false;
#else
constexpr bool kGlibcHeap = true;
#endif
#else
constexpr bool kGlibcHeap = true;
#endif

TEST(ProcessMetricsTest, HeapInUseAndResidentFollowAnAllocationAndItsFree) {
  const ProcessSample before = SampleProcess();
  ASSERT_TRUE(before.resident_bytes);
  auto block = std::make_unique<char[]>(kBlock);
  std::memset(block.get(), 1, kBlock);  // touched, so resident
  const ProcessSample during = SampleProcess();
  EXPECT_GE(*during.resident_bytes - *before.resident_bytes, kBlock * 0.9);
  EXPECT_GE(*during.virtual_bytes, *during.resident_bytes);
  block.reset();
  const ProcessSample after = SampleProcess();
  ASSERT_EQ(before.heap_in_use_bytes.has_value(), kGlibcHeap);
  ASSERT_EQ(during.heap_held_bytes.has_value(), kGlibcHeap);
  if (!kGlibcHeap) return;  // said above: no heap figures under the sanitizer's allocator
  EXPECT_GE(*during.heap_in_use_bytes - *before.heap_in_use_bytes, kBlock);
  EXPECT_GE(*during.heap_held_bytes, *during.heap_in_use_bytes);
  EXPECT_LT(*after.heap_in_use_bytes, *during.heap_in_use_bytes - kBlock * 0.9);
}

TEST(ProcessMetricsTest, OpenFileDescriptorsCountOneMoreWhileAFileIsOpen) {
  const ProcessSample before = SampleProcess();
  ASSERT_TRUE(before.open_fds);
  ASSERT_TRUE(before.max_fds);
  const int fd = open("/proc/self/statm", O_RDONLY);
  ASSERT_GE(fd, 0);
  const ProcessSample during = SampleProcess();
  close(fd);
  EXPECT_EQ(*during.open_fds, *before.open_fds + 1);
  EXPECT_EQ(*SampleProcess().open_fds, *before.open_fds);
  EXPECT_GT(*before.max_fds, *before.open_fds);
}

TEST(ProcessMetricsTest, RenderedWithEveryScrapesFigures) {
  Registry registry;
  AddProcessMetrics(registry);
  const std::string first = registry.Render();
  for (const char* name : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_open_fds", "process_max_fds"}) {
    EXPECT_NE(first.find(std::string("# TYPE ") + name + " gauge\n"), std::string::npos) << name;
  }
  for (const char* name : {"surveyd_heap_in_use_bytes", "surveyd_heap_held_bytes"}) {
    EXPECT_EQ(first.find(std::string("# TYPE ") + name + " gauge\n") != std::string::npos,
              kGlibcHeap)
        << name;
  }
  // Read again at each scrape, not once at registration.
  auto value = [](const std::string& text, const std::string& name) {
    const auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
  };
  const double open_before = value(first, "process_open_fds");
  ASSERT_GT(open_before, 0);
  const int fd = open("/proc/self/statm", O_RDONLY);
  ASSERT_GE(fd, 0);
  const std::string second = registry.Render();
  close(fd);
  EXPECT_EQ(value(second, "process_open_fds"), open_before + 1);
  if (kGlibcHeap) {
    EXPECT_GT(value(second, "surveyd_heap_in_use_bytes"), 0);
  }
}

}  // namespace
}  // namespace surveyd::metrics
