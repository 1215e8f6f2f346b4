// The survey pages against the real store: a survey created by ingest, sent (so it has a token),
// then opened, answered, answered again, refused, expired, guessed at and opted out of, with the
// handler called as a function.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "fakes/manual_clock.hpp"
#include "integration/surveyed.hpp"
#include "integration/test_database.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/handler.hpp"

namespace surveyd::survey {
namespace {

using namespace std::chrono_literals;
using surveyd::testing::ManualClock;
using surveyd::testing::TestDatabase;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenSecret[] = "token-secret-token-secret-token-secret";
constexpr int kBadTokenLimit = 5;

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

class SurveyPageTest : public ::testing::Test {
 protected:
  SurveyPageTest()
      : clock_(At("2026-11-26T12:00:00Z")),
        store_(store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"))) {
    token_ = CreateSentSurvey();
    SurveyHandlerOptions options(*store_, clock_);
    options.page.force_name = "West Midlands Police";
    options.page.zone = TimeZone::Load("Europe/London");
    options.bad_token_limit_per_minute = kBadTokenLimit;
    options.open_flush_interval = std::chrono::hours(1);  // the tests flush themselves
    pages_ = std::make_unique<SurveyPages>(options);
    handler_ = [this](const http::Request& request) {
      // As the server does: the fast path first.
      if (auto fast = pages_->HandleFast(request)) return *fast;
      return pages_->Handle(request);
    };
  }

  // Ingests one event decided "survey", claims its message and records an accepted send with
  // the token hash, as the dispatcher does. Returns the link token.
  std::string CreateSentSurvey() {
    Event event;
    event.event_id = "E-1";
    event.type = EventType::kCallEnded;
    event.occurred_at = At("2026-11-24T10:00:00Z");  // Tuesday
    event.incident.id = "I-1";
    event.incident.type_code = "DOMESTIC-SECRET";
    event.call = surveyd::Call{};
    event.call->channel = "101";
    event.caller = Caller{};
    event.caller->phone = "+447700900123";
    const TimePoint now = clock_.Now();
    const auto results = testing::PushOne(*store_, event, [&](const Event& e) {
      return testing::SurveyDecision(e, now, now + 48h, now + 24h * 9);
    });
    EXPECT_EQ(results.size(), 1u);
    auto messages = store_->ClaimDue(now, 10, "test-worker", 60s);
    EXPECT_EQ(messages.size(), 1u);
    if (messages.empty()) return "";
    const std::string token = token::DeriveToken(kTokenSecret, messages[0].token_nonce);
    store::SendRecord record;
    record.state = store::SendState::kAccepted;
    record.gateway = "fake";
    record.gateway_message_id = "m-1";
    record.http_status = 202;
    EXPECT_TRUE(store_->BeginSend(messages[0], token::TokenHash(token), now, 60s));
    store_->RecordAttempt(messages[0], record, now);
    return token;
  }

  http::Response Fetch(const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& query = "",
                       const std::string& remote = "203.0.113.5") {
    http::Request request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.target = path + (query.empty() ? "" : "?" + query);
    request.body = body;
    request.remote_address = remote;
    request.headers = {{"User-Agent", "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"}};
    if (method == "POST") {
      request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    }
    return handler_(request);
  }

  std::string Path() const { return "/s/" + token_; }
  std::string Responses() const { return db_.Query("SELECT count(*) FROM responses"); }
  std::string OpenedAt() const {
    EXPECT_TRUE(pages_->FlushOpens());
    return db_.Query("SELECT opened_at FROM surveys");
  }

  // Posts the stop form: the number behind the survey is opted out, and told so.
  void ExpectTheStopFormOptsOut() {
    const auto done = Fetch("POST", Path() + "/stop", "lang=en");
    EXPECT_EQ(done.status, 200);
    EXPECT_THAT(done.body, HasSubstr("not send any more survey texts"));
    EXPECT_EQ(db_.Query("SELECT count(*) FROM opt_outs o JOIN surveys s "
                        "ON s.phone_hash = o.phone_hash"),
              "1");
  }

