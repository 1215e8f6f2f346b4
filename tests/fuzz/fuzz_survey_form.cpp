// libFuzzer target: the survey form (survey::ParseAnswers, the body of POST /s/{token}) and the
// page shown again with what was read. Valid answers are in range; nothing a citizen types can
// leave the comment box of the page drawn again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "surveyd/survey/page.hpp"

namespace {

std::size_t Count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::size_t CodePoints(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  surveyd::store::SurveyAnswers answers;
  surveyd::survey::FormErrors errors;
  const bool valid = surveyd::survey::ParseAnswers(body, answers, errors);
  if (valid != !errors.Any()) std::abort();
  // Nothing answered is said only of a form with no mistake in it.
  if (errors.nothing_answered && !errors.fields.empty()) std::abort();
  for (const auto& q : answers.q) {
    if (q && (*q < 0 || *q > 10)) std::abort();
  }
  if (valid && CodePoints(answers.comment) > 2000) std::abort();

  surveyd::store::SurveyView view;
  view.survey_id = 1;
  view.language = answers.language.empty() ? "en" : answers.language;
  view.channel = "999";
  const std::string page =
      surveyd::survey::RenderSurveyPage(view, "4vGMtB_QEyI2oH0EpkDUgw", {}, &answers, &errors);
  if (Count(page, "<textarea") != 1 || Count(page, "</textarea>") != 1) std::abort();
  if (Count(page, "<script") != 0) std::abort();
  return 0;
}
