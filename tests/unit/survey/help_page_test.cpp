// The thank-you page of an answer that raised a safeguarding alert says plainly how to get help
// now, in the page's language, without a script (the page's CSP allows none).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "surveyd/survey/handler.hpp"
#include "surveyd/survey/page.hpp"

namespace surveyd::survey {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HelpPage, ThanksPageSaysHowToGetHelpInItsLanguage) {
  PageContext ctx;
  ctx.force_name = "West Midlands Police";
  const std::string en = RenderThanksPage("en", ctx, false, true);
  EXPECT_THAT(en, HasSubstr("<h2 id=\"help-now\">If you need help now</h2>"));
  EXPECT_THAT(en, HasSubstr("call <a href=\"tel:999\">999</a>"));
  EXPECT_THAT(en, HasSubstr("press 55"));
  EXPECT_THAT(en, HasSubstr("<a href=\"tel:101\">101</a>"));
  EXPECT_THAT(en, HasSubstr("National Domestic Abuse Helpline: <a href=\"tel:08082000247\">0808 "
                            "2000 247</a>"));
  EXPECT_THAT(en, HasSubstr("<a href=\"tel:116123\">116 123</a>"));
  EXPECT_THAT(en, HasSubstr("Thank you"));
  EXPECT_THAT(en, Not(HasSubstr("<script")));

  const std::string pl = RenderThanksPage("pl", ctx, false, true);
  EXPECT_THAT(pl, HasSubstr("<html lang=\"pl\">"));
  EXPECT_THAT(pl, HasSubstr("Jeśli potrzebujesz pomocy teraz"));
  EXPECT_THAT(pl, HasSubstr("zadzwoń pod numer <a href=\"tel:999\">999</a>"));
  EXPECT_THAT(pl, HasSubstr("tel:08082000247"));

  const std::string cy = RenderThanksPage("cy", ctx, true, true);
  EXPECT_THAT(cy, HasSubstr("Os oes angen help arnoch chi nawr"));
  EXPECT_THAT(cy, HasSubstr("ffoniwch <a href=\"tel:999\">999</a>"));
  EXPECT_THAT(cy, HasSubstr("Byw Heb Ofn (Live Fear Free): <a href=\"tel:08088010800\">"));
  EXPECT_THAT(cy, HasSubstr("tel:08081640123"));

  EXPECT_THAT(RenderThanksPage("en", ctx, false), Not(HasSubstr("help-now")));
  // 101 and 999 are on every thank-you page; the helplines only with the help.
  EXPECT_THAT(RenderThanksPage("en", ctx, false, false), Not(HasSubstr("116 123")));
}

TEST(HelpPage, StyleStaysTheOneTheCspAllows) {
  PageContext ctx;
  const std::string page = RenderThanksPage("en", ctx, false, true);
  EXPECT_THAT(page, HasSubstr("<style>" + std::string(InlineStyle()) + "</style>"));
  EXPECT_THAT(SurveyContentSecurityPolicy(), HasSubstr(InlineStyleCspSource()));
  EXPECT_THAT(SurveyContentSecurityPolicy(), Not(HasSubstr("script-src")));
}

TEST(HelpPage, FormShownAgainCarriesTheHelpToo) {
  PageContext ctx;
  store::SurveyView survey;
  survey.survey_id = 1;
  survey.language = "en";
  survey.contact_at = FromUnixSeconds(1'800'000'000);
  survey.expires_at = FromUnixSeconds(1'800'100'000);
  FormErrors errors;
  errors.save_failed = true;
  errors.help_now = true;
  store::SurveyAnswers answers;
  answers.comment = "he is back";
  const std::string page =
      RenderSurveyPage(survey, "4vGMtB_QEyI2oH0EpkDUgw", ctx, &answers, &errors);
  EXPECT_THAT(page, HasSubstr("If you need help now"));
  errors.help_now = false;
  EXPECT_THAT(RenderSurveyPage(survey, "4vGMtB_QEyI2oH0EpkDUgw", ctx, &answers, &errors),
              Not(HasSubstr("If you need help now")));
}

}  // namespace
}  // namespace surveyd::survey
