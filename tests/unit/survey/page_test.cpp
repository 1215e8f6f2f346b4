#include "surveyd/survey/page.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "surveyd/core/crypto.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::survey {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::string_literals;

constexpr const char* kToken = "4vGMtB_QEyI2oH0EpkDUgw";

std::size_t Count(const std::string& text, std::string_view needle) {
  std::size_t count = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// Everything between the first `open` and the next `close`.
std::string Between(const std::string& text, std::string_view open, std::string_view close) {
  const std::size_t start = text.find(open);
  if (start == std::string::npos) return "";
  const std::size_t from = start + open.size();
  return text.substr(from, text.find(close, from) - from);
}

class PageTest : public ::testing::Test {
 protected:
  PageTest() {
    ctx_.force_name = "West Midlands Police";
    ctx_.zone = TimeZone::Load("Europe/London");
    survey_.survey_id = 42;
    survey_.language = "en";
    survey_.event_type = EventType::kCallEnded;
    survey_.channel = "101";
    survey_.contact_at = *ParseRfc3339("2026-11-24T10:00:00Z");
    survey_.expires_at = *ParseRfc3339("2026-12-01T10:00:00Z");
  }

  PageContext ctx_;
  store::SurveyView survey_;
};

TEST(HtmlEscapeTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\" title='y'>&amp;</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("Zażółć gęślą"), "Zażółć gęślą");
  EXPECT_EQ(HtmlEscape(""), "");
}

TEST_F(PageTest, DescribesTheContactNeutrallyInEachLanguage) {
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"), "your call to 101 on Tuesday 24 November");
  EXPECT_EQ(DescribeContact(survey_, ctx_, "pl"),
            "Twojego połączenia z numerem 101 we wtorek, 24 listopada");
  EXPECT_EQ(DescribeContact(survey_, ctx_, "cy"), "eich galwad i 101 ddydd Mawrth 24 Tachwedd");
  EXPECT_EQ(DescribeContact(survey_, ctx_, "fr"), "your call to 101 on Tuesday 24 November");

  survey_.channel = "999";
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"), "your call to 999 on Tuesday 24 November");
  survey_.channel.reset();
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"), "your contact with us on Tuesday 24 November");
  survey_.event_type = EventType::kResourceDeparted;
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"),
            "the visit from an officer on Tuesday 24 November");
  survey_.event_type = EventType::kIncidentClosed;
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"), "your report, closed on Tuesday 24 November");
}

// The audit: a tapped score could not be taken back (a radio once chosen stays chosen without
// JavaScript). Each question offers "prefer not to say", a radio of its group that posts the
// question blank: no answer, never a score.
TEST_F(PageTest, AChosenScoreCanBeTakenBackWithPreferNotToSay) {
  for (const auto& [language, words] :
       std::vector<std::pair<std::string, std::string>>{{"en", "Prefer not to say"},
                                                        {"pl", "Wolę nie odpowiadać"},
                                                        {"cy", "Gwell gen i beidio ag ateb"}}) {
    survey_.language = language;
    const std::string page = RenderSurveyPage(survey_, kToken, ctx_);
    for (const auto& key : QuestionKeys()) {
      // Inside its question's fieldset, with a label of its own, after the scores.
      const std::string fieldset = Between(page, "<fieldset id=\"" + key + "\">", "</fieldset>");
      EXPECT_THAT(fieldset, HasSubstr("<input type=\"radio\" name=\"" + key + "\" id=\"" + key +
                                      "-skip\" value=\"\"><label class=\"skip\" for=\"" + key +
                                      "-skip\">" + words + "</label>"))
          << language;
      EXPECT_GT(fieldset.find(key + "-skip"), fieldset.find(key + "-10")) << language;
    }
  }
  // A touch target, on a row of its own under the scale.
  EXPECT_THAT(std::string(InlineStyle()),
              HasSubstr(".scale .skip{grid-column:1/-1;min-height:44px"));
  // Chosen, it posts the question blank: stored as no answer.
  store::SurveyAnswers answers;
  FormErrors errors;
  EXPECT_TRUE(ParseAnswers("q1=&q2=7&q3=&q4=&q5=&comment=", answers, errors));
  EXPECT_FALSE(answers.q[0].has_value());
  EXPECT_EQ(answers.q[1], 7);
  EXPECT_FALSE(answers.q[2].has_value());
  // Every question skipped and no comment: nothing to store, and the page says so.
  store::SurveyAnswers none;
  FormErrors nothing;
  EXPECT_FALSE(ParseAnswers("q1=&q2=&q3=&q4=&q5=&comment=", none, nothing));
  EXPECT_TRUE(nothing.nothing_answered);
}

