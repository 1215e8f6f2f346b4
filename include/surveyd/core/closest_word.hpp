#pragma once
// Which of the names we know a mistyped one was meant to be: for "did you mean ...?" in the
// messages about the rules file (rules::LoadFile) and the environment (config::UnknownVariables).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace surveyd {

// Optimal string alignment distance, ASCII case ignored: a swapped pair of letters counts as one
// typo.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidate close enough to be the intended word (one typo in a short word, two in one of 5
// letters or more), or "".
std::string ClosestWord(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace surveyd
