#include "surveyd/feed/event_parser.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace surveyd::feed {
namespace {

// ordered_json keeps the sender's key order when an array element is written back as raw text.
using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxEventIdLength = 128;
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

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// Reads one event object. The first problem found is kept as the rejection reason; it is built
// only from field names and fixed text, never from values, so it can be logged and returned to
// the sender without leaking personal data.
class EventReader {
 public:
  std::optional<Event> Read(const Json& obj);
  const std::string& error() const { return error_; }

 private:
  // Records the first failure; later reads carry on harmlessly and the result is discarded.
  std::nullopt_t Fail(std::string reason) {
    if (error_.empty()) error_ = std::move(reason);
    return std::nullopt;
  }

  static const Json* Find(const Json& obj, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  static std::string Path(const std::string& prefix, const char* key) {
    return prefix.empty() ? std::string(key) : prefix + "." + key;
  }

  std::optional<std::string> OptString(const Json& obj, const std::string& prefix,
                                       const char* key) {
    const Json* v = Find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return Fail(Path(prefix, key) + " must be a string");
    return v->get<std::string>();
  }

  std::optional<TimePoint> OptTime(const Json& obj, const std::string& prefix, const char* key) {
    const auto text = OptString(obj, prefix, key);
    if (!text) return std::nullopt;
    auto t = ParseRfc3339(*text);
    if (!t) return Fail(Path(prefix, key) + " is not RFC 3339");
    return t;
  }

  std::optional<bool> OptBool(const Json& obj, const std::string& prefix, const char* key) {
    const Json* v = Find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) return Fail(Path(prefix, key) + " must be a boolean");
    return v->get<bool>();
  }

  std::optional<int> OptAge(const Json& obj, const std::string& prefix, const char* key);

  const Json* OptObject(const Json& obj, const std::string& prefix, const char* key) {
    const Json* v = Find(obj, key);
    if (v != nullptr && !v->is_object()) {
      Fail(Path(prefix, key) + " must be an object");
      return nullptr;
    }
    return v;
  }

  std::optional<Incident> ReadIncident(const Json& obj);
  Call ReadCall(const Json& obj);
  Resource ReadResource(const Json& obj);
  Closure ReadClosure(const Json& obj);
  Caller ReadCaller(const Json& obj);

