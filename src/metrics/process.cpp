#include "surveyd/metrics/process.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace surveyd::metrics {

namespace {

// /proc/self/statm: sizes in pages, the whole address space then the resident part.
void ReadMemory(ProcessSample& sample) {
  std::ifstream statm("/proc/self/statm");
  double size_pages = 0;
  double resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return;
  const auto page = static_cast<double>(sysconf(_SC_PAGESIZE));
  sample.virtual_bytes = size_pages * page;
  sample.resident_bytes = resident_pages * page;
}

void ReadFileDescriptors(ProcessSample& sample) {
  std::error_code error;
  std::filesystem::directory_iterator fds("/proc/self/fd", error);
  if (error) return;
  double open = 0;
  for (auto it = fds; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return;
    ++open;
  }
  sample.open_fds = open - 1;  // less the one this listing holds open
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    sample.max_fds = static_cast<double>(limit.rlim_cur);
  }
}

}  // namespace

ProcessSample SampleProcess() {
  ProcessSample sample;
  ReadMemory(sample);
  ReadFileDescriptors(sample);
  // Summed over every arena (each locked in turn: fine at a scrape's pace, not on a hot path).
  const struct mallinfo2 heap = mallinfo2();
  // glibc's main arena exists from the first allocation on; all zeros is another allocator.
  if (heap.arena + heap.hblkhd > 0) {
    sample.heap_in_use_bytes = static_cast<double>(heap.uordblks + heap.hblkhd);
    sample.heap_held_bytes = static_cast<double>(heap.arena + heap.hblkhd);
  }
  return sample;
}

void AddProcessMetrics(Registry& registry) {
  const ProcessSample first = SampleProcess();
  // Only what this system lets us read: a gauge that could never be read would show 0.
  auto readable_gauge = [&registry](const std::optional<double>& readable, const char* name,
                                    const char* help) -> Gauge* {
    return readable ? &registry.Gauges(name, help).With({}) : nullptr;
  };
  Gauge* resident = readable_gauge(first.resident_bytes, "process_resident_memory_bytes",
                                   "Resident memory size in bytes.");
  Gauge* virtual_memory = readable_gauge(first.virtual_bytes, "process_virtual_memory_bytes",
                                         "Virtual memory size in bytes.");
  Gauge* open_fds = readable_gauge(first.open_fds, "process_open_fds", "Open file descriptors.");
  Gauge* max_fds =
      readable_gauge(first.max_fds, "process_max_fds", "The most file descriptors allowed.");
  Gauge* in_use = readable_gauge(first.heap_in_use_bytes, "surveyd_heap_in_use_bytes",
                                 "Heap allocated and not yet freed. Climbing without end: a leak.");
  Gauge* held = readable_gauge(first.heap_held_bytes, "surveyd_heap_held_bytes",
                               "Heap the allocator holds from the system, in use or kept after a "
                               "free for the next allocation (each thread's arena keeps its "
                               "high-water mark).");
  registry.OnCollect([=] {
    const ProcessSample now = SampleProcess();
    auto set = [](Gauge* target, const std::optional<double>& value) {
      if (target != nullptr && value) target->Set(*value);
    };
    set(resident, now.resident_bytes);
    set(virtual_memory, now.virtual_bytes);
    set(open_fds, now.open_fds);
    set(max_fds, now.max_fds);
    set(in_use, now.heap_in_use_bytes);
    set(held, now.heap_held_bytes);
  });
}

}  // namespace surveyd::metrics