// The texts have no room to say how to check they are genuine (they say how to opt out): the
// page's first lines do, before any question, in every language.
TEST_F(PageTest, TheFirstLinesSayThePageIsTheForcesAndHowToCheck) {
  for (const auto& [language, words] : std::vector<std::pair<std::string, std::string>>{
           {"en", "This survey is from West Midlands Police. We will never ask you for money"},
           {"pl", "Ta ankieta pochodzi od West Midlands Police. Nigdy nie poprosimy"},
           {"cy", "Mae&#39;r arolwg hwn gan West Midlands Police. Fyddwn ni byth"}}) {
    survey_.language = language;
    const std::string page = RenderSurveyPage(survey_, kToken, ctx_);
    const std::size_t at = page.find(words);
    ASSERT_NE(at, std::string::npos) << language;
    EXPECT_LT(at, page.find("<form")) << language;
    const std::string line = page.substr(at, page.find("</p>", at) - at);
    EXPECT_THAT(line, HasSubstr("101")) << language;
  }
}

TEST_F(PageTest, DatesAreInTheLocalTimeZone) {
  // 23:30 UTC on Monday 6 July is 00:30 on Tuesday 7 July in London (BST).
  survey_.contact_at = *ParseRfc3339("2026-07-06T23:30:00Z");
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"), "your call to 101 on Tuesday 7 July");
  ctx_.zone = TimeZone::Utc();
  EXPECT_EQ(DescribeContact(survey_, ctx_, "en"), "your call to 101 on Monday 6 July");
  ctx_.zone = nullptr;  // no zone configured: UTC
  EXPECT_EQ(DescribeContact(survey_, ctx_, "pl"),
            "Twojego połączenia z numerem 101 w poniedziałek, 6 lipca");
}

TEST_F(PageTest, EveryLanguageRendersTheWholeForm) {
  std::set<std::string> first_questions;
  for (const auto& language : PageLanguages()) {
    SCOPED_TRACE(language);
    survey_.language = language;
    const std::string page = RenderSurveyPage(survey_, kToken, ctx_);
    EXPECT_THAT(page, HasSubstr("<html lang=\"" + language + "\">"));
    EXPECT_THAT(page, HasSubstr("<meta name=\"viewport\""));
    EXPECT_EQ(Count(page, "<fieldset"), 5u);
    EXPECT_EQ(Count(page, "<legend>"), 5u);
    EXPECT_EQ(Count(page, "type=\"radio\""), 60u);  // 0-10 and "prefer not to say", each
    for (const auto& key : QuestionKeys()) {
      EXPECT_EQ(Count(page, "name=\"" + key + "\""), 12u) << key;
      EXPECT_THAT(page, HasSubstr("id=\"" + key + "-0\" value=\"0\""));
      EXPECT_THAT(page, HasSubstr("id=\"" + key + "-10\" value=\"10\""));
      // A legend with real text after its number.
      const std::string legend =
          Between(page, "<fieldset id=\"" + key + "\">\n<legend>", "</legend>");
      EXPECT_GT(legend.size(), 20u) << key;
    }
    first_questions.insert(Between(page, "<legend>", "</legend>"));
    EXPECT_THAT(page, HasSubstr("maxlength=\"2000\""));
    EXPECT_THAT(page, HasSubstr("<label class=\"cl\" for=\"comment\">"));
    EXPECT_THAT(page, HasSubstr("<textarea id=\"comment\" name=\"comment\""));
    EXPECT_THAT(page, HasSubstr("<button type=\"submit\">"));
    EXPECT_THAT(page, HasSubstr("<form method=\"post\" action=\"" + std::string(kToken) + "\""));
    EXPECT_THAT(page, HasSubstr(kToken + std::string("/stop")));
    EXPECT_THAT(page, HasSubstr("<input type=\"hidden\" name=\"lang\" value=\"" + language));
    EXPECT_EQ(Count(page, "<style>"), 1u);
    EXPECT_THAT(page, Not(HasSubstr("<script")));
    EXPECT_THAT(page, Not(HasSubstr("<link")));
    EXPECT_THAT(page, Not(HasSubstr(" checked")));
    EXPECT_LT(page.size(), 20u * 1024);
    // The switcher links the other two languages.
    for (const auto& other : PageLanguages()) {
      EXPECT_EQ(Count(page, "?lang=" + other + "\" hreflang"), other == language ? 0u : 1u);
    }
  }
  EXPECT_EQ(first_questions.size(), 3u);  // really translated
}

