#pragma once
// The words a template's {day} and {channel} become, per language. Shared by Decide, which renders
// texts, and by the length check of `rules check`, which tries every value.
#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "rules/ascii.hpp"

namespace surveyd::rules::labels {

inline const char* DayName(std::string_view language, int weekday) {
  static const char* const kEn[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday"};
  // Without diacritics, like the Polish templates: GSM-7 keeps a text to one 160-character part.
  static const char* const kPl[] = {"niedziela", "poniedzialek", "wtorek", "sroda",
                                    "czwartek",  "piatek",       "sobota"};
  static const char* const kCy[] = {"dydd Sul", "dydd Llun",   "dydd Mawrth", "dydd Mercher",
                                    "dydd Iau", "dydd Gwener", "dydd Sadwrn"};
  const int day = ((weekday % 7) + 7) % 7;
  if (language == "pl") return kPl[day];
  if (language == "cy") return kCy[day];
  return kEn[day];
}

inline std::string ChannelLabel(std::string_view language,
                                const std::optional<std::string>& channel) {
  if (!channel.has_value()) return language == "pl" ? "kontakt" : "contact";
  const std::string& c = *channel;
  if (ascii::EqualsIgnoreCase(c, "live_chat")) {
    return language == "pl" ? "czat" : language == "cy" ? "sgwrs fyw" : "live chat";
  }
  if (ascii::EqualsIgnoreCase(c, "in_person")) {
    return language == "pl" ? "wizyta" : language == "cy" ? "ymweliad" : "in person";
  }
  std::string label = c;
  std::replace(label.begin(), label.end(), '_', ' ');
  return label;
}

// Every channel a call can have (the feed contract's list), and none.
inline const std::array<std::optional<std::string>, 6>& Channels() {
  static const std::array<std::optional<std::string>, 6> kChannels = {
      std::nullopt, "999", "101", "live_chat", "online", "in_person"};
  return kChannels;
}

// "en-GB", "PL" -> "en", "pl".
inline std::string PrimaryLanguage(const std::string& tag) {
  const std::size_t end = tag.find_first_of("-_");
  return ascii::ToLower(std::string_view(tag).substr(0, end));
}

}  // namespace surveyd::rules::labels
