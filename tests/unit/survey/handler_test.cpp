// The survey handler's own decisions, with a store that can be made to fail: a database outage
// shows a "try again" page and keeps the citizen's answers on screen.
#include "surveyd/survey/handler.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
  int opened = 0, submitted = 0, lookups = 0;

  std::optional<store::SurveyView> FindSurveyByTokenHash(const std::string& hash) override {
    ++lookups;
    if (down) throw store::Unavailable("connection refused");
    if (hash != token::TokenHash(kToken)) return std::nullopt;
    return view;
  }
  void MarkOpened(std::int64_t, TimePoint) override {
    if (down) throw store::Unavailable("connection refused");
    ++opened;
  }
  store::SubmitOutcome SubmitResponse(std::int64_t, const store::SurveyAnswers&,
                                      TimePoint) override {
    if (submit_down) throw store::Unavailable("connection refused");
    ++submitted;
    return store::SubmitOutcome::kStored;
  }
  bool OptOutBySurvey(std::int64_t, const std::string&, TimePoint) override {
    if (down) throw store::Unavailable("connection refused");
    return true;
  }

  void OptOut(const std::string&, const std::string&, TimePoint) override {}
  store::ReplyOutcome ReceiveReply(const InboundSms&, const store::ReplyFn&, TimePoint) override {
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
    SurveyHandlerOptions options(store_, clock_);
    options.bad_token_limit_per_minute = 3;
    handler_ = MakeSurveyHandler(options);
  }

  http::Response Fetch(const std::string& method, const std::string& path,
                       const std::string& body = "", http::Headers headers = {}) {
    http::Request request;
    request.method = method;
    request.path = path;
    request.target = path;
    request.body = body;
    request.headers = std::move(headers);
    request.remote_address = "192.0.2.1";
    return handler_(request);
  }

  testing::ManualClock clock_;
  OneSurveyStore store_;
  http::Handler handler_;
};

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
  EXPECT_EQ(Fetch("HEAD", std::string("/s/") + kToken).status, 200);
  EXPECT_EQ(Fetch("GET", std::string("/s/") + kToken, "",
                  {{"User-Agent", "facebookexternalhit/1.1 Facebot Twitterbot/1.0"}})
                .status,
            200);
  EXPECT_EQ(store_.opened, 0);
  EXPECT_EQ(Fetch("GET", std::string("/s/") + kToken).status, 200);
  EXPECT_EQ(store_.opened, 1);
}

TEST_F(HandlerTest, LimitedClientsAreNotLookedUp) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Fetch("GET", "/s/AAAAAAAAAAAAAAAAAAAAAA").status, 404);
  const int lookups = store_.lookups;
  EXPECT_EQ(Fetch("GET", std::string("/s/") + kToken).status, 429);
  EXPECT_EQ(store_.lookups, lookups);
}

TEST_F(HandlerTest, MalformedTokensAreNotLookedUpButCount) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Fetch("GET", "/s/short").status, 404);
  EXPECT_EQ(store_.lookups, 0);
  EXPECT_EQ(Fetch("GET", std::string("/s/") + kToken).status, 429);
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
