#pragma once
// What a line names when it cannot be parsed whole: cut short, nested past the parser's limit, a
// number out of range in a field no one reads, or longer than a line may be. Such a line may be
// the one that rules a contact out (a DOMESTIC flag), so the texts of the incident and number it
// names are held (IngestItem): here they are read from its text, as far as the text is
// well-formed, by a scan that keeps no more than what it reads out.
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "surveyd/core/ingest_item.hpp"

namespace surveyd::feed {

// Reads what can be read even from an event that will be rejected: the store keys rejected lines
// by event_id when there is one, and the TCP cursor moves past them by seq.
void ReadEnvelope(const nlohmann::ordered_json& object, IngestItem& item);

// Reads a top-level object's seq, event_id, incident.id and caller.phone (the last of each, as
// the parser reads a key given twice) from JSON text fed in pieces, in order: a line too long to
// keep arrives in reads and is never held whole. Anything past the first point where the text
// stops being JSON is not read; neither is a top-level array.
class NameScanner {
 public:
  void Feed(std::string_view piece);

  // What it read, in the shape of an event ({"seq", "event_id", "incident": {"id"}, "caller":
  // {"phone"}}, each only when read), for ContactNamedBy and the envelope's reader.
  nlohmann::ordered_json Names() const;

  // A rejected item's event id and seq, and the incident and number its text names, as far as
  // the scan read them: its incident's and number's texts are held.
  void Name(IngestItem& item) const;

 private:
  enum class State { kStart, kKey, kColon, kValue, kString, kToken, kAfter, kSkip, kDone };
  // A field this scan reads out, or none.
  enum class Field { kNone, kSeq, kEventId, kIncidentId, kPhone };

  void Step(char c);
  void StartValue(char c);
  void Append(char c);                 // to the key or value being read, when it is kept
  void Keep(const std::string& text);  // the value just read, when it is a field read out
  void EndValue();
  void Close();  // an object's '}'
  Field FieldAt() const;

  State state_ = State::kStart;
  // The objects open: the event (1) and one of its members (2); deeper values are skipped.
  int depth_ = 0;
  std::array<std::string, 2> keys_;  // the key being read or last read, at each depth
  bool reading_key_ = false;         // the string being read is a key
  bool escaped_ = false;
  Field field_ = Field::kNone;  // what the value being read is
  std::string text_;            // the key or value being read, when it is kept
  std::size_t spaces_ = 0;      // ... spaces read after it, kept only if more comes
  bool too_long_ = false;       // ... and it outgrew what is kept
  int skipped_ = 0;             // brackets open in a skipped value
  bool skip_string_ = false;    // in a string in a skipped value
  std::string seq_, event_id_, incident_id_, phone_;  // as JSON text: "\"...\"" or digits
};

}  // namespace surveyd::feed
