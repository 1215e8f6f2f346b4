// The survey handler's own decisions, with a store that can be made to fail: a database outage
// shows a "try again" page and keeps the citizen's answers on screen.
#include "surveyd/survey/handler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "fakes/captured_log.hpp"
#include "fakes/manual_clock.hpp"
#include "surveyd/core/survey_token.hpp"

namespace surveyd::survey {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "4vGMtB_QEyI2oH0EpkDUgw";

// The survey store the pages use, with one survey in it; it can be made to fail.
class OneSurveyStore : public store::SurveyStore {
 public:
  store::SurveyView view;
  bool down = false;
  bool submit_down = false;
  bool already_answered = false;
  bool late_down = false;
  std::atomic<int> opened{0};
  int submitted = 0, lookups = 0, opted_out = 0, late_alerts = 0;
  std::vector<std::string> late_texts;

  std::atomic<int> opened_calls{0};

  std::optional<store::SurveyView> FindSurveyByTokenHash(const std::string& hash) override {
    ++lookups;
    if (down) throw store::Unavailable("connection refused");
    if (hash != token::TokenHash(kToken)) return std::nullopt;
    return view;
  }
  void MarkOpened(std::int64_t id, TimePoint) override {
    ++opened_calls;
    if (down) throw store::Unavailable("connection refused");
    if (id == view.survey_id) ++opened;
  }
  store::SubmitOutcome SubmitResponse(std::int64_t, const store::SurveyAnswers&,
                                      TimePoint) override {
    if (submit_down) throw store::Unavailable("connection refused");
    if (already_answered) return store::SubmitOutcome::kAlreadyAnswered;
    ++submitted;
    return store::SubmitOutcome::kStored;
  }
  bool OptOutBySurvey(std::int64_t, const std::string&, TimePoint) override {
    if (down) throw store::Unavailable("connection refused");
    if (!view.number_known) return false;
    ++opted_out;
    return true;
  }

  bool KeepLateText(std::int64_t, const std::string& text, const std::vector<NewAlert>& alerts,
                    TimePoint) override {
    if (down || late_down) throw store::Unavailable("connection refused");
    late_texts.push_back(text);
    late_alerts += static_cast<int>(alerts.size());
    return true;
  }

