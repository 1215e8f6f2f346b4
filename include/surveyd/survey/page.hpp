#pragma once
// The citizen's survey page: small, mobile-first, no external assets, no JavaScript needed,
// accessible, in the citizen's language where we have one.
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/time_zone.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::survey {

// Languages with page texts; others fall back to English.
const std::vector<std::string>& PageLanguages();  // {"en", "pl", "cy"}

struct PageContext {
  std::string force_name = "Police";
  std::string privacy_url;  // optional link to the force's privacy notice
  std::shared_ptr<const TimeZone> zone;
};

struct FormErrors {
  std::vector<std::string> fields;  // names of the invalid fields ("q3", "comment")
  bool save_failed = false;         // valid answers that the store could not take: "try again"
  // No score and no comment: nothing to store, and it would count as an answer in the figures.
  bool nothing_answered = false;
  bool help_now = false;  // the comment raised a safeguarding alert: where to get help, at the top

  bool Has(std::string_view field) const;
  bool Any() const { return !fields.empty() || save_failed || nothing_answered; }
};

// The five questions, in order, with stable keys q1..q5.
const std::vector<std::string>& QuestionKeys();
// The questions as the citizen reads them, in QuestionKeys() order (English when we have no
// texts for `language`); the analysts' API labels its figures with them.
std::vector<std::string> QuestionTexts(std::string_view language);
// The questions' short names, as the force's pilot dashboard named them ("Polite and
// respectful"), in QuestionKeys() order: for tables, reports and column headings (English).
const std::vector<std::string>& QuestionLabels();

// "your call to 101 on Tuesday 24 November" (in `language`).
std::string DescribeContact(const store::SurveyView& survey, const PageContext& ctx,
                            std::string_view language);

std::string RenderSurveyPage(const store::SurveyView& survey, std::string_view token,
                             const PageContext& ctx, const store::SurveyAnswers* previous = nullptr,
                             const FormErrors* errors = nullptr);
// `help_now`: the answer raised a safeguarding alert, so the page says plainly how to get help
// now (999, 101, helplines), in its language. `stop_token`: the survey's link, whose stop link is
// offered at the foot of the page; empty: none.
std::string RenderThanksPage(std::string_view language, const PageContext& ctx,
                             bool already_answered, bool help_now = false,
                             std::string_view stop_token = "");
// A link that leads to no survey (mistyped, cut short): check the whole link was copied, and
// how to reach the force (101, 999 in an emergency).
std::string RenderNotFoundPage(std::string_view language, const PageContext& ctx);
// A survey that closed before it was answered: it takes no answer, and how to reach the force.
// Only the holder of the whole link sees it, so it tells a guesser nothing. `stop_token`: the
// survey's link, whose stop link still works (offered at the foot); empty: none. `help_now`:
// what was posted to it calls for help, so the page says where to get it.
std::string RenderClosedPage(std::string_view language, const PageContext& ctx,
                             std::string_view stop_token = "", bool help_now = false);
std::string RenderOptOutPage(std::string_view language, const PageContext& ctx, bool confirm,
                             std::string_view token);
// The stop link of a survey whose number retention erased: it can no longer be matched to a
// phone, and replying STOP to a text still works.
std::string RenderOptOutUnmatchedPage(std::string_view language, const PageContext& ctx);
std::string RenderRateLimitedPage(std::string_view language, const PageContext& ctx);
// The store is down: "please try again in a few minutes" (and where to get help now, when what
// was posted calls for it).
std::string RenderUnavailablePage(std::string_view language, const PageContext& ctx,
                                  bool help_now = false);

// A language we have texts for: `requested` when we have it (also "pl-PL", "CY"), else "".
std::string MatchLanguage(std::string_view requested);
// The first language of an Accept-Language header that we have texts for, else "".
std::string LanguageFromAcceptLanguage(std::string_view header);

// The one inline <style> every page carries, and its CSP source ("'sha256-...'"), so the
// Content-Security-Policy can allow exactly that style and nothing else.
std::string_view InlineStyle();
const std::string& InlineStyleCspSource();

// Escapes & < > " ' for text and attribute values.
std::string HtmlEscape(std::string_view text);

// Validates a POSTed form: each q1..q5 blank or an integer 0-10, comment <= 2,000 characters
// (Unicode code points). On error, `answers` still holds what could be read, for redisplay.
bool ParseAnswers(std::string_view form_body, store::SurveyAnswers& answers, FormErrors& errors);

}  // namespace surveyd::survey