TEST_F(PageTest, UnknownLanguageFallsBackToEnglish) {
  survey_.language = "de";
  const std::string page = RenderSurveyPage(survey_, kToken, ctx_);
  EXPECT_THAT(page, HasSubstr("<html lang=\"en\">"));
  EXPECT_THAT(page, HasSubstr("Were you treated politely and with respect?"));
}

TEST_F(PageTest, ShowsScaleEndsAndPrivacyNote) {
  ctx_.privacy_url = "https://example.police.uk/privacy?a=1&b=2";
  const std::string page = RenderSurveyPage(survey_, kToken, ctx_);
  EXPECT_EQ(Count(page, "<span>0 Not at all</span>"), 5u);
  EXPECT_EQ(Count(page, "<span>10 Completely</span>"), 5u);
  EXPECT_THAT(page, HasSubstr("This survey is about your call to 101 on Tuesday 24 November."));
  EXPECT_THAT(page, HasSubstr("improve our service"));
  EXPECT_THAT(page, HasSubstr("<a href=\"https://example.police.uk/privacy?a=1&amp;b=2\">"));
}

TEST_F(PageTest, PrivacyLinkOnlyForWebAddresses) {
  ctx_.privacy_url = "javascript:alert(1)";
  EXPECT_THAT(RenderSurveyPage(survey_, kToken, ctx_), Not(HasSubstr("javascript:")));
  ctx_.privacy_url.clear();
  EXPECT_THAT(RenderSurveyPage(survey_, kToken, ctx_), Not(HasSubstr("How we use")));
}

TEST_F(PageTest, EscapesEverythingItWasGiven) {
  ctx_.force_name = "<script>alert('x')</script> & Co";
  store::SurveyAnswers previous;
  previous.comment = "</textarea><script>alert(1)</script>";
  const std::string page = RenderSurveyPage(survey_, "a\"b<c", ctx_, &previous);
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr("a\"b<c")));
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
  EXPECT_THAT(page, HasSubstr("&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>"));
  for (const auto& page_text :
       {RenderThanksPage("en", ctx_, false), RenderNotFoundPage("en", ctx_),
        RenderClosedPage("en", ctx_, "x\"y", true), RenderRateLimitedPage("en", ctx_),
        RenderOptOutPage("en", ctx_, true, "x\"y"), RenderUnavailablePage("en", ctx_)}) {
    EXPECT_THAT(page_text, Not(HasSubstr("<script")));
    EXPECT_THAT(page_text, Not(HasSubstr("x\"y")));
  }
}