  void OptOut(const std::string&, const std::string&, TimePoint) override {}
  store::ReplyOutcome ReceiveReply(const InboundSms&, const store::ReplyFn&, const store::AlertFn&,
                                   TimePoint) override {
    ADD_FAILURE() << "the survey page never receives texts";
    return {};
  }
};

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest() : clock_(FromUnixSeconds(1'800'000'000)) {
    store_.view.survey_id = 7;
    store_.view.language = "en";
    store_.view.channel = "999";
    store_.view.contact_at = clock_.Now() - std::chrono::hours(30);
    store_.view.expires_at = clock_.Now() + std::chrono::hours(24);
    options_.bad_token_limit_per_minute = 3;
    options_.open_flush_interval = std::chrono::hours(1);  // the tests flush themselves
    pages_ = std::make_unique<SurveyPages>(options_);
  }

  static http::Request Request(const std::string& method, const std::string& path,
                               const std::string& body = "", http::Headers headers = {}) {
    http::Request request;
    request.method = method;
    request.path = path;
    request.target = path;
    request.body = body;
    request.headers = std::move(headers);
    request.remote_address = "192.0.2.1";
    return request;
  }

  http::Response Fetch(const std::string& method, const std::string& path,
                       const std::string& body = "", http::Headers headers = {}) {
    return pages_->Handle(Request(method, path, body, std::move(headers)));
  }

  // What the server does: the fast path first, then (if it passes) the full one.
  http::Response Serve(const std::string& method, const std::string& path,
                       http::Headers headers = {}) {
    const auto request = Request(method, path, "", std::move(headers));
    if (auto fast = pages_->HandleFast(request)) return *fast;
    return pages_->Handle(request);
  }

  std::optional<http::Response> FetchFast(const std::string& method, const std::string& path,
                                          http::Headers headers = {}) {
    return pages_->HandleFast(Request(method, path, "", std::move(headers)));
  }

  std::string Path() const { return std::string("/s/") + kToken; }

  testing::ManualClock clock_;
  OneSurveyStore store_;
  SurveyHandlerOptions options_{store_, clock_};
  std::unique_ptr<SurveyPages> pages_;
};

TEST_F(HandlerTest, ALinkWithASlashAfterItGoesToTheLinkWithout) {
  auto moved = Serve("GET", Path() + "/");
  EXPECT_EQ(moved.status, 308);
  EXPECT_EQ(http::FindHeader(moved.headers, "Location"), Path());
  moved = Fetch("POST", Path() + "/stop/");
  EXPECT_EQ(moved.status, 308) << "the form's POST follows a 308 as a POST";
  EXPECT_EQ(http::FindHeader(moved.headers, "Location"), Path() + "/stop");
  EXPECT_EQ(store_.submitted, 0);
  EXPECT_EQ(Serve("GET", "/s/not-a-token/").status, 404);
}

// A link copied with the full stop, bracket, quote or space that followed it in a sentence goes
// to the link without them (never looked up, never counted as a bad link); only marks that cannot
// end a token are dropped.
TEST_F(HandlerTest, ALinkWithAMarkAfterItGoesToTheLinkWithout) {
  for (const std::string tail :
       {".", ")", ").", ",", "%20", "%22", "'", "%E2%80%9D", "%e2%80%9d", ".%20", "/.", "%C2%A0"}) {
    auto moved = Serve("GET", Path() + tail);
    EXPECT_EQ(moved.status, 308) << tail;
    EXPECT_EQ(http::FindHeader(moved.headers, "Location"), Path()) << tail;
  }
  auto stop = Fetch("POST", Path() + "/stop.");
  EXPECT_EQ(stop.status, 308);
  EXPECT_EQ(http::FindHeader(stop.headers, "Location"), Path() + "/stop");
  EXPECT_EQ(store_.lookups, 0);
  EXPECT_EQ(store_.opted_out, 0);
  // Not a token without them either: a bad link, as ever.
  EXPECT_EQ(Serve("GET", "/s/4vGMtB_QEyI2oH0EpkDUg.").status, 404);
  EXPECT_EQ(Serve("GET", Path() + "x.").status, 404);
}

TEST_F(HandlerTest, StoreDownShowsTryAgainPage) {
  store_.down = true;
  const auto response = Fetch("GET", std::string("/s/") + kToken);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(http::FindHeader(response.headers, "Retry-After"), "60");
  EXPECT_THAT(response.body, HasSubstr("Please try again in a few minutes"));
  EXPECT_EQ(http::FindHeader(response.headers, "X-Frame-Options"), "DENY");
  EXPECT_EQ(Fetch("POST", std::string("/s/") + kToken + "/stop").status, 503);
}

TEST_F(HandlerTest, SaveFailureKeepsTheAnswersOnScreen) {
  store_.submit_down = true;
  const auto response = Fetch("POST", std::string("/s/") + kToken, "q2=6&comment=kept+text");
  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.body, HasSubstr("could not save your answers"));
  EXPECT_THAT(response.body, HasSubstr("id=\"q2-6\" value=\"6\" checked>"));
  EXPECT_THAT(response.body, HasSubstr("kept text</textarea>"));
}

TEST_F(HandlerTest, HeadAndLinkPreviewsDoNotRecordAnOpen) {
  // Through both paths: the first HEAD is read from the store, the second from the cache.
  EXPECT_EQ(Serve("HEAD", Path()).status, 200);
  EXPECT_EQ(Serve("HEAD", Path()).status, 200);
  EXPECT_EQ(Serve("GET", Path(), {{"User-Agent", "facebookexternalhit/1.1 Facebot"}}).status, 200);
  EXPECT_TRUE(pages_->FlushOpens());
  EXPECT_EQ(store_.opened, 0);
  EXPECT_EQ(Serve("GET", Path()).status, 200);
  EXPECT_TRUE(pages_->FlushOpens());
  EXPECT_EQ(store_.opened, 1);
}

