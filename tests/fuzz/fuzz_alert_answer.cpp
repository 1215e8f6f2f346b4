// libFuzzer target: an answer through the shipped alert rules and lexicon (alerts::Evaluate and
// the explain text): whatever a citizen types, in any bytes, is tokenised, normalised and matched
// without crashing, and raises at most one alert of each kind.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "surveyd/alerts/alert_rules.hpp"

namespace {

const surveyd::alerts::AlertConfig& Shipped() {
  static const auto loaded =
      surveyd::alerts::LoadAlertConfigFile(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  if (!loaded.config) std::abort();  // the shipped rules must load
  return *loaded.config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  surveyd::alerts::Answer answer;
  // The first byte chooses the scores (blank, or 0-10 each), the rest is the comment.
  if (size > 0) {
    for (int i = 0; i < 5; ++i) {
      const int bits = (data[0] >> i) & 1;
      if (bits != 0) answer.q[i] = (data[0] + i * 3) % 11;
    }
    answer.comment.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  }
  answer.group = size % 2 == 0 ? "force_contact" : "";
  const auto evaluation = surveyd::alerts::Evaluate(Shipped(), answer);
  std::set<int> kinds;
  for (const auto& alert : evaluation.alerts) {
    if (!kinds.insert(static_cast<int>(alert.kind)).second) std::abort();  // one per kind
  }
  (void)surveyd::alerts::ExplainAnswer(evaluation, answer);
  return 0;
}