TEST_F(PageTest, RedisplayKeepsValuesAndMarksInvalidFields) {
  store::SurveyAnswers previous;
  previous.q[0] = 7;
  previous.q[4] = 0;
  previous.comment = "Helpful officer";
  FormErrors errors;
  errors.fields = {"q3", "comment"};
  const std::string page = RenderSurveyPage(survey_, kToken, ctx_, &previous, &errors);

  EXPECT_THAT(page, HasSubstr("id=\"q1-7\" value=\"7\" checked>"));
  EXPECT_THAT(page, HasSubstr("id=\"q5-0\" value=\"0\" checked>"));
  EXPECT_EQ(Count(page, " checked"), 2u);
  EXPECT_THAT(page, HasSubstr(">\nHelpful officer</textarea>"));

  EXPECT_EQ(Count(page, "name=\"q3\""), 12u);  // 0-10 and "prefer not to say"
  EXPECT_EQ(Count(page, "aria-invalid=\"true\" aria-describedby=\"q3-err\""), 12u);
  EXPECT_THAT(page, HasSubstr("<fieldset id=\"q3\" class=\"invalid\""));
  EXPECT_THAT(page, HasSubstr("<p class=\"err\" id=\"q3-err\">"));
  EXPECT_THAT(page,
              HasSubstr("aria-describedby=\"comment-hint comment-err\" aria-invalid=\"true\""));
  EXPECT_THAT(page, HasSubstr("<a href=\"#q3\">Question 3: "));
  EXPECT_THAT(page, HasSubstr("role=\"alert\""));
  // Only the invalid fields are marked.
  EXPECT_EQ(Count(page.substr(page.find("</style>")), "aria-invalid"), 13u);
}

TEST_F(PageTest, SaveFailedSaysTryAgain) {
  FormErrors errors;
  errors.save_failed = true;
  store::SurveyAnswers previous;
  previous.q[1] = 9;
  const std::string page = RenderSurveyPage(survey_, kToken, ctx_, &previous, &errors);
  EXPECT_THAT(page, HasSubstr("could not save your answers"));
  EXPECT_THAT(page, HasSubstr("id=\"q2-9\" value=\"9\" checked>"));
  EXPECT_THAT(page.substr(page.find("</style>")), Not(HasSubstr("aria-invalid")));
}

TEST_F(PageTest, NothingAnsweredSaysWhatToDo) {
  FormErrors errors;
  errors.nothing_answered = true;
  const std::string page = RenderSurveyPage(survey_, kToken, ctx_, nullptr, &errors);
  EXPECT_THAT(page, HasSubstr("role=\"alert\""));
  EXPECT_THAT(page, HasSubstr("<a href=\"#q1\">Please answer at least one question, or write a "
                              "comment, before you send.</a>"));
  EXPECT_THAT(page.substr(page.find("</style>")), Not(HasSubstr("aria-invalid")));
}

TEST_F(PageTest, InlineStyleHashMatchesThePage) {
  const std::string page = RenderSurveyPage(survey_, kToken, ctx_);
  const std::string style = Between(page, "<style>", "</style>");
  ASSERT_EQ(style, InlineStyle());
  const std::string hex = crypto::Sha256Hex(style);
  std::string digest;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    digest.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  EXPECT_EQ(InlineStyleCspSource(), "'sha256-" + crypto::Base64(digest) + "'");
  // Touch targets of at least 44px.
  EXPECT_THAT(style, HasSubstr(".scale label{display:flex;align-items:center;"
                               "justify-content:center;min-height:48px"));
}