TEST_F(HandlerTest, AHeadOfAnUncachedSurveyRecordsNoOpenEither) {
  options_.cache_ttl = std::chrono::milliseconds(0);
  pages_ = std::make_unique<SurveyPages>(options_);
  EXPECT_EQ(Serve("HEAD", Path()).status, 200);
  EXPECT_TRUE(pages_->FlushOpens());
  EXPECT_EQ(store_.opened_calls, 0);
}

TEST_F(HandlerTest, ACorrectLinkIsNeverRefusedByTheBadLinkLimit) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA").status, 404);
  // Over its budget: another bad link is refused...
  const auto limited = Fetch("GET", "/s/BAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(http::FindHeader(limited.headers, "Retry-After"), "60");
  // ...but its own survey opens, and takes its answers.
  EXPECT_EQ(Fetch("GET", Path()).status, 200);
  EXPECT_EQ(Fetch("POST", Path(), "q1=5").status, 200);
  EXPECT_EQ(store_.submitted, 1);
  EXPECT_EQ(Fetch("GET", Path() + "/stop").status, 200);
}

TEST_F(HandlerTest, MalformedTokensAreNotLookedUpButCount) {
  for (int i = 0; i < 3; ++i) {
    const auto fast = FetchFast("GET", "/s/short");
    ASSERT_TRUE(fast.has_value()) << "a malformed link needs no worker";
    EXPECT_EQ(fast->status, 404);
  }
  EXPECT_EQ(store_.lookups, 0);
  EXPECT_EQ(Fetch("GET", "/s/short").status, 429);
  EXPECT_EQ(FetchFast("GET", "/s/short")->status, 429);
  EXPECT_EQ(Fetch("GET", Path()).status, 200);
}

// The stop link opts out whether the survey is open, answered or closed, and every page of the
// survey offers it; once the survey no longer holds its number, it says so.
TEST_F(HandlerTest, TheStopLinkWorksClosedOrAnsweredAndSaysWhenItCannot) {
  clock_.Advance(std::chrono::hours(25));  // closed
  EXPECT_THAT(Fetch("GET", Path()).body, HasSubstr(std::string(kToken) + "/stop"));
  EXPECT_EQ(Fetch("GET", Path() + "/stop").status, 200);
  EXPECT_EQ(Fetch("POST", Path() + "/stop").status, 200);
  EXPECT_EQ(store_.opted_out, 1);

  store_.view.responded = true;
  EXPECT_THAT(Fetch("GET", Path()).body, HasSubstr(std::string(kToken) + "/stop"));
  EXPECT_EQ(Fetch("POST", Path() + "/stop").status, 200);
  EXPECT_EQ(store_.opted_out, 2);

  store_.view.number_known = false;
  const auto gone = Fetch("GET", Path() + "/stop");
  EXPECT_EQ(gone.status, 410);
  EXPECT_THAT(gone.body, HasSubstr("reply STOP"));
  EXPECT_THAT(Fetch("GET", Path()).body, Not(HasSubstr("/stop")));
}

// The page after the answers are sent says how to reach us (101, 999) and offers the stop link,
// as the closed page does; so does the same page opened again.
TEST_F(HandlerTest, TheThankYouPageSaysHowToReachUsAndOffersTheStopLink) {
  const auto thanks = Fetch("POST", Path(), "q1=5");
  ASSERT_EQ(thanks.status, 200);
  EXPECT_THAT(thanks.body, HasSubstr("Thank you"));
  EXPECT_THAT(thanks.body, HasSubstr("tel:101"));
  EXPECT_THAT(thanks.body, HasSubstr("tel:999"));
  EXPECT_THAT(thanks.body, HasSubstr("<a href=\"" + std::string(kToken) + "/stop\">"));
  store_.view.responded = true;
  const auto again = FetchFast("GET", Path());
  ASSERT_TRUE(again.has_value());
  EXPECT_THAT(again->body, HasSubstr("tel:999"));
  EXPECT_THAT(again->body, HasSubstr(std::string(kToken) + "/stop"));
}