  static void ExpectSecurityHeaders(const http::Response& response) {
    const auto csp = http::FindHeader(response.headers, "Content-Security-Policy");
    EXPECT_THAT(std::string(csp), HasSubstr("default-src 'none'"));
    EXPECT_THAT(std::string(csp), HasSubstr("style-src " + InlineStyleCspSource()));
    EXPECT_THAT(std::string(csp), HasSubstr("form-action 'self'"));
    EXPECT_THAT(std::string(csp), HasSubstr("frame-ancestors 'none'"));
    EXPECT_EQ(http::FindHeader(response.headers, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(http::FindHeader(response.headers, "Cache-Control"), "no-store");
    EXPECT_EQ(http::FindHeader(response.headers, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(http::FindHeader(response.headers, "X-Frame-Options"), "DENY");
  }

  TestDatabase db_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::string token_;
  std::unique_ptr<SurveyPages> pages_;
  http::Handler handler_;
};

TEST_F(SurveyPageTest, GetShowsTheSurveyAndRecordsTheFirstOpen) {
  ASSERT_TRUE(token::LooksLikeToken(token_));
  EXPECT_EQ(OpenedAt(), "");
  const auto response = Fetch("GET", Path());
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(std::string(http::FindHeader(response.headers, "Content-Type")),
              HasSubstr("text/html"));
  ExpectSecurityHeaders(response);
  EXPECT_THAT(response.body, HasSubstr("your call to 101 on Tuesday 24 November"));
  EXPECT_THAT(response.body, Not(HasSubstr("DOMESTIC")));  // never the incident type
  EXPECT_THAT(response.body, HasSubstr("<form method=\"post\" action=\"" + token_ + "\""));
  const std::string opened = OpenedAt();
  EXPECT_NE(opened, "");

  clock_.Advance(1h);
  EXPECT_EQ(Fetch("GET", Path()).status, 200);
  EXPECT_EQ(OpenedAt(), opened);  // the first open only
}

TEST_F(SurveyPageTest, LinkPreviewsAreNotOpens) {
  http::Request request;
  request.method = "GET";
  request.path = Path();
  request.remote_address = "203.0.113.5";
  request.headers = {{"User-Agent", "WhatsApp/2.23.20.0 A"}};
  EXPECT_EQ(handler_(request).status, 200);
  EXPECT_EQ(OpenedAt(), "");
}

TEST_F(SurveyPageTest, LanguageCanBeSwitched) {
  const auto response = Fetch("GET", Path(), "", "lang=cy");
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(response.body, HasSubstr("<html lang=\"cy\">"));
  EXPECT_THAT(response.body, HasSubstr("eich galwad i 101 ddydd Mawrth 24 Tachwedd"));
}

TEST_F(SurveyPageTest, ValidAnswersAreStoredOnce) {
  const auto response = Fetch(
      "POST", Path(), "lang=pl&q1=9&q2=8&q3=&q4=10&q5=0&comment=Bardzo+mi%C5%82a+obs%C5%82uga");
  EXPECT_EQ(response.status, 200);
  ExpectSecurityHeaders(response);
  EXPECT_THAT(response.body, HasSubstr("<html lang=\"pl\">"));
  EXPECT_THAT(response.body, HasSubstr("Otrzymaliśmy Twoje odpowiedzi"));
  EXPECT_EQ(Responses(), "1");
  EXPECT_EQ(db_.Query("SELECT concat_ws(',', q1, q2, coalesce(q3::text, '-'), q4, q5) "
                      "FROM responses"),
            "9,8,-,10,0");
  EXPECT_EQ(db_.Query("SELECT comment FROM responses"), "Bardzo miła obsługa");
  EXPECT_EQ(db_.Query("SELECT language FROM responses"), "pl");
  EXPECT_NE(db_.Query("SELECT responded_at FROM surveys"), "");

  // Again (a double tap, the back button): already received, the first answers stand.
  const auto again = Fetch("POST", Path(), "q1=0&q2=0");
  EXPECT_EQ(again.status, 200);
  EXPECT_THAT(again.body, HasSubstr("already received"));
  EXPECT_EQ(Responses(), "1");
  EXPECT_EQ(db_.Query("SELECT q1 FROM responses"), "9");

  const auto page = Fetch("GET", Path());
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("already received"));
  EXPECT_THAT(page.body, Not(HasSubstr("<form")));
}

TEST_F(SurveyPageTest, AFormWithNothingInItIsSentBackAndNothingStored) {
  // Stored, it would count as an answer in the response rate with nothing in it.
  const auto response = Fetch("POST", Path(), "lang=en&comment=");
  EXPECT_EQ(response.status, 422);
  EXPECT_THAT(response.body, HasSubstr("Please answer at least one question, or write a comment"));
  EXPECT_EQ(Responses(), "0");
  EXPECT_EQ(Fetch("POST", Path(), "lang=en&q5=0").status, 200) << "one answer is an answer";
  EXPECT_EQ(Responses(), "1");
}

TEST_F(SurveyPageTest, BadInputIsShownAgainAndNothingIsStored) {
  const auto response =
      Fetch("POST", Path(), "q1=7&q2=11&q3=abc&comment=" + std::string(2001, 'x'));
  EXPECT_EQ(response.status, 422);
  ExpectSecurityHeaders(response);
  EXPECT_THAT(response.body, HasSubstr("id=\"q1-7\" value=\"7\" checked>"));
  EXPECT_THAT(response.body, HasSubstr("aria-describedby=\"q2-err\""));
  EXPECT_THAT(response.body, HasSubstr("aria-describedby=\"q3-err\""));
  EXPECT_THAT(response.body, HasSubstr("comment-err\" aria-invalid=\"true\""));
  EXPECT_EQ(Responses(), "0");
  EXPECT_EQ(db_.Query("SELECT responded_at FROM surveys"), "");

  // Corrected, it goes through.
  EXPECT_EQ(Fetch("POST", Path(), "q1=7&q2=10&q3=3&comment=ok").status, 200);
  EXPECT_EQ(Responses(), "1");
}

TEST_F(SurveyPageTest, UnknownAndMalformedTokensGetTheSameNotFoundPage) {
  const auto unknown = Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(unknown.status, 404);
  ExpectSecurityHeaders(unknown);
  EXPECT_THAT(unknown.body, HasSubstr("<h1>This link does not work</h1>"));
  EXPECT_THAT(unknown.body, HasSubstr("check that you copied the whole link"));
  const auto malformed = Fetch("GET", "/s/not-a-token");
  EXPECT_EQ(malformed.status, 404);
  EXPECT_EQ(malformed.body, unknown.body);
  EXPECT_EQ(Fetch("POST", "/s/AAAAAAAAAAAAAAAAAAAAAA", "q1=5").status, 404);
  EXPECT_EQ(Fetch("GET", "/s/").status, 404);
  EXPECT_EQ(Fetch("GET", Path() + "/other").status, 404);
  EXPECT_EQ(Responses(), "0");
}

// The site's address alone (a citizen checking that a text is genuine): the same page.
// No link was tried, so none is counted against the client's budget of bad links.
TEST_F(SurveyPageTest, TheSitesAddressAloneGetsTheNotFoundPage) {
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Fetch("GET", "/").status, 404);
  const auto root = Fetch("GET", "/");
  const auto unknown = Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(root.body, unknown.body);
  // The full path (what a server without the fast one runs) answers it alike.
  http::Request request;
  request.method = "GET";
  request.path = "/";
  request.remote_address = "203.0.113.9";
  for (int i = 0; i < 50; ++i) EXPECT_EQ(pages_->Handle(request).status, 404);
  EXPECT_EQ(Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA", "", "", "203.0.113.9").status, 404);
}

// A closed survey takes no answer and records no open. Its holder is told it closed (the whole
// 128-bit link is needed to see that, so a guesser learns nothing: near misses read as unknown),
// with how to reach the force, and its stop link (an unknown link's page offers none).
TEST_F(SurveyPageTest, AClosedSurveySaysSoTakesNothingAndOffersItsStopLink) {
  clock_.Advance(24h * 30);
  const auto expired = Fetch("GET", Path());
  EXPECT_EQ(expired.status, 410);
  ExpectSecurityHeaders(expired);
  EXPECT_THAT(expired.body, HasSubstr("<h1>This survey has closed</h1>"));
  EXPECT_THAT(expired.body, HasSubstr("tel:101"));
  EXPECT_THAT(expired.body, HasSubstr("<a href=\"" + token_ + "/stop\">Stop survey texts</a>"));
  const auto unknown = Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_THAT(unknown.body, HasSubstr("This link does not work"));
  EXPECT_THAT(unknown.body, Not(HasSubstr("/stop")));
  EXPECT_EQ(Fetch("GET", "/s/" + token_.substr(0, 21)).body, unknown.body);
  EXPECT_EQ(OpenedAt(), "");
  EXPECT_EQ(Fetch("POST", Path(), "q1=5").status, 410);
  EXPECT_EQ(Responses(), "0");
}

// The audit: a link with a trailing ".", ")" or space showed "Thank you" and no survey. The
// marks a copied link picks up are dropped: the survey opens, and answers are taken.
TEST_F(SurveyPageTest, ALinkCopiedWithTheMarkAfterItOpensTheSurvey) {
  for (const std::string tail : {".", ")", "%20", ").", "%E2%80%9D"}) {
    const auto moved = Fetch("GET", Path() + tail);
    ASSERT_EQ(moved.status, 308) << tail;
    const std::string location(http::FindHeader(moved.headers, "Location"));
    EXPECT_EQ(location, Path()) << tail;
    const auto page = Fetch("GET", location);
    EXPECT_EQ(page.status, 200) << tail;
    EXPECT_THAT(page.body, HasSubstr("<form method=\"post\""));
  }
  EXPECT_EQ(Fetch("POST", Path(), "q1=7").status, 200);
  EXPECT_EQ(Responses(), "1");
}

TEST_F(SurveyPageTest, GuessingIsRateLimitedPerClientButTheRightLinkAlwaysWorks) {
  auto guess = [](int i) {
    return "/s/AAAAAAAAAAAAAAAAAAAAA" + std::string(1, static_cast<char>('A' + i));
  };
  for (int i = 0; i < kBadTokenLimit; ++i) EXPECT_EQ(Fetch("GET", guess(i)).status, 404) << i;
  // Limited: further guesses are refused...
  const auto limited = Fetch("GET", guess(kBadTokenLimit));
  EXPECT_EQ(limited.status, 429);
  ExpectSecurityHeaders(limited);
  EXPECT_EQ(http::FindHeader(limited.headers, "Retry-After"), "60");
  EXPECT_EQ(Fetch("POST", guess(kBadTokenLimit), "q1=5").status, 429);

  // ...but the client's own link still opens and takes its answers (a guesser sharing the
  // household's address must not cost the citizen the survey).
  EXPECT_EQ(Fetch("GET", Path()).status, 200);
  EXPECT_NE(OpenedAt(), "");
  EXPECT_EQ(Fetch("POST", Path(), "q1=5").status, 200);
  EXPECT_EQ(Responses(), "1");

  // Another client is unaffected; good lookups never count.
  for (int i = 0; i < kBadTokenLimit + 3; ++i) {
    EXPECT_EQ(Fetch("GET", Path(), "", "", "198.51.100.9").status, 200);
  }
  EXPECT_EQ(Fetch("GET", guess(0), "", "", "198.51.100.9").status, 404);

  clock_.Advance(1min);
  EXPECT_EQ(Fetch("GET", guess(0)).status, 404);
}

TEST_F(SurveyPageTest, NearMissesOfTheRealTokenAreUnknownAndCountAsGuesses) {
  // Truncated (a link cut short by a text wrapped in two), one longer, one character changed, and
  // the case of one or of every letter changed (base64url is case-sensitive): none opens the
  // survey, each looks like any unknown link, and each counts against the client's guesses.
  std::string one_case = token_;
  const auto letter =
      one_case.find_first_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
  ASSERT_NE(letter, std::string::npos);
  one_case[letter] = static_cast<char>(one_case[letter] ^ 0x20);
  std::string every_case = token_;
  for (char& c : every_case) {
    if (std::isalpha(static_cast<unsigned char>(c)) != 0) c = static_cast<char>(c ^ 0x20);
  }
  std::string changed = token_;
  changed[10] = changed[10] == 'A' ? 'B' : 'A';
  const std::vector<std::string> near_misses = {token_.substr(0, token_.size() - 1),
                                                token_.substr(0, 11),
                                                token_ + "A",
                                                one_case,
                                                every_case,
                                                changed};
  ASSERT_EQ(near_misses.size(), static_cast<std::size_t>(kBadTokenLimit + 1));
  const std::string unknown = Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA", "", "", "192.0.2.50").body;
  for (std::size_t i = 0; i + 1 < near_misses.size(); ++i) {
    const auto response = Fetch("GET", "/s/" + near_misses[i]);
    EXPECT_EQ(response.status, 404) << near_misses[i];
    EXPECT_EQ(response.body, unknown) << near_misses[i];
  }
  // The fifth near miss used up the client's guesses: the sixth is refused unread.
  EXPECT_EQ(Fetch("POST", "/s/" + near_misses.back(), "q1=5").status, 429);
  EXPECT_EQ(Responses(), "0");
  EXPECT_EQ(OpenedAt(), "");
  // The real link still works, answered once, and an answered survey takes no second answer
  // even when asked with the right token.
  EXPECT_EQ(Fetch("POST", Path(), "q1=5").status, 200);
  EXPECT_THAT(Fetch("POST", Path(), "q1=1").body, HasSubstr("already received"));
  EXPECT_EQ(db_.Query("SELECT q1 FROM responses"), "5");
}

TEST_F(SurveyPageTest, HeadNeverCountsAsOpening) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Fetch("HEAD", Path()).status, 200);
  EXPECT_EQ(OpenedAt(), "");
  EXPECT_EQ(Fetch("GET", Path()).status, 200);
  EXPECT_NE(OpenedAt(), "");
}

TEST_F(SurveyPageTest, AnswerOnAnotherInstanceIsRefusedHereFromTheDatabase) {
  // This instance has the page in memory; another answers the survey.
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  SurveyHandlerOptions options(*store_, clock_);
  SurveyPages other(options);
  ASSERT_EQ(other
                .Handle([&] {
                  http::Request request;
                  request.method = "POST";
                  request.path = Path();
                  request.body = "q1=3";
                  request.remote_address = "198.51.100.9";
                  return request;
                }())
                .status,
            200);
  ASSERT_EQ(Responses(), "1");
  // Here the page may still show the form until the cache forgets it, but the answer is refused
  // by the database: the first answer stands.
  const auto second = Fetch("POST", Path(), "q1=10");
  EXPECT_EQ(second.status, 200);
  EXPECT_THAT(second.body, HasSubstr("already received"));
  EXPECT_EQ(Responses(), "1");
  EXPECT_EQ(db_.Query("SELECT q1 FROM responses"), "3");
}

TEST_F(SurveyPageTest, ABatchOfOpensKeepsTheFirstOpenOfEachSurvey) {
  const std::string id = db_.Query("SELECT id FROM surveys");
  const auto survey_id = std::stoll(id);
  store_->MarkOpenedBatch(
      {{survey_id, At("2026-11-26T12:00:00Z")}, {survey_id + 1000, clock_.Now()}});
  store_->MarkOpenedBatch({{survey_id, At("2026-11-26T13:00:00Z")}});
  store_->MarkOpenedBatch({});
  EXPECT_EQ(db_.Query("SELECT opened_at = '2026-11-26T12:00:00Z' FROM surveys"), "t");
}

TEST_F(SurveyPageTest, OpensAreWrittenInOneGoAtStop) {
  EXPECT_EQ(Fetch("GET", Path()).status, 200);
  pages_->Stop();
  EXPECT_NE(db_.Query("SELECT opened_at FROM surveys"), "");
}

TEST_F(SurveyPageTest, StopLinkConfirmsThenOptsTheNumberOut) {
  const auto confirm = Fetch("GET", Path() + "/stop");
  EXPECT_EQ(confirm.status, 200);
  ExpectSecurityHeaders(confirm);
  EXPECT_THAT(confirm.body, HasSubstr("<form method=\"post\" action=\"stop\">"));
  EXPECT_EQ(db_.Query("SELECT count(*) FROM opt_outs"), "0");  // GET changes nothing

  ExpectTheStopFormOptsOut();
  EXPECT_EQ(Fetch("POST", Path() + "/stop").status, 200);  // idempotent
  EXPECT_EQ(db_.Query("SELECT count(*) FROM opt_outs"), "1");

  // Opened again, the link says the texts are stopped rather than asking again as if it had not
  // worked, and the survey's page offers the stop link no more.
  const auto again = Fetch("GET", Path() + "/stop");
  EXPECT_EQ(again.status, 200);
  EXPECT_THAT(again.body, HasSubstr("not send any more survey texts"));
  EXPECT_THAT(again.body, Not(HasSubstr("<form")));
  EXPECT_THAT(Fetch("GET", Path()).body, Not(HasSubstr("/stop")));

  EXPECT_EQ(Fetch("POST", "/s/AAAAAAAAAAAAAAAAAAAAAA/stop").status, 404);
}

// The audit: after closes_at the stop link answered "not valid or has expired" and recorded
// nothing. It works, by GET and POST, for as long as the survey holds its number's hash (the
// number itself retention erases a week after the close: the hash is enough to opt out).
TEST_F(SurveyPageTest, TheStopLinkWorksAfterTheSurveyClosed) {
  clock_.Advance(24h * 20);  // closed 9 days after the contact, and retention has run
  store::RetentionPolicy policy;
  store_->RunRetention(policy, clock_.Now(), "test");
  ASSERT_EQ(db_.Query("SELECT phone_enc IS NULL AND phone_hash IS NOT NULL FROM surveys"), "t");
  const auto confirm = Fetch("GET", Path() + "/stop", "", "lang=cy");
  EXPECT_EQ(confirm.status, 200);
  EXPECT_THAT(confirm.body, HasSubstr("<form method=\"post\" action=\"stop\">"));
  EXPECT_THAT(confirm.body, HasSubstr("<html lang=\"cy\">"));
  // The closed survey's page offers it, until the number is opted out.
  EXPECT_THAT(Fetch("GET", Path()).body, HasSubstr(token_ + "/stop"));
  ExpectTheStopFormOptsOut();
  EXPECT_THAT(Fetch("GET", Path()).body, Not(HasSubstr(token_ + "/stop")));
}

// Once retention has dropped the survey's hash too, nothing links the survey to a phone: the stop
// link says so plainly and how else to stop our texts, and records nothing.
TEST_F(SurveyPageTest, TheStopLinkSaysWhenItCanNoLongerBeMatched) {
  clock_.Advance(24h * 100);
  store::RetentionPolicy policy;
  store_->RunRetention(policy, clock_.Now(), "test");
  ASSERT_EQ(db_.Query("SELECT phone_hash IS NULL FROM surveys"), "t");
  for (const char* method : {"GET", "POST"}) {
    const auto page = Fetch(method, Path() + "/stop");
    EXPECT_EQ(page.status, 410) << method;
    EXPECT_THAT(page.body, HasSubstr("We can no longer match this link to your phone"));
    EXPECT_THAT(page.body, HasSubstr("reply STOP to any survey text from us"));
    EXPECT_THAT(page.body, Not(HasSubstr("<form")));
    ExpectSecurityHeaders(page);
  }
  EXPECT_EQ(db_.Query("SELECT count(*) FROM opt_outs"), "0");
  EXPECT_THAT(Fetch("GET", Path()).body, Not(HasSubstr("/stop"))) << "no stop link offered";
}

TEST_F(SurveyPageTest, OtherMethodsAreNotAllowed) {
  for (const char* method : {"PUT", "DELETE", "PATCH"}) {
    const auto response = Fetch(method, Path());
    EXPECT_EQ(response.status, 405) << method;
    EXPECT_EQ(http::FindHeader(response.headers, "Allow"), "GET, HEAD, POST");
    ExpectSecurityHeaders(response);
  }
  EXPECT_EQ(Responses(), "0");
}

}  // namespace
}  // namespace surveyd::survey
