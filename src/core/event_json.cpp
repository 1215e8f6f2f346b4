#include "surveyd/core/event_json.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string_view>

#include <nlohmann/json.hpp>

namespace surveyd {
namespace {

// UTF-8 spaces that exports (spreadsheets, copy and paste from web forms) leave around codes:
// U+00A0 no-break space, U+2000-U+200B, U+202F, U+205F, U+3000 and U+FEFF (a stray BOM).
std::size_t UnicodeSpaceAt(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u;
  };
  if (byte(i) == 0xC2 && byte(i + 1) == 0xA0) return 2;
  if (byte(i) == 0xE2 && byte(i + 1) == 0x80 && byte(i + 2) >= 0x80 && byte(i + 2) <= 0x8B) {
    return 3;
  }
  if (byte(i) == 0xE2 && byte(i + 1) == 0x80 && byte(i + 2) == 0xAF) return 3;
  if (byte(i) == 0xE2 && byte(i + 1) == 0x81 && byte(i + 2) == 0x9F) return 3;
  if (byte(i) == 0xE3 && byte(i + 1) == 0x80 && byte(i + 2) == 0x80) return 3;
  if (byte(i) == 0xEF && byte(i + 1) == 0xBB && byte(i + 2) == 0xBF) return 3;
  return 0;
}

bool AsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view TrimSpace(std::string_view s) {
  for (;;) {
    if (!s.empty() && AsciiSpace(s.front())) {
      s.remove_prefix(1);
    } else if (const std::size_t n = UnicodeSpaceAt(s, 0)) {
      s.remove_prefix(n);
    } else {
      break;
    }
  }
  for (;;) {
    if (!s.empty() && AsciiSpace(s.back())) {
      s.remove_suffix(1);
      continue;
    }
    bool trimmed = false;
    for (std::size_t n : {2u, 3u}) {
      if (s.size() >= n && UnicodeSpaceAt(s, s.size() - n) == n) {
        s.remove_suffix(n);
        trimmed = true;
        break;
      }
    }
    if (!trimmed) break;
  }
  return s;
}

enum class Fold { kNone, kUpper, kLower };

std::string Folded(std::string_view s, Fold fold) {
  std::string out(s);
  for (char& c : out) {
    if (fold == Fold::kUpper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (fold == Fold::kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trimmed and folded; nullopt when blank.
std::optional<std::string> Normalised(std::string_view raw, Fold fold) {
  const std::string_view s = TrimSpace(raw);
  if (s.empty()) return std::nullopt;
  return Folded(s, fold);
}

// A phone number written as a JSON number: an integer, or a float with nothing after its point
// ("447700900123.0", as pandas writes a column with blanks in it), as its digits. Only to name
// the number a rejected line holds: a float's digits may be a spreadsheet's rounding
// (4.47701E+11), so such an event is never read as one to text.
template <typename Json>
std::optional<std::string> NumberAsDigits(const Json& v) {
  if (v.is_number_unsigned()) return std::to_string(v.template get<std::uint64_t>());
  if (!v.is_number_float()) return std::nullopt;
  const double value = v.template get<double>();
  // Below 2^53 a double holds every integer exactly; phone numbers have at most 15 digits.
  if (!(value >= 0 && value < 1e15) || value != std::floor(value)) return std::nullopt;
  return std::to_string(static_cast<std::uint64_t>(value));
}

template <typename Json>
std::optional<std::int64_t> AsInt64(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.template get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.template get<std::int64_t>();
  return std::nullopt;
}

// Reads one event object. The first problem found is kept as the rejection reason.
template <typename Json>
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

  // Text kept as sent (not read by the rules).
  std::optional<std::string> OptString(const Json& obj, const std::string& prefix,
                                       const char* key) {
    const Json* v = Find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return Fail(Path(prefix, key) + " must be a string");
    return v->template get<std::string>();
  }

  // Text the rules read: trimmed, folded, blank is missing.
  std::optional<std::string> RuleText(const Json& obj, const std::string& prefix, const char* key,
                                      Fold fold) {
    const Json* v = Find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return Fail(Path(prefix, key) + " must be a string");
    return Normalised(v->template get_ref<const std::string&>(), fold);
  }

  std::optional<TimePoint> OptTime(const Json& obj, const std::string& prefix, const char* key) {
    const auto text = OptString(obj, prefix, key);
    if (!text) return std::nullopt;
    auto t = ParseRfc3339(*text);
    if (!t) return Fail(Path(prefix, key) + " is not RFC 3339");
    if (!InRfc3339Range(*t)) return Fail(Path(prefix, key) + " is out of range");
    return t;
  }

  std::optional<bool> OptBool(const Json& obj, const std::string& prefix, const char* key);
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

// Some systems write flags as strings or as 0/1. A value that is none of these is not guessed at:
// the event is rejected, so nothing is texted on a flag we could not read.
template <typename Json>
std::optional<bool> EventReader<Json>::OptBool(const Json& obj, const std::string& prefix,
                                               const char* key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_boolean()) return v->template get<bool>();
  if (const auto number = AsInt64(*v); number && (*number == 0 || *number == 1)) {
    return *number == 1;
  }
  if (v->is_string()) {
    const auto text = Normalised(v->template get_ref<const std::string&>(), Fold::kLower);
    if (!text) return std::nullopt;
    if (*text == "true" || *text == "yes" || *text == "y" || *text == "1") return true;
    if (*text == "false" || *text == "no" || *text == "n" || *text == "0") return false;
  }
  return Fail(Path(prefix, key) + " must be a boolean");
}

// Ages arrive as 41, 41.0 or "41" depending on which system filled the log; all mean 41. An age
// outside 0-130 is a broken record (or a placeholder such as 999), not a person: rejected.
template <typename Json>
std::optional<int> EventReader<Json>::OptAge(const Json& obj, const std::string& prefix,
                                             const char* key) {
  const Json* v = Find(obj, key);
  if (v == nullptr) return std::nullopt;
  const std::string name = Path(prefix, key);
  long long value = 0;
  if (v->is_number_unsigned()) {
    if (v->template get<std::uint64_t>() > 1000) return Fail(name + " is out of range");
    value = static_cast<long long>(v->template get<std::uint64_t>());
  } else if (v->is_number_integer()) {
    value = v->template get<long long>();
  } else if (v->is_number_float()) {
    const double d = v->template get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return Fail(name + " must be an integer");
    if (std::fabs(d) > 1000) return Fail(name + " is out of range");
    value = static_cast<long long>(d);
  } else if (v->is_string()) {
    const std::string_view s = TrimSpace(v->template get_ref<const std::string&>());
    if (s.empty()) return std::nullopt;  // "" is how some exports write "not recorded"
    if (s.size() > 3 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Fail(name + " must be an integer");
    }
    value = std::stoll(std::string(s));
  } else {
    return Fail(name + " must be an integer");
  }
  if (value < 0 || value > 130) return Fail(name + " is out of range");
  return static_cast<int>(value);
}

template <typename Json>
std::optional<Incident> EventReader<Json>::ReadIncident(const Json& obj) {
  Incident incident;
  const Json* id = Find(obj, "id");
  if (id == nullptr) return Fail("missing incident.id");
  if (!id->is_string()) return Fail("incident.id must be a string");
  // Trimmed: the store finds the other events of an incident by this id.
  incident.id = std::string(TrimSpace(id->template get_ref<const std::string&>()));
  if (incident.id.empty()) return Fail("incident.id is empty");
  incident.opened_at = OptTime(obj, "incident", "opened_at");
  incident.type_code = RuleText(obj, "incident", "type_code", Fold::kUpper);  // spec: upper case
  incident.type_label = OptString(obj, "incident", "type_label");
  incident.category = RuleText(obj, "incident", "category", Fold::kLower);
  incident.grade = RuleText(obj, "incident", "grade", Fold::kUpper);
  const Json* q = Find(obj, "qualifiers");
  // "" is how some exports write an empty field: missing, like null.
  if (q != nullptr && q->is_string() &&
      TrimSpace(q->template get_ref<const std::string&>()).empty()) {
    q = nullptr;
  }
  if (q != nullptr) {
    if (!q->is_array()) return Fail("incident.qualifiers must be an array of strings");
    std::vector<std::string> qualifiers;
    bool complete = true;
    for (const Json& flag : *q) {
      std::optional<std::string> text;
      if (flag.is_string())
        text = Normalised(flag.template get_ref<const std::string&>(), Fold::kUpper);
      if (text) {
        qualifiers.push_back(std::move(*text));
      } else {
        // A blank or unreadable entry may have been a flag: the list does not say "no flags".
        complete = false;
      }
    }
    if (complete) {
      incident.qualifiers = std::move(qualifiers);
    } else {
      incident.partial_qualifiers = std::move(qualifiers);
    }
  }
  if (const Json* location = OptObject(obj, "incident", "location")) {
    incident.location.npu = OptString(*location, "incident.location", "npu");
    incident.location.beat = OptString(*location, "incident.location", "beat");
    incident.location.postcode_district =
        OptString(*location, "incident.location", "postcode_district");
  }
  return incident;
}

template <typename Json>
Call EventReader<Json>::ReadCall(const Json& obj) {
  Call call;
  call.id = OptString(obj, "call", "id").value_or("");
  call.channel = RuleText(obj, "call", "channel", Fold::kLower);
  call.started_at = OptTime(obj, "call", "started_at");
  call.ended_at = OptTime(obj, "call", "ended_at");
  call.handler_id = OptString(obj, "call", "handler_id");
  call.handler_team = OptString(obj, "call", "handler_team");
  return call;
}

template <typename Json>
Resource EventReader<Json>::ReadResource(const Json& obj) {
  Resource resource;
  resource.officer_id = OptString(obj, "resource", "officer_id");
  resource.callsign = OptString(obj, "resource", "callsign");
  resource.department = OptString(obj, "resource", "department");
  resource.arrived_at = OptTime(obj, "resource", "arrived_at");
  resource.departed_at = OptTime(obj, "resource", "departed_at");
  return resource;
}

template <typename Json>
Closure EventReader<Json>::ReadClosure(const Json& obj) {
  Closure closure;
  closure.code = OptString(obj, "closure", "code");
  closure.outcome = OptString(obj, "closure", "outcome");
  return closure;
}

template <typename Json>
Caller EventReader<Json>::ReadCaller(const Json& obj) {
  Caller caller;
  if (const Json* phone = Find(obj, "phone")) {
    // Some exports write the number as a JSON integer; phone::Normalize judges the digits. Never
    // a float: its digits may be a spreadsheet's rounding (4.47701E+11), another person's number.
    if (phone->is_number_unsigned()) {
      caller.phone = std::to_string(phone->template get<std::uint64_t>());
    } else if (phone->is_string()) {
      caller.phone = Normalised(phone->template get_ref<const std::string&>(), Fold::kNone);
    } else {
      Fail("caller.phone must be a string");
    }
  }
  caller.phone_type = RuleText(obj, "caller", "phone_type", Fold::kLower);
  caller.role = RuleText(obj, "caller", "role", Fold::kLower);
  caller.gender = OptString(obj, "caller", "gender");
  caller.ethnicity = OptString(obj, "caller", "ethnicity");
  caller.language = RuleText(obj, "caller", "language", Fold::kLower);
  caller.survey_consent = RuleText(obj, "caller", "survey_consent", Fold::kLower);
  caller.age = OptAge(obj, "caller", "age");
  caller.vulnerable = OptBool(obj, "caller", "vulnerable");
  return caller;
}

// A type name is echoed in the reason only when it looks like one.
bool SafeToQuote(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
  });
}

template <typename Json>
std::optional<Event> EventReader<Json>::Read(const Json& obj) {
  if (!obj.is_object()) return Fail("not a JSON object");
  Event event;
  if (const Json* seq = Find(obj, "seq")) {
    event.seq = AsInt64(*seq);
    if (!event.seq) return Fail("seq must be an integer");
  }

  const Json* id = Find(obj, "event_id");
  if (id == nullptr) return Fail("missing event_id");
  if (!id->is_string()) return Fail("event_id must be a string");
  event.event_id = id->template get<std::string>();
  if (event.event_id.empty()) return Fail("event_id is empty");
  if (event.event_id.size() > kMaxEventIdLength) return Fail("event_id is too long");

  const Json* type = Find(obj, "type");
  if (type == nullptr) return Fail("missing type");
  if (!type->is_string()) return Fail("type must be a string");
  const auto& type_name = type->template get_ref<const std::string&>();
  const auto parsed_type = ParseEventType(type_name);
  if (!parsed_type) {
    return Fail(SafeToQuote(type_name) ? "unknown type '" + type_name + "'" : "unknown type");
  }
  event.type = *parsed_type;

  const Json* occurred = Find(obj, "occurred_at");
  if (occurred == nullptr) return Fail("missing occurred_at");
  if (!occurred->is_string()) return Fail("occurred_at must be a string");
  const auto occurred_at = ParseRfc3339(occurred->template get_ref<const std::string&>());
  if (!occurred_at) return Fail("occurred_at is not RFC 3339");
  if (!InRfc3339Range(*occurred_at)) return Fail("occurred_at is out of range");
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

template <typename Json>
EventReadResult Read(const Json& object) {
  EventReader<Json> reader;
  EventReadResult result;
  result.event = reader.Read(object);
  if (!result.event) result.reject_reason = reader.error();
  return result;
}

// RFC 3339 in UTC; microseconds only when the time has them, so a round trip loses nothing.
std::string FormatTime(TimePoint t) {
  const auto micros = (t - std::chrono::floor<std::chrono::milliseconds>(t)).count();
  if (micros == 0) return FormatRfc3339(t);
  std::string text = FormatRfc3339(std::chrono::floor<std::chrono::milliseconds>(t));
  char extra[8];
  std::snprintf(extra, sizeof extra, "%03d", static_cast<int>(micros));
  text.insert(text.size() - 1, extra);  // before the 'Z'
  return text;
}

void Put(nlohmann::json& out, const char* key, const std::optional<std::string>& value) {
  if (value) out[key] = *value;
}

void Put(nlohmann::json& out, const char* key, const std::optional<TimePoint>& value) {
  if (value) out[key] = FormatTime(*value);
}

template <typename Json>
NamedContact ReadNamedContact(const Json& object) {
  NamedContact named;
  if (!object.is_object()) return named;
  if (const auto incident = object.find("incident");
      incident != object.end() && incident->is_object()) {
    if (const auto id = incident->find("id"); id != incident->end() && id->is_string()) {
      // Trimmed as a readable event's is (ReadIncident), or a padded id would name no incident.
      const std::string_view incident_id = TrimSpace(id->template get_ref<const std::string&>());
      if (!incident_id.empty() && incident_id.size() <= kMaxEventIdLength) {
        named.incident_id = std::string(incident_id);
      }
    }
  }
  if (const auto caller = object.find("caller"); caller != object.end() && caller->is_object()) {
    if (const auto phone = caller->find("phone"); phone != caller->end()) {
      // Trimmed first: a fixed-width export pads a number far past its length.
      if (phone->is_string()) {
        const std::string_view text = TrimSpace(phone->template get_ref<const std::string&>());
        if (text.size() <= 64) named.phone = std::string(text);
      } else if (const auto digits = NumberAsDigits(*phone)) {
        named.phone = *digits;
      }
    }
  }
  return named;
}

}  // namespace

EventReadResult EventFromJson(const nlohmann::json& object) { return Read(object); }
EventReadResult EventFromJson(const nlohmann::ordered_json& object) { return Read(object); }

std::optional<std::int64_t> JsonInt64(const nlohmann::ordered_json& value) {
  return AsInt64(value);
}

NamedContact ContactNamedBy(const nlohmann::json& object) { return ReadNamedContact(object); }
NamedContact ContactNamedBy(const nlohmann::ordered_json& object) {
  return ReadNamedContact(object);
}

nlohmann::json EventToJson(const Event& event, bool with_phone) {
  using nlohmann::json;
  json out = json::object();
  if (event.seq) out["seq"] = *event.seq;
  out["event_id"] = event.event_id;
  out["type"] = EventTypeName(event.type);
  out["occurred_at"] = FormatTime(event.occurred_at);

  const Incident& i = event.incident;
  json incident = json::object();
  incident["id"] = i.id;
  Put(incident, "opened_at", i.opened_at);
  Put(incident, "type_code", i.type_code);
  Put(incident, "type_label", i.type_label);
  Put(incident, "category", i.category);
  Put(incident, "grade", i.grade);
  if (i.qualifiers) {
    incident["qualifiers"] = *i.qualifiers;
  } else if (!i.partial_qualifiers.empty()) {
    // Written as it was read: the readable flags and an unreadable entry (null).
    json flags = i.partial_qualifiers;
    flags.push_back(nullptr);
    incident["qualifiers"] = std::move(flags);
  }
  json location = json::object();
  Put(location, "npu", i.location.npu);
  Put(location, "beat", i.location.beat);
  Put(location, "postcode_district", i.location.postcode_district);
  if (!location.empty()) incident["location"] = std::move(location);
  out["incident"] = std::move(incident);

  if (event.call) {
    const Call& c = *event.call;
    json call = json::object();
    if (!c.id.empty()) call["id"] = c.id;
    Put(call, "channel", c.channel);
    Put(call, "started_at", c.started_at);
    Put(call, "ended_at", c.ended_at);
    Put(call, "handler_id", c.handler_id);
    Put(call, "handler_team", c.handler_team);
    out["call"] = std::move(call);
  }
  if (event.resource) {
    const Resource& r = *event.resource;
    json resource = json::object();
    Put(resource, "officer_id", r.officer_id);
    Put(resource, "callsign", r.callsign);
    Put(resource, "department", r.department);
    Put(resource, "arrived_at", r.arrived_at);
    Put(resource, "departed_at", r.departed_at);
    out["resource"] = std::move(resource);
  }
  if (event.caller) {
    const Caller& c = *event.caller;
    json caller = json::object();
    if (with_phone) Put(caller, "phone", c.phone);
    Put(caller, "phone_type", c.phone_type);
    Put(caller, "role", c.role);
    if (c.age) caller["age"] = *c.age;
    Put(caller, "gender", c.gender);
    Put(caller, "ethnicity", c.ethnicity);
    Put(caller, "language", c.language);
    if (c.vulnerable) caller["vulnerable"] = *c.vulnerable;
    Put(caller, "survey_consent", c.survey_consent);
    out["caller"] = std::move(caller);
  }
  if (event.closure) {
    json closure = json::object();
    Put(closure, "code", event.closure->code);
    Put(closure, "outcome", event.closure->outcome);
    out["closure"] = std::move(closure);
  }
  return out;
}

}  // namespace surveyd
