#include "feed/name_scanner.hpp"

#include <cstdint>
#include <optional>

#include "surveyd/core/event_json.hpp"

namespace surveyd::feed {
namespace {

// A key or value longer than this, as written (escapes and all, spaces around it left out), is
// none this scan reads out (event ids and incident ids are at most 128 characters, numbers far
// shorter; each \u escape takes six bytes), and is not kept.
constexpr std::size_t kMaxKept = 1024;

bool Space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A key as written between its quotes, with its escapes read ("\u0069d" is "id").
std::string Key(const std::string& text) {
  if (text.find('\\') == std::string::npos) return text;
  const auto key = nlohmann::ordered_json::parse("\"" + text + "\"", nullptr, false);
  return key.is_string() ? key.get<std::string>() : std::string();
}

// JSON text read out (a quoted string, or a number) as its value; null if it is not JSON.
nlohmann::ordered_json Value(const std::string& text) {
  if (text.empty()) return nullptr;
  auto value = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return nullptr;
  return value;
}

}  // namespace

void ReadEnvelope(const nlohmann::ordered_json& object, IngestItem& item) {
  if (const auto it = object.find("seq"); it != object.end()) item.seq = JsonInt64(*it);
  if (const auto id = object.find("event_id"); id != object.end() && id->is_string()) {
    const auto& event_id = id->get_ref<const std::string&>();
    if (event_id.size() <= kMaxEventIdLength) item.event_id = event_id;
  }
}

void NameScanner::Feed(std::string_view piece) {
  for (const char c : piece) {
    if (state_ == State::kDone) return;
    Step(c);
  }
}

NameScanner::Field NameScanner::FieldAt() const {
  if (depth_ == 1 && keys_[0] == "seq") return Field::kSeq;
  if (depth_ == 1 && keys_[0] == "event_id") return Field::kEventId;
  if (depth_ == 2 && keys_[0] == "incident" && keys_[1] == "id") return Field::kIncidentId;
  if (depth_ == 2 && keys_[0] == "caller" && keys_[1] == "phone") return Field::kPhone;
  return Field::kNone;
}

void NameScanner::Step(char c) {
  switch (state_) {
    case State::kStart:
      // Spaces, and a UTF-8 byte order mark (a Windows export's first line), as the parser.
      if (Space(c) || c == '\xEF' || c == '\xBB' || c == '\xBF') return;
      state_ = c == '{' ? State::kKey : State::kDone;
      depth_ = 1;
      return;
    case State::kKey:
      if (Space(c)) return;
      if (c == '}') return Close();  // an empty object, or a comma before its end
      if (c != '"') {
        state_ = State::kDone;
        return;
      }
      reading_key_ = true;
      field_ = Field::kNone;
      text_.clear();
      spaces_ = 0;
      too_long_ = false;
      state_ = State::kString;
      return;
    case State::kColon:
      if (Space(c)) return;
      state_ = c == ':' ? State::kValue : State::kDone;
      return;
    case State::kValue:
      if (Space(c)) return;
      return StartValue(c);
    case State::kString:
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        if (reading_key_) {
          keys_[static_cast<std::size_t>(depth_ - 1)] = too_long_ ? std::string() : Key(text_);
          reading_key_ = false;
          state_ = State::kColon;
        } else {
          Keep("\"" + text_ + "\"");
          EndValue();
        }
        return;
      }
      return Append(c);
    case State::kToken:
      if (Space(c) || c == ',' || c == '}' || c == ']') {
        Keep(text_);
        EndValue();
        return Step(c);
      }
      return Append(c);
    case State::kAfter:
      if (Space(c)) return;
      // Only objects are open here: arrays are skipped whole.
      if (c == ',') {
        state_ = State::kKey;
      } else if (c == '}') {
        Close();
      } else {
        state_ = State::kDone;
      }
      return;
    case State::kSkip:
      if (skip_string_) {
        if (escaped_) {
          escaped_ = false;
        } else if (c == '\\') {
          escaped_ = true;
        } else if (c == '"') {
          skip_string_ = false;
        }
      } else if (c == '"') {
        skip_string_ = true;
      } else if (c == '{' || c == '[') {
        ++skipped_;
      } else if ((c == '}' || c == ']') && --skipped_ == 0) {
        EndValue();
      }
      return;
    case State::kDone:
      return;
  }
}

void NameScanner::StartValue(char c) {
  if (c == '{' && depth_ == 1) {  // incident, caller: their members are read
    depth_ = 2;
    keys_[1].clear();
    state_ = State::kKey;
    return;
  }
  if (c == '{' || c == '[') {  // anything deeper, and arrays, only counted through
    skipped_ = 1;
    skip_string_ = false;
    escaped_ = false;
    state_ = State::kSkip;
    return;
  }
  if (c == '}' || c == ']' || c == ',' || c == ':') {
    state_ = State::kDone;
    return;
  }
  field_ = FieldAt();
  text_.clear();
  spaces_ = 0;
  too_long_ = false;
  if (c == '"') {
    state_ = State::kString;
  } else {
    state_ = State::kToken;
    Append(c);
  }
}

void NameScanner::Append(char c) {
  if (!reading_key_ && field_ == Field::kNone) return;
  // A value's spaces before and after it are not kept (the reader trims them): a fixed-width
  // export pads a number or an id far past any length kept. Those between are, when more comes.
  if (!reading_key_ && c == ' ') {
    if (!text_.empty()) ++spaces_;
    return;
  }
  if (text_.size() + spaces_ >= kMaxKept) {
    too_long_ = true;
    return;
  }
  text_.append(spaces_, ' ');
  spaces_ = 0;
  text_.push_back(c);
}

void NameScanner::Keep(const std::string& text) {
  if (field_ == Field::kNone) return;
  std::string* into = field_ == Field::kSeq          ? &seq_
                      : field_ == Field::kEventId    ? &event_id_
                      : field_ == Field::kIncidentId ? &incident_id_
                                                     : &phone_;
  // The last, where a key was given twice, as the parser reads it; one too long names nothing.
  *into = too_long_ ? std::string() : text;
}

void NameScanner::EndValue() {
  field_ = Field::kNone;
  state_ = State::kAfter;
}

void NameScanner::Close() {
  if (--depth_ == 0) {
    state_ = State::kDone;  // the event's object ended
  } else {
    EndValue();
  }
}

nlohmann::ordered_json NameScanner::Names() const {
  nlohmann::ordered_json names = nlohmann::ordered_json::object();
  if (auto seq = Value(seq_); !seq.is_null()) names["seq"] = std::move(seq);
  if (auto id = Value(event_id_); !id.is_null()) names["event_id"] = std::move(id);
  if (auto id = Value(incident_id_); !id.is_null()) names["incident"]["id"] = std::move(id);
  if (auto phone = Value(phone_); !phone.is_null()) names["caller"]["phone"] = std::move(phone);
  return names;
}

void NameScanner::Name(IngestItem& item) const {
  const nlohmann::ordered_json names = Names();
  ReadEnvelope(names, item);
  NamedContact named = ContactNamedBy(names);
  item.incident_id = std::move(named.incident_id);
  item.phone = std::move(named.phone);
}

}  // namespace surveyd::feed