// Words posted where no answer is taken any more (closed, or answered already) are kept as a
// late text, never as an answer; scores alone are not; a store that is down says "try again".
TEST_F(HandlerTest, WordsPostedToAClosedOrAnsweredSurveyAreKept) {
  clock_.Advance(std::chrono::hours(25));  // closed
  EXPECT_EQ(Fetch("POST", Path(), "q1=4&comment=he+is+back").status, 410);
  store_.view.responded = true;
  EXPECT_EQ(Fetch("POST", Path(), "comment=still+here").status, 200);
  EXPECT_EQ(Fetch("POST", Path(), "q1=4").status, 200);
  EXPECT_EQ(store_.late_texts, (std::vector<std::string>{"he is back", "still here"}));
  EXPECT_EQ(store_.submitted, 0);
  store_.late_down = true;
  const auto down = Fetch("POST", Path(), "comment=again");
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(http::FindHeader(down.headers, "Retry-After"), "60");
}

TEST_F(HandlerTest, AnExpiredLinkDoesNotCountAgainstTheClient) {
  clock_.Advance(std::chrono::hours(25));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Fetch("GET", Path()).status, 410);
  EXPECT_EQ(Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA").status, 404) << "budget untouched";
}

TEST_F(HandlerTest, ASecondOpenIsAnsweredFromMemoryWithoutTheStore) {
  EXPECT_FALSE(FetchFast("GET", Path()).has_value()) << "not read yet";
  const auto first = Fetch("GET", Path());
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(store_.lookups, 1);
  const auto again = FetchFast("GET", Path());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body, first.body);
  EXPECT_EQ(http::FindHeader(again->headers, "Content-Security-Policy"),
            SurveyContentSecurityPolicy());
  EXPECT_EQ(http::FindHeader(again->headers, "Cache-Control"), "no-store");
  EXPECT_EQ(store_.lookups, 1);
  // Another language is rendered from the same survey, still without the store.
  http::Request request = Request("GET", Path());
  request.query = "lang=cy";
  const auto cy = pages_->HandleFast(request);
  ASSERT_TRUE(cy.has_value());
  EXPECT_THAT(cy->body, HasSubstr("<html lang=\"cy\">"));
  EXPECT_EQ(store_.lookups, 1);
  // One open, however often the page is shown.
  EXPECT_TRUE(pages_->FlushOpens());
  EXPECT_EQ(store_.opened, 1);
  EXPECT_EQ(pages_->Status().opens_recorded, 1u);
}

TEST_F(HandlerTest, TheCacheForgetsAfterItsTtl) {
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  clock_.Advance(options_.cache_ttl);
  EXPECT_FALSE(FetchFast("GET", Path()).has_value());
  EXPECT_EQ(Serve("GET", Path()).status, 200);
  EXPECT_EQ(store_.lookups, 2);
}

TEST_F(HandlerTest, AnAnswerHereShowsAtOnceOnTheCachedPage) {
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  ASSERT_EQ(Fetch("POST", Path(), "q1=7").status, 200);
  const auto after = FetchFast("GET", Path());
  ASSERT_TRUE(after.has_value());
  EXPECT_THAT(after->body, HasSubstr("already received"));
  EXPECT_THAT(after->body, Not(HasSubstr("<form")));
}

