// libFuzzer target: the rules loader (rules::LoadString). A file either loads or is refused with
// errors; rules that load decide a few ordinary events without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "surveyd/feed/event_parser.hpp"
#include "surveyd/rules/rules.hpp"

namespace {

const std::vector<surveyd::Event>& Events() {
  static const auto* events = [] {
    auto* out = new std::vector<surveyd::Event>;
    for (const char* line : {
             R"({"event_id":"F-1","type":"call.ended","occurred_at":"2026-11-24T10:00:00Z",)"
             R"("incident":{"id":"I-1","type_code":"BURG-RES","category":"crime","grade":"P3",)"
             R"("qualifiers":[]},"call":{"id":"C-1","channel":"101"},)"
             R"("caller":{"phone":"07700 900123","phone_type":"mobile","age":41,"language":"en"}})",
             R"({"event_id":"F-2","type":"resource.departed","occurred_at":"2026-11-24T23:30:00Z",)"
             R"("incident":{"id":"I-2","type_code":"DOM-ABUSE","qualifiers":["DOMESTIC"]},)"
             R"("resource":{"officer_id":"PC1"},"caller":{"phone":"+447700900124","age":15}})",
         }) {
      auto item = surveyd::feed::ParseEvent(line, "replay");
      if (item.event) out->push_back(*item.event);
    }
    return out;
  }();
  return *events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const auto loaded = surveyd::rules::LoadString(yaml, "fuzz.yaml");
  if ((loaded.rules == nullptr) == loaded.errors.empty()) std::abort();
  if (!loaded.rules) return 0;
  const auto now = surveyd::FromUnixSeconds(1'795'500'000);
  for (const auto& event : Events()) {
    const auto decision = surveyd::rules::Decide(*loaded.rules, event, {}, now);
    if (decision.outcome == surveyd::Decision::Outcome::kSurvey && decision.phone.e164.empty()) {
      std::abort();  // a survey must have somewhere to go
    }
  }
  return 0;
}