  std::string error_;
};

// Ages arrive as 41, 41.0 or "41" depending on which system filled the log; all mean 41.
std::optional<int> EventReader::OptAge(const Json& obj, const std::string& prefix,
                                       const char* key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return std::nullopt;
  const std::string name = Path(prefix, key);
  long long value = 0;
  if (v->is_number_unsigned()) {
    if (v->get<std::uint64_t>() > 1000) return Fail(name + " is out of range");
    value = static_cast<long long>(v->get<std::uint64_t>());
  } else if (v->is_number_integer()) {
    value = v->get<long long>();
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return Fail(name + " must be an integer");
    if (std::fabs(d) > 1000) return Fail(name + " is out of range");
    value = static_cast<long long>(d);
  } else if (v->is_string()) {
    const std::string s = Trimmed(v->get_ref<const std::string&>());
    if (s.empty()) return std::nullopt;  // "" is how some exports write "not recorded"
    if (s.size() > 3 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Fail(name + " must be an integer");
    }
    value = std::stoll(s);
  } else {
    return Fail(name + " must be an integer");
  }
  if (value < 0 || value > 130) return Fail(name + " is out of range");
  return static_cast<int>(value);
}

std::optional<Incident> EventReader::ReadIncident(const Json& obj) {
  Incident incident;
  const Json* id = Find(obj, "id");
  if (id == nullptr) return Fail("missing incident.id");
  if (!id->is_string()) return Fail("incident.id must be a string");
  incident.id = id->get<std::string>();
  if (incident.id.empty()) return Fail("incident.id is empty");
  incident.opened_at = OptTime(obj, "incident", "opened_at");
  incident.type_code = OptString(obj, "incident", "type_code");
  if (incident.type_code) incident.type_code = Upper(*incident.type_code);  // spec: upper case
  incident.type_label = OptString(obj, "incident", "type_label");
  incident.category = OptString(obj, "incident", "category");
  incident.grade = OptString(obj, "incident", "grade");
  if (const Json* q = Find(obj, "qualifiers")) {
    if (!q->is_array()) return Fail("incident.qualifiers must be an array of strings");
    std::vector<std::string> qualifiers;
    for (const Json& flag : *q) {
      if (!flag.is_string()) return Fail("incident.qualifiers must be an array of strings");
      // Exclusion rules match flags exactly; the log is not consistent about case or spaces.
      qualifiers.push_back(Upper(Trimmed(flag.get_ref<const std::string&>())));
    }
    incident.qualifiers = std::move(qualifiers);
  }
  if (const Json* location = OptObject(obj, "incident", "location")) {
    incident.location.npu = OptString(*location, "incident.location", "npu");
    incident.location.beat = OptString(*location, "incident.location", "beat");
    incident.location.postcode_district =
        OptString(*location, "incident.location", "postcode_district");
  }
  return incident;
}

Call EventReader::ReadCall(const Json& obj) {
  Call call;
  call.id = OptString(obj, "call", "id").value_or("");
  call.channel = OptString(obj, "call", "channel");
  call.started_at = OptTime(obj, "call", "started_at");
  call.ended_at = OptTime(obj, "call", "ended_at");
  call.handler_id = OptString(obj, "call", "handler_id");
  call.handler_team = OptString(obj, "call", "handler_team");
  return call;
}

Resource EventReader::ReadResource(const Json& obj) {
  Resource resource;
  resource.officer_id = OptString(obj, "resource", "officer_id");
  resource.callsign = OptString(obj, "resource", "callsign");
  resource.department = OptString(obj, "resource", "department");
  resource.arrived_at = OptTime(obj, "resource", "arrived_at");
  resource.departed_at = OptTime(obj, "resource", "departed_at");
  return resource;
}

Closure EventReader::ReadClosure(const Json& obj) {
  Closure closure;
  closure.code = OptString(obj, "closure", "code");
  closure.outcome = OptString(obj, "closure", "outcome");
  return closure;
}

Caller EventReader::ReadCaller(const Json& obj) {
  Caller caller;
  if (const Json* phone = Find(obj, "phone")) {
    // Some exports write the number as a JSON number; phone::Normalize judges the digits.
    if (phone->is_number_unsigned()) {
      caller.phone = std::to_string(phone->get<std::uint64_t>());
    } else if (phone->is_string()) {
      caller.phone = phone->get<std::string>();
    } else {
      Fail("caller.phone must be a string");
    }
  }
  caller.phone_type = OptString(obj, "caller", "phone_type");
  caller.role = OptString(obj, "caller", "role");
  caller.gender = OptString(obj, "caller", "gender");
  caller.ethnicity = OptString(obj, "caller", "ethnicity");
  caller.language = OptString(obj, "caller", "language");
  caller.survey_consent = OptString(obj, "caller", "survey_consent");
  caller.age = OptAge(obj, "caller", "age");
  caller.vulnerable = OptBool(obj, "caller", "vulnerable");
  return caller;
}

// A type name is echoed in the reason only when it looks like one.
bool SafeToQuote(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

std::optional<Event> EventReader::Read(const Json& obj) {
  Event event;
  if (const Json* seq = Find(obj, "seq")) {
    event.seq = AsInt64(*seq);
    if (!event.seq) return Fail("seq must be an integer");
  }

  const Json* id = Find(obj, "event_id");
  if (id == nullptr) return Fail("missing event_id");
  if (!id->is_string()) return Fail("event_id must be a string");
  event.event_id = id->get<std::string>();
  if (event.event_id.empty()) return Fail("event_id is empty");
  if (event.event_id.size() > kMaxEventIdLength) return Fail("event_id is too long");

  const Json* type = Find(obj, "type");
  if (type == nullptr) return Fail("missing type");
  if (!type->is_string()) return Fail("type must be a string");
  const auto& type_name = type->get_ref<const std::string&>();
  const auto parsed_type = ParseEventType(type_name);
  if (!parsed_type) {
    return Fail(SafeToQuote(type_name) ? "unknown type '" + type_name + "'" : "unknown type");
  }
  event.type = *parsed_type;

  const Json* occurred = Find(obj, "occurred_at");
  if (occurred == nullptr) return Fail("missing occurred_at");
  if (!occurred->is_string()) return Fail("occurred_at must be a string");
  const auto occurred_at = ParseRfc3339(occurred->get_ref<const std::string&>());
  if (!occurred_at) return Fail("occurred_at is not RFC 3339");
  event.occurred_at = *occurred_at;

  const Json* incident_json = OptObject(obj, "", "incident");
  if (!error_.empty()) return std::nullopt;
  if (incident_json == nullptr) return Fail("missing incident");
  auto incident = ReadIncident(*incident_json);
  if (!incident) return std::nullopt;
  event.incident = std::move(*incident);

  if (const Json* call = OptObject(obj, "", "call")) event.call = ReadCall(*call);
  if (const Json* resource = OptObject(obj, "", "resource")) {
    event.resource = ReadResource(*resource);
  }
  if (const Json* caller = OptObject(obj, "", "caller")) event.caller = ReadCaller(*caller);
  if (const Json* closure = OptObject(obj, "", "closure")) event.closure = ReadClosure(*closure);
  if (!error_.empty()) return std::nullopt;

  if (event.type == EventType::kCallEnded && !event.call) return Fail("missing call");
  if (event.type == EventType::kResourceDeparted && !event.resource) {
    return Fail("missing resource");
  }
  return event;
}

// Reads what can be read even from an event that will be rejected: the store keys rejected
// lines by event_id when there is one, and the TCP cursor moves past them by seq.
void ReadEnvelope(const Json& obj, store::IngestItem& item) {
  if (const auto it = obj.find("seq"); it != obj.end()) item.seq = AsInt64(*it);
  if (const auto id = obj.find("event_id"); id != obj.end() && id->is_string()) {
    const auto& event_id = id->get_ref<const std::string&>();
    if (event_id.size() <= kMaxEventIdLength) item.event_id = event_id;
  }
}

store::IngestItem FromJson(const Json& value, std::string raw, const std::string& source) {
  store::IngestItem item;
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
  EventReader reader;
  item.event = reader.Read(value);
  if (!item.event) item.reject_reason = reader.error();
  return item;
}

store::IngestItem Rejected(std::string_view raw, const std::string& source, std::string reason) {
  store::IngestItem item;
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

store::IngestItem ParseEvent(std::string_view text, const std::string& source) {
  std::string reason;
  const auto value = ParseJson(text, reason);
  if (!value) return Rejected(text, source, std::move(reason));
  return FromJson(*value, std::string(text), source);
}

std::vector<store::IngestItem> ParseBody(std::string_view body, std::string_view content_type,
                                         const std::string& source) {
  std::vector<store::IngestItem> items;
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
    items.push_back(Rejected(body, source, std::move(reason)));
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