TEST_F(HandlerTest, AnOptOutOrAnExpiryTakesTheSurveyOutOfTheCache) {
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  ASSERT_EQ(Fetch("POST", Path() + "/stop").status, 200);
  EXPECT_FALSE(FetchFast("GET", Path()).has_value());

  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  ASSERT_TRUE(FetchFast("GET", Path()).has_value());
  clock_.Set(store_.view.expires_at);
  EXPECT_FALSE(FetchFast("GET", Path()).has_value()) << "expired: the store decides";
  EXPECT_EQ(Fetch("GET", Path()).status, 410);
}

TEST_F(HandlerTest, TheStoreAlwaysDecidesAnAnswer) {
  // Answered through another instance: this one still shows the form from memory, but the
  // answer goes to the store, which refuses a second one.
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  store_.already_answered = true;
  EXPECT_THAT(FetchFast("GET", Path())->body, HasSubstr("<form"));
  const auto posted = Fetch("POST", Path(), "q1=2");
  EXPECT_THAT(posted.body, HasSubstr("already received"));
  EXPECT_EQ(store_.submitted, 0);
  EXPECT_THAT(FetchFast("GET", Path())->body, Not(HasSubstr("<form")));
}

TEST_F(HandlerTest, OpensWaitForTheStoreAndAreWrittenAtStop) {
  store_.down = true;
  EXPECT_FALSE(FetchFast("GET", Path()).has_value());
  store_.down = false;
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  store_.down = true;
  EXPECT_FALSE(pages_->FlushOpens());
  EXPECT_EQ(pages_->Status().queued_opens, 1u);
  store_.down = false;
  pages_->Stop();
  EXPECT_EQ(store_.opened, 1);
  EXPECT_EQ(pages_->Status().queued_opens, 0u);
}

TEST_F(HandlerTest, AnOutageWhileOpensWaitReadsAsAFewLines) {
  // Flushed twice a second, it wrote a warning each time: 186 of them in a minute and a half.
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  testing::CapturedLog log;
  store_.down = true;
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(pages_->FlushOpens());
  const std::string during = log.Take();
  EXPECT_EQ(std::count(during.begin(), during.end(), '\n'), 1) << during;
  EXPECT_THAT(during, HasSubstr("error survey pages: recording first opens: first opens wait"));
  store_.down = false;
  EXPECT_TRUE(pages_->FlushOpens());
  EXPECT_THAT(log.Take(), HasSubstr("survey pages: recording first opens: working again"));
  EXPECT_EQ(store_.opened, 1);
}

TEST_F(HandlerTest, OpensQueuedWhileTheStoreIsDownAtStopAreCounted) {
  ASSERT_EQ(Fetch("GET", Path()).status, 200);
  store_.down = true;
  pages_->Stop();
  EXPECT_EQ(store_.opened, 0);
  EXPECT_EQ(pages_->Status().opens_dropped, 1u);
}

TEST_F(HandlerTest, RefusesOtherBodyTypes) {
  const auto response = Fetch("POST", std::string("/s/") + kToken, "{\"q1\":5}",
                              {{"Content-Type", "application/json"}});
  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(store_.submitted, 0);
  EXPECT_EQ(Fetch("POST", std::string("/s/") + kToken, "q1=5",
                  {{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"}})
                .status,
            200);
  EXPECT_EQ(store_.submitted, 1);
}

TEST_F(HandlerTest, NotFoundPageFollowsTheBrowserLanguage) {
  const auto response =
      Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA", "", {{"Accept-Language", "pl-PL,pl;q=0.9"}});
  EXPECT_EQ(response.status, 404);
  EXPECT_THAT(response.body, HasSubstr("<html lang=\"pl\">"));
}

TEST(SurveyCspTest, AllowsOnlyTheInlineStyle) {
  EXPECT_EQ(SurveyContentSecurityPolicy(),
            "default-src 'none'; style-src " + InlineStyleCspSource() +
                "; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
                "frame-ancestors 'none'");
  EXPECT_THAT(SurveyContentSecurityPolicy(), Not(HasSubstr("unsafe")));
}

}  // namespace
}  // namespace surveyd::survey
