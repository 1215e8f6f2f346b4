#include "surveyd/feed/event_parser.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "feed/name_scanner.hpp"
#include "surveyd/core/event_json.hpp"
#include "surveyd/core/utf8.hpp"

namespace surveyd::feed {
namespace {

// ordered_json keeps the sender's key order when an array element is written back as raw text.
using Json = nlohmann::ordered_json;

// nlohmann's parser recurses per nesting level; real events nest three deep.
constexpr int kMaxDepth = 32;

// Calls `visit(i, c, after_string)` for each character of `text` from `from` on that is JSON's
// punctuation outside strings (not a space, not a string's quote or contents), `after_string`
// saying whether a string came just before it. Stops when `visit` returns false. Bytes that are
// not UTF-8 never look like punctuation, so this reads a text as sent.
template <typename Visit>
void ForEachOutsideStrings(std::string_view text, std::size_t from, Visit&& visit) {
  bool in_string = false;
  bool escaped = false;
  bool after_string = false;
  for (std::size_t i = from; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
        after_string = true;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (!visit(i, c, after_string)) return;
    after_string = false;
  }
}

// What a scan of the text tells before it is parsed: whether it nests too deeply, and how many
// object members it names (each string followed by a colon), which the parsed value must hold
// too unless a key was given twice in one object.
struct Shape {
  bool too_deep = false;
  std::size_t keys = 0;
};

Shape ScanShape(std::string_view text) {
  Shape shape;
  int depth = 0;
  ForEachOutsideStrings(text, 0, [&](std::size_t, char c, bool after_string) {
    if (after_string && c == ':') ++shape.keys;
    if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        shape.too_deep = true;
        return false;
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
    return true;
  });
  return shape;
}

// The object members in a parsed value, nested ones included.
std::size_t Members(const Json& value) {
  std::size_t members = value.is_object() ? value.size() : 0;
  if (value.is_structured()) {
    for (const Json& child : value) members += Members(child);
  }
  return members;
}

// What parsing found. nlohmann keeps the last of a key given twice in one object, so an
// object with "qualifiers":["DOMESTIC"] and then "qualifiers":[] would read as no flags: where
// that happened is noted, for the event to be refused.
struct Parsed {
  std::optional<Json> value;  // nullopt: not JSON, for `reason`
  std::string reason;
  bool repeated_key = false;                   // somewhere in the value
  std::vector<std::size_t> repeated_elements;  // in a top-level array: those elements
};

constexpr const char* kRepeatedKey =
    "a key given twice in one object (which of the two was meant cannot be told)";

// Where keys were given twice, by a second, slower parse that watches every key: only for a
// text whose scan named more members than its value holds.
void FindRepeatedKeys(std::string_view text, Parsed& out) {
  std::vector<std::vector<std::string>> keys;  // of each object open
  std::ptrdiff_t element = -1;                 // of a top-level array
  using Event = Json::parse_event_t;
  [[maybe_unused]] const Json watched = Json::parse(text, [&](int depth, Event event, Json& value) {
    if (depth == 1 &&
        (event == Event::object_start || event == Event::array_start || event == Event::value)) {
      ++element;
    }
    if (event == Event::object_start) {
      keys.emplace_back();
    } else if (event == Event::object_end && !keys.empty()) {
      keys.pop_back();
    } else if (event == Event::key && !keys.empty()) {
      auto& seen = keys.back();
      const auto& name = value.get_ref<const std::string&>();
      if (std::find(seen.begin(), seen.end(), name) != seen.end() && element >= 0) {
        out.repeated_elements.push_back(static_cast<std::size_t>(element));
      }
      seen.push_back(name);
    }
    return true;
  });
}

// Parses without throwing to the caller.
Parsed ParseJson(std::string_view text) {
  Parsed out;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    out.reason = "empty";
    return out;
  }
  const Shape shape = ScanShape(text);
  if (shape.too_deep) {
    out.reason = "JSON nested too deeply";
    return out;
  }
  try {
    out.value = Json::parse(text);
    if (Members(*out.value) < shape.keys) {
      out.repeated_key = true;
      if (out.value->is_array()) FindRepeatedKeys(text, out);
    }
  } catch (const Json::parse_error& e) {
    out.value.reset();
    out.reason = "invalid JSON at byte " + std::to_string(e.byte);
  } catch (const Json::exception&) {
    // A number too large for a double ("1e999") is out_of_range, not parse_error; found by the
    // fuzzer. Not e.what(): it quotes the number, which could be a phone number.
    out.value.reset();
    out.reason = "invalid JSON: a number out of range";
  }
  return out;
}

IngestItem FromJson(const Json& value, std::string raw, const std::string& source) {
  IngestItem item;
  item.source = source;
  item.raw = std::move(raw);
  if (!value.is_object()) {
    item.reject_reason = "not a JSON object";
    return item;
  }
  ReadEnvelope(value, item);
  if (value.contains("heartbeat") && !value.contains("event_id")) {
    item.reject_reason = "heartbeat";
    return item;
  }
  EventReadResult read = EventFromJson(value);
  item.event = std::move(read.event);
  item.reject_reason = std::move(read.reject_reason);
  if (!item.event) {
    // What it names, if it can be read: its texts are held (IngestItem).
    NamedContact named = ContactNamedBy(value);
    item.incident_id = std::move(named.incident_id);
    item.phone = std::move(named.phone);
  }
  return item;
}

IngestItem Rejected(std::string_view raw, const std::string& source, std::string reason) {
  IngestItem item;
  item.source = source;
  item.raw = std::string(raw);
  item.reject_reason = std::move(reason);
  return item;
}

// An event that cannot be stored (its text was not UTF-8, or it gave a key twice), rejected
// with what it names read from it, so that the texts of its incident and number are held as for
// any line that cannot be stored: a DOMESTIC flag on a line with one bad byte in its type_label
// must still stop the incident's text.
IngestItem RejectedNaming(const Json& value, std::string raw, const std::string& source,
                          std::string reason) {
  IngestItem item = FromJson(value, std::move(raw), source);
  if (item.event) {
    NamedContact named = ContactNamedBy(value);
    item.incident_id = std::move(named.incident_id);
    item.phone = std::move(named.phone);
    item.event.reset();
  }
  item.reject_reason = std::move(reason);
  return item;
}

constexpr const char* kNotUtf8 =
    ": not UTF-8 text (a byte that is not UTF-8, or half a surrogate pair)";

// The items of a parsed body or line: each element of a top-level array, or the value itself.
void AddItems(const Parsed& parsed, std::string_view raw, const std::string& source,
              const std::string& not_utf8_reason, std::vector<IngestItem>& items) {
  const bool repaired = !not_utf8_reason.empty();
  if (parsed.value->is_array()) {
    for (std::size_t i = 0; i < parsed.value->size(); ++i) {
      const Json& element = (*parsed.value)[i];
      std::string text = element.dump();
      const bool repeated =
          std::find(parsed.repeated_elements.begin(), parsed.repeated_elements.end(), i) !=
          parsed.repeated_elements.end();
      if (repaired && text.find(kReplacementCharacter) != std::string::npos) {
        items.push_back(RejectedNaming(element, std::move(text), source, not_utf8_reason));
      } else if (repeated) {
        items.push_back(RejectedNaming(element, std::move(text), source, kRepeatedKey));
      } else {
        items.push_back(FromJson(element, std::move(text), source));
      }
    }
  } else if (repaired) {
    items.push_back(RejectedNaming(*parsed.value, std::string(raw), source, not_utf8_reason));
  } else if (parsed.repeated_key) {
    items.push_back(RejectedNaming(*parsed.value, std::string(raw), source, kRepeatedKey));
  } else {
    items.push_back(FromJson(*parsed.value, std::string(raw), source));
  }
}

// The spans of a top-level array's elements, in text that is not JSON as a whole (cut short,
// nested too deep, one element malformed), as far as its brackets and strings can be followed:
// each span runs from where the one before ended, so that together they are the whole text and
// each holds one element (the first the '[' too, the last the ']' and whatever follows). Empty
// when the text is not an array.
std::vector<std::string_view> ArraySpans(std::string_view text) {
  std::size_t at = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // a byte order mark
  at = text.find_first_not_of(" \t\r\n", at);
  if (at == std::string_view::npos || text[at] != '[') return {};
  std::vector<std::string_view> spans;
  std::size_t start = 0;
  int depth = 0;
  ForEachOutsideStrings(text, at, [&](std::size_t i, char c, bool) {
    if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return false;  // the array's end
    } else if (c == ',' && depth == 1) {
      spans.push_back(text.substr(start, i + 1 - start));
      start = i + 1;
    }
    return true;
  });
  spans.push_back(text.substr(start));
  return spans;
}

