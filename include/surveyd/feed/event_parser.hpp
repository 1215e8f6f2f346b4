#pragma once
// Parsing feed lines and bodies (../shared/spec/feed.md) into events or rejections. Liberal in
// what it accepts (unknown fields ignored, nulls allowed), strict in what it stores. Each object
// is read and normalised by core/event_json.hpp.
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/ingest_item.hpp"

namespace surveyd::feed {

// One line/object -> an IngestItem: parsed event, or rejected with a reason such as
// "invalid JSON at byte 17", "missing event_id", "unknown type 'call.started'",
// "occurred_at is not RFC 3339". `source` is "tcp", "push" or "replay".
IngestItem ParseEvent(std::string_view text, const std::string& source);

// A push body: one JSON object, a JSON array of objects, or NDJSON. Each element becomes an item;
// a body that is not JSON at all becomes one rejected item.
std::vector<IngestItem> ParseBody(std::string_view body, std::string_view content_type,
                                  const std::string& source);

// Splits NDJSON text into lines, skipping blank ones; accepts "\r\n".
std::vector<std::string_view> SplitLines(std::string_view text);

}  // namespace surveyd::feed