// The audit: a truncated link showed a page headed "Thank you" with no advice. A link that leads
// nowhere says so, asks for the whole link and says how to reach the force; a closed survey's
// says it closed (only its holder sees that), with its stop link.
TEST_F(PageTest, BadAndClosedLinksSayWhatHappenedAndWhatToDo) {
  const std::string unknown = RenderNotFoundPage("en", ctx_);
  EXPECT_THAT(unknown, HasSubstr("<h1>This link does not work</h1>"));
  EXPECT_THAT(unknown, HasSubstr("check that you copied the whole link"));
  EXPECT_THAT(unknown, HasSubstr("To contact us, call <a href=\"tel:101\">101</a>. In an "
                                 "emergency, call <a href=\"tel:999\">999</a>."));
  EXPECT_THAT(unknown, Not(HasSubstr("Thank you")));
  EXPECT_THAT(unknown, Not(HasSubstr("/stop")));
  const std::string closed = RenderClosedPage("en", ctx_, kToken);
  EXPECT_THAT(closed, HasSubstr("<h1>This survey has closed</h1>"));
  EXPECT_THAT(closed, HasSubstr("tel:101"));
  EXPECT_THAT(closed, HasSubstr("<a href=\"" + std::string(kToken) + "/stop\">"));
  EXPECT_THAT(closed, Not(HasSubstr("help-now")));
  EXPECT_THAT(RenderClosedPage("en", ctx_, "", true), HasSubstr("help-now"));
  EXPECT_THAT(RenderClosedPage("cy", ctx_, kToken),
              HasSubstr(std::string(kToken) + "/stop?lang=cy"));
  for (const auto& language : PageLanguages()) {
    EXPECT_THAT(RenderNotFoundPage(language, ctx_), HasSubstr("tel:999")) << language;
    EXPECT_THAT(RenderClosedPage(language, ctx_), HasSubstr("tel:999")) << language;
  }
}

// The audit: the thank-you page was the one page with neither how to reach us nor the stop link.
// It has both now, as the closed page does, whether the answers came now or before.
TEST_F(PageTest, TheThankYouPageSaysHowToReachUsAndOffersTheStopLink) {
  for (const auto& language : PageLanguages()) {
    for (bool already : {false, true}) {
      SCOPED_TRACE(language + (already ? " already" : " now"));
      const std::string thanks = RenderThanksPage(language, ctx_, already, false, kToken);
      EXPECT_THAT(thanks, HasSubstr("<a href=\"tel:101\">101</a>"));
      EXPECT_THAT(thanks, HasSubstr("<a href=\"tel:999\">999</a>"));
      // The same sentence as the closed page's, in the same language.
      const std::string closed = RenderClosedPage(language, ctx_, kToken);
      const std::string contact = Between(closed, "</p>\n<p>", "</p>");
      EXPECT_THAT(contact, HasSubstr("tel:101"));
      EXPECT_THAT(thanks, HasSubstr(contact));
      EXPECT_THAT(thanks, HasSubstr("<a href=\"" + std::string(kToken) + "/stop" +
                                    (language == "en" ? "" : "?lang=" + language) + "\">"));
      EXPECT_THAT(RenderThanksPage(language, ctx_, already), Not(HasSubstr("/stop")));
    }
  }
  EXPECT_THAT(RenderThanksPage("en", ctx_, false),
              HasSubstr("To contact us, call <a href=\"tel:101\">101</a>. In an emergency, call "
                        "<a href=\"tel:999\">999</a>."));
}

TEST_F(PageTest, MessagePagesInEachLanguage) {
  EXPECT_THAT(RenderNotFoundPage("xx", ctx_), HasSubstr("<html lang=\"en\">"));
  EXPECT_THAT(RenderThanksPage("en", ctx_, false), HasSubstr("We have received your answers"));
  EXPECT_THAT(RenderThanksPage("en", ctx_, true), HasSubstr("already received your answers"));
  EXPECT_THAT(RenderRateLimitedPage("en", ctx_), HasSubstr("too many attempts"));
  const std::string confirm = RenderOptOutPage("en", ctx_, true, kToken);
  EXPECT_THAT(confirm, HasSubstr("<form method=\"post\" action=\"stop\">"));
  EXPECT_THAT(confirm, HasSubstr("<a href=\"../" + std::string(kToken) + "\">"));
  EXPECT_THAT(RenderOptOutPage("en", ctx_, false, ""), Not(HasSubstr("<form")));

  for (const auto& language : PageLanguages()) {
    SCOPED_TRACE(language);
    const std::string lang_attr = "<html lang=\"" + language + "\">";
    for (const auto& page :
         {RenderThanksPage(language, ctx_, false), RenderThanksPage(language, ctx_, true),
          RenderNotFoundPage(language, ctx_), RenderClosedPage(language, ctx_, kToken),
          RenderRateLimitedPage(language, ctx_), RenderUnavailablePage(language, ctx_),
          RenderOptOutPage(language, ctx_, true, kToken),
          RenderOptOutPage(language, ctx_, false, "")}) {
      EXPECT_THAT(page, HasSubstr(lang_attr));
      EXPECT_THAT(page, HasSubstr("<h1>"));
    }
    if (language != "en") {
      EXPECT_NE(RenderNotFoundPage(language, ctx_), RenderNotFoundPage("en", ctx_));
      EXPECT_THAT(RenderNotFoundPage(language, ctx_), Not(HasSubstr("does not work")));
      EXPECT_NE(RenderClosedPage(language, ctx_), RenderClosedPage("en", ctx_));
    }
  }
}