// A rejected item for `raw`, named by what its text names as far as it can be read
// (NameScanner): with its characters repaired, if some were not UTF-8.
IngestItem RejectedNamedByText(std::string_view raw, std::string_view text,
                               const std::string& source, std::string reason) {
  NameScanner scanner;
  scanner.Feed(text);
  IngestItem item = Rejected(raw, source, std::move(reason));
  scanner.Name(item);
  return item;
}

// A line or body that is not JSON as sent: if only some characters were wrong (not UTF-8), its
// items from the repaired text, those holding a repaired character rejected; else rejected, with
// what its text names as far as it can be read. A body that is an array is rejected element by
// element (`split_array`), each naming its own incident and number: one DOMESTIC close cut short
// in a push of fifty must still hold its incident's text. A line is one item whatever it holds.
void AddUnparsed(std::string_view raw, const std::string& reason, const std::string& source,
                 bool split_array, std::vector<IngestItem>& items) {
  const auto repaired = RepairedJsonCharacters(raw);
  if (repaired) {
    const Parsed readable = ParseJson(*repaired);
    if (readable.value) {
      AddItems(readable, raw, source, reason + kNotUtf8, items);
      return;
    }
  }
  const std::vector<std::string_view> spans =
      split_array ? ArraySpans(raw) : std::vector<std::string_view>{};
  if (spans.size() < 2) {
    items.push_back(
        RejectedNamedByText(raw, repaired ? std::string_view(*repaired) : raw, source, reason));
    return;
  }
  for (std::size_t i = 0; i < spans.size(); ++i) {
    std::string_view element = spans[i];
    if (i == 0) element.remove_prefix(element.find('[') + 1);
    const auto element_repaired = repaired ? RepairedJsonCharacters(element) : std::nullopt;
    items.push_back(RejectedNamedByText(
        spans[i], element_repaired ? std::string_view(*element_repaired) : element, source,
        "element " + std::to_string(i + 1) + " of " + std::to_string(spans.size()) +
            " in a body that is not JSON (" + reason + ")"));
  }
}

