#pragma once
// What the process itself holds, on every scrape of /metrics: the usual Prometheus process_*
// gauges (resident and virtual memory, open and allowed file descriptors; the start time is
// surveyd_start_time_seconds), and the heap as the C library's allocator sees it.
//
// The heap's two figures are what tells a leak from memory merely held. The allocator keeps an
// arena per busy thread and keeps each arena's high-water mark after its memory is freed, so the
// resident size climbs for a while after start and then flattens, while the bytes in use stay
// level. Bytes in use that keep climbing are a leak; resident size that climbs while they do not
// is the arenas' high-water marks (docs/operations.md, "Memory").
#include <optional>

#include "surveyd/metrics/metrics.hpp"

namespace surveyd::metrics {

struct ProcessSample {
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> open_fds;
  std::optional<double> max_fds;
  // The C library's allocator's figures; empty under another allocator (AddressSanitizer's
  // reports nothing through mallinfo2).
  std::optional<double> heap_in_use_bytes;  // allocated and not freed, mmapped blocks included
  std::optional<double> heap_held_bytes;    // taken from the system by the allocator
};

// Read from /proc/self and the allocator; a figure that cannot be read is left empty.
ProcessSample SampleProcess();

// Registers the gauges and refreshes them before each rendering.
void AddProcessMetrics(Registry& registry);

}  // namespace surveyd::metrics
