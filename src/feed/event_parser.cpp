#include "surveyd/feed/event_parser.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "surveyd/core/event_json.hpp"
#include "surveyd/core/utf8.hpp"

namespace surveyd::feed {
namespace {

// ordered_json keeps the sender's key order when an array element is written back as raw text.
using Json = nlohmann::ordered_json;

// nlohmann's parser recurses per nesting level; real events nest three deep.
constexpr int kMaxDepth = 32;

bool TooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

// Parses without throwing to the caller: nullopt plus a reason on failure.
std::optional<Json> ParseJson(std::string_view text, std::string& reason) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    reason = "empty";
    return std::nullopt;
  }
  if (TooDeep(text)) {
    reason = "JSON nested too deeply";
    return std::nullopt;
  }
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    reason = "invalid JSON at byte " + std::to_string(e.byte);
    return std::nullopt;
  } catch (const Json::exception&) {
    // A number too large for a double ("1e999") is out_of_range, not parse_error; found by the
    // fuzzer. Not e.what(): it quotes the number, which could be a phone number.
    reason = "invalid JSON: a number out of range";
    return std::nullopt;
  }
}

std::optional<std::int64_t> AsInt64(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return std::nullopt;
}

// Reads what can be read even from an event that will be rejected: the store keys rejected
// lines by event_id when there is one, and the TCP cursor moves past them by seq.
void ReadEnvelope(const Json& obj, IngestItem& item) {
  if (const auto it = obj.find("seq"); it != obj.end()) item.seq = AsInt64(*it);
  if (const auto id = obj.find("event_id"); id != obj.end() && id->is_string()) {
    const auto& event_id = id->get_ref<const std::string&>();
    if (event_id.size() <= kMaxEventIdLength) item.event_id = event_id;
  }
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

// Reads four hex digits at text[at]; false when they are not there.
bool Hex4(std::string_view text, std::size_t at, unsigned& value) {
  if (at + 4 > text.size()) return false;
  value = 0;
  for (std::size_t k = at; k < at + 4; ++k) {
    const char c = text[k];
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
    if (digit < 0) return false;
    value = value * 16 + static_cast<unsigned>(digit);
  }
  return true;
}

// JSON text with its characters repaired: each byte that is not UTF-8, and each \u escape of half
// a surrogate pair (JavaScript's JSON.stringify writes one for a string cut inside an emoji),
// becomes U+FFFD. nullopt when there was nothing to repair.
std::optional<std::string> RepairedCharacters(std::string_view text) {
  const std::string utf8 = ReplaceInvalidUtf8(text);
  bool changed = utf8 != text;
  std::string out;
  out.reserve(utf8.size());
  bool in_string = false;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const char c = utf8[i];
    if (c == '"') in_string = !in_string;
    if (!in_string || c != '\\' || i + 1 >= utf8.size()) {
      out.push_back(c);
      continue;
    }
    unsigned high = 0, low = 0;
    if (utf8[i + 1] != 'u' || !Hex4(utf8, i + 2, high) || high < 0xD800 || high > 0xDFFF) {
      out.append(utf8, i, 2);  // any other escape, \" and \\ included
      ++i;
      continue;
    }
    const bool paired = high <= 0xDBFF && i + 12 <= utf8.size() && utf8[i + 6] == '\\' &&
                        utf8[i + 7] == 'u' && Hex4(utf8, i + 8, low) && low >= 0xDC00 &&
                        low <= 0xDFFF;
    if (paired) {
      out.append(utf8, i, 12);
      i += 11;
    } else {
      out.append("\\ufffd");
      changed = true;
      i += 5;
    }
  }
  if (!changed) return std::nullopt;
  return out;
}

// An event whose text was not UTF-8: rejected, but with what it names read from its repaired text,
// so that the texts of its incident and number are held as for any line that cannot be stored.
// A DOMESTIC flag on a line with one bad byte in its type_label must still stop the incident's
// text.
IngestItem NotUtf8(const Json& value, std::string raw, const std::string& source,
                   const std::string& reason) {
  IngestItem item = FromJson(value, std::move(raw), source);
  if (item.event) {
    NamedContact named = ContactNamedBy(value);
    item.incident_id = std::move(named.incident_id);
    item.phone = std::move(named.phone);
    item.event.reset();
  }
  item.reject_reason =
      reason + ": not UTF-8 text (a byte that is not UTF-8, or half a surrogate pair)";
  return item;
}

IngestItem Rejected(std::string_view raw, const std::string& source, std::string reason) {
  IngestItem item;
  item.source = source;
  item.raw = std::string(raw);
  item.reject_reason = std::move(reason);
  return item;
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
  std::string reason;
  const auto value = ParseJson(text, reason);
  if (value) return FromJson(*value, std::string(text), source);
  if (const auto repaired = RepairedCharacters(text)) {
    std::string ignored;
    if (const auto readable = ParseJson(*repaired, ignored)) {
      return NotUtf8(*readable, std::string(text), source, reason);
    }
  }
  return Rejected(text, source, std::move(reason));
}

std::vector<IngestItem> ParseBody(std::string_view body, std::string_view content_type,
                                  const std::string& source) {
  std::vector<IngestItem> items;
  BodyFormat format = FormatOf(content_type);
  std::optional<Json> whole;
  std::string reason;
  if (format == BodyFormat::kSniff) {
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && body[first] == '[') {
      format = BodyFormat::kJson;
    } else {
      // One object (perhaps pretty-printed over many lines) is JSON; anything else, NDJSON.
      std::string ignored;
      whole = ParseJson(body, ignored);
      format = whole && whole->is_object() ? BodyFormat::kJson : BodyFormat::kNdjson;
    }
  }

  if (format == BodyFormat::kNdjson) {
    const auto lines = SplitLines(body);
    if (lines.empty()) items.push_back(Rejected(body, source, "empty"));
    for (std::string_view line : lines) items.push_back(ParseEvent(line, source));
    return items;
  }

  if (!whole) whole = ParseJson(body, reason);
  if (!whole) {
    // Characters that are not UTF-8 reject the events that hold them, not the whole body: the
    // others are read from the repaired text, where they are as they were sent.
    const auto repaired = RepairedCharacters(body);
    std::string ignored;
    const auto readable = repaired ? ParseJson(*repaired, ignored) : std::nullopt;
    if (readable && readable->is_array()) {
      for (const Json& element : *readable) {
        std::string raw = element.dump();
        if (raw.find(kReplacementCharacter) != std::string::npos) {
          items.push_back(NotUtf8(element, std::move(raw), source, reason));
        } else {
          items.push_back(FromJson(element, std::move(raw), source));
        }
      }
    } else if (readable) {
      items.push_back(NotUtf8(*readable, std::string(body), source, reason));
    } else {
      items.push_back(Rejected(body, source, std::move(reason)));
    }
  } else if (whole->is_array()) {
    for (const Json& element : *whole) {
      items.push_back(FromJson(element, element.dump(), source));
    }
  } else {
    items.push_back(FromJson(*whole, std::string(body), source));
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
