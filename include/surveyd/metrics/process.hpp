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
  double heap_in_use_bytes = 0;  // allocated and not freed, mmapped blocks included
  double heap_held_bytes = 0;    // taken from the system by the allocator
};

// Read from /proc/self and the allocator; a figure that cannot be read is left empty.
ProcessSample SampleProcess();

// Registers the gauges and refreshes them before each rendering.
void AddProcessMetrics(Registry& registry);

}  // namespace surveyd::metrics
