#pragma once
// The values the feed contract (shared/spec/feed.md) allows in the fields the rules read. The
// loader warns about a rule naming anything else (it could never match: almost always a typo);
// Decide reads an event's value outside them as unclear, never as "no".
#include <string>
#include <string_view>
#include <vector>

namespace surveyd::rules {

// A flag as it is meant, whatever a log, an export or a rules file did to it: upper case, each
// run of spaces, hyphens and other marks one underscore ("sexual offence", "Sexual-Offence":
// SEXUAL_OFFENCE). decide.cpp.
std::string FlagKey(std::string_view flag);

}  // namespace surveyd::rules

namespace surveyd::rules::contract {

inline const std::vector<std::string> kChannels = {"999", "101", "live_chat", "online",
                                                   "in_person"};
inline const std::vector<std::string> kCategories = {
    "crime", "asb", "public_safety", "transport", "welfare", "admin", "other"};
inline const std::vector<std::string> kGrades = {"P1", "P2", "P3", "P4", "SCHEDULED", "RWD"};
inline const std::vector<std::string> kRoles = {"victim", "witness", "informant", "third_party",
                                                "professional"};
inline const std::vector<std::string> kPhoneTypes = {"mobile", "landline", "withheld", "unknown"};
inline const std::vector<std::string> kConsents = {"unknown", "given", "declined"};

}  // namespace surveyd::rules::contract