TEST(LanguageTest, MatchesWhatWeHaveTextsFor) {
  EXPECT_EQ(MatchLanguage("pl"), "pl");
  EXPECT_EQ(MatchLanguage("pl-PL"), "pl");
  EXPECT_EQ(MatchLanguage("CY"), "cy");
  EXPECT_EQ(MatchLanguage("en_GB"), "en");
  EXPECT_EQ(MatchLanguage("de"), "");
  EXPECT_EQ(MatchLanguage(""), "");
  EXPECT_EQ(LanguageFromAcceptLanguage("de-DE,de;q=0.9,cy;q=0.8,en;q=0.7"), "cy");
  EXPECT_EQ(LanguageFromAcceptLanguage("pl"), "pl");
  EXPECT_EQ(LanguageFromAcceptLanguage("fr, de"), "");
  EXPECT_EQ(LanguageFromAcceptLanguage(""), "");
}

// ---- ParseAnswers ----------------------------------------------------------------------------

struct Parsed {
  bool ok;
  store::SurveyAnswers answers;
  FormErrors errors;
};

Parsed Parse(std::string_view body) {
  Parsed parsed;
  parsed.ok = ParseAnswers(body, parsed.answers, parsed.errors);
  return parsed;
}

TEST(ParseAnswersTest, AcceptsBlanksAndTheWholeScale) {
  const auto parsed = Parse("lang=pl&q1=0&q2=10&q3=&q4=5&comment=Dzi%C4%99kuj%C4%99+bardzo");
  ASSERT_TRUE(parsed.ok);
  EXPECT_TRUE(parsed.errors.fields.empty());
  EXPECT_EQ(parsed.answers.q[0], 0);
  EXPECT_EQ(parsed.answers.q[1], 10);
  EXPECT_EQ(parsed.answers.q[2], std::nullopt);
  EXPECT_EQ(parsed.answers.q[3], 5);
  EXPECT_EQ(parsed.answers.q[4], std::nullopt);  // absent: prefer not to say
  EXPECT_EQ(parsed.answers.comment, "Dziękuję bardzo");
  EXPECT_EQ(parsed.answers.language, "pl");
}

TEST(ParseAnswersTest, AFormWithNothingInItIsSentBack) {
  // Nothing to store, and stored it would count as an answer in the response rate.
  for (const char* body : {"", "lang=cy", "q1=&q2=&comment=", "comment=%20%0D%0A%09"}) {
    const auto parsed = Parse(body);
    EXPECT_FALSE(parsed.ok) << body;
    EXPECT_TRUE(parsed.errors.nothing_answered) << body;
    EXPECT_TRUE(parsed.errors.fields.empty()) << body;
  }
  EXPECT_TRUE(Parse("q5=0").ok);
  EXPECT_TRUE(Parse("comment=ok").ok);
  EXPECT_FALSE(Parse("q1=11").errors.nothing_answered) << "a mistake is reported as such";
}

TEST(ParseAnswersTest, RejectsValuesOffTheScale) {
  for (const char* bad : {"11", "-1", "abc", "1.5", "+5", " 5", "5 ", "100", "0x5", "%00"}) {
    SCOPED_TRACE(bad);
    const auto parsed = Parse(std::string("q1=3&q2=") + bad + "&q3=4");
    EXPECT_FALSE(parsed.ok);
    EXPECT_EQ(parsed.errors.fields, std::vector<std::string>{"q2"});
    // What could be read is kept for the redisplay.
    EXPECT_EQ(parsed.answers.q[0], 3);
    EXPECT_EQ(parsed.answers.q[1], std::nullopt);
    EXPECT_EQ(parsed.answers.q[2], 4);
  }
}

