// libFuzzer target: feed lines and push bodies (feed::ParseEvent, feed::ParseBody). Whatever the
// bytes, each becomes an event or a rejection with a reason, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "surveyd/feed/event_parser.hpp"

namespace {

void Check(const surveyd::IngestItem& item) {
  // Exactly one of: a parsed event, or a rejection that says why.
  if (item.event.has_value() == !item.reject_reason.empty()) std::abort();
  if (item.event && item.event->event_id.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(surveyd::feed::ParseEvent(text, "tcp"));
  for (const char* type : {"application/json", "application/x-ndjson", ""}) {
    for (const auto& item : surveyd::feed::ParseBody(text, type, "push")) Check(item);
  }
  return 0;
}