enum class BodyFormat { kJson, kNdjson, kSniff };

BodyFormat FormatOf(std::string_view content_type) {
  std::string type;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      type.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  if (type == "application/json" ||
      (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0)) {
    return BodyFormat::kJson;
  }
  if (type == "application/x-ndjson" || type == "application/ndjson" ||
      type == "application/jsonl" || type == "application/x-jsonlines" ||
      type == "application/jsonlines") {
    return BodyFormat::kNdjson;
  }
  return BodyFormat::kSniff;
}

}  // namespace

IngestItem ParseEvent(std::string_view text, const std::string& source) {
  std::vector<IngestItem> items;
  const Parsed parsed = ParseJson(text);
  if (parsed.value && !parsed.value->is_array()) {
    AddItems(parsed, text, source, "", items);
  } else if (parsed.value) {
    items.push_back(FromJson(*parsed.value, std::string(text), source));  // not an object
  } else {
    AddUnparsed(text, parsed.reason, source, /*split_array=*/false, items);
  }
  // A line is one item: an array read from repaired text is not an event.
  if (items.size() != 1) return Rejected(text, source, parsed.reason);
  return std::move(items.front());
}

std::vector<IngestItem> ParseBody(std::string_view body, std::string_view content_type,
                                  const std::string& source) {
  std::vector<IngestItem> items;
  BodyFormat format = FormatOf(content_type);
  std::optional<Parsed> whole;
  if (format == BodyFormat::kSniff) {
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && body[first] == '[') {
      format = BodyFormat::kJson;
    } else {
      // One object (perhaps pretty-printed over many lines) is JSON; anything else, NDJSON.
      whole = ParseJson(body);
      format = whole->value && whole->value->is_object() ? BodyFormat::kJson : BodyFormat::kNdjson;
    }
  }

  if (format == BodyFormat::kNdjson) {
    const auto lines = SplitLines(body);
    if (lines.empty()) items.push_back(Rejected(body, source, "empty"));
    for (std::string_view line : lines) items.push_back(ParseEvent(line, source));
    return items;
  }

  if (!whole) whole = ParseJson(body);
  if (whole->value) {
    AddItems(*whole, body, source, "", items);
  } else {
    // Characters that are not UTF-8 reject the events that hold them, not the whole body: the
    // others are read from the repaired text, where they are as they were sent.
    AddUnparsed(body, whole->reason, source, /*split_array=*/true, items);
  }
  return items;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back(line);
  }
  return lines;
}

}  // namespace surveyd::feed