TEST(ParseAnswersTest, RejectsARepeatedQuestion) {
  const auto parsed = Parse("q4=3&q4=9");
  EXPECT_FALSE(parsed.ok);
  EXPECT_EQ(parsed.errors.fields, std::vector<std::string>{"q4"});
}

TEST(ParseAnswersTest, ReportsErrorsInPageOrder) {
  const auto parsed = Parse("q5=x&comment=%FF&q1=99");
  EXPECT_EQ(parsed.errors.fields, (std::vector<std::string>{"q1", "q5", "comment"}));
}

std::string FormEncode(const std::string& text) { return http::UrlEncode(text); }

TEST(ParseAnswersTest, CommentLimitCountsCodePoints) {
  std::string polish;  // 2,000 code points of 2 bytes each: 4,000 bytes
  for (int i = 0; i < 2000; ++i) polish += "ż";
  auto parsed = Parse("comment=" + FormEncode(polish));
  EXPECT_TRUE(parsed.ok);
  EXPECT_EQ(parsed.answers.comment, polish);

  std::string emoji;  // 4-byte code points
  for (int i = 0; i < 2000; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_TRUE(Parse("comment=" + FormEncode(emoji)).ok);

  parsed = Parse("q1=8&comment=" + FormEncode(polish + "a"));
  EXPECT_FALSE(parsed.ok);
  EXPECT_EQ(parsed.errors.fields, std::vector<std::string>{"comment"});
  EXPECT_EQ(parsed.answers.q[0], 8);
  EXPECT_EQ(parsed.answers.comment, polish + "a");  // kept for the redisplay

  EXPECT_FALSE(Parse("comment=" + std::string(2001, 'a')).ok);
  EXPECT_TRUE(Parse("comment=" + std::string(2000, 'a')).ok);
}

TEST(ParseAnswersTest, BrowserLineBreaksCountAsOneCharacter) {
  // maxlength counts a line break as one; the browser sends it as CRLF.
  std::string text;
  for (int i = 0; i < 1000; ++i) text += (i == 0 ? "" : "\r\n") + std::string("a");
  const auto parsed = Parse("comment=" + FormEncode(text));  // 1,000 + 999 line breaks
  EXPECT_TRUE(parsed.ok);
  EXPECT_EQ(parsed.answers.comment.find('\r'), std::string::npos);
  EXPECT_EQ(parsed.answers.comment.size(), 1999u);
}

TEST(ParseAnswersTest, CleansTheComment) {
  auto parsed = Parse("comment=" + FormEncode("  \r\n hello\x01 world\x00!\t \n "s));
  EXPECT_TRUE(parsed.ok);
  EXPECT_EQ(parsed.answers.comment, "hello world!");

  parsed = Parse("comment=bad%C3%28utf8");  // invalid UTF-8
  EXPECT_FALSE(parsed.ok);
  EXPECT_EQ(parsed.errors.fields, std::vector<std::string>{"comment"});
  EXPECT_EQ(parsed.answers.comment, "bad\xEF\xBF\xBD(utf8");  // safe to redisplay

  EXPECT_FALSE(Parse("comment=%ED%A0%80").ok);    // a surrogate
  EXPECT_FALSE(Parse("comment=%C0%AF").ok);       // overlong '/'
  EXPECT_FALSE(Parse("comment=a&comment=b").ok);  // two comments
}

TEST(ParseAnswersTest, IgnoresUnknownFieldsAndLanguages) {
  const auto parsed = Parse("q2=4&submit=Send&lang=xx&q6=12");
  EXPECT_TRUE(parsed.ok);
  EXPECT_EQ(parsed.answers.q[1], 4);
  EXPECT_EQ(parsed.answers.language, "");
}

}  // namespace
}  // namespace surveyd::survey
