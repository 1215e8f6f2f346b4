// Two-way SMS conversations against the real PostgreSQL, planned by survey::PlanReply under the
// shipped rules (config/rules.yaml): what each text from the citizen leaves in `responses`, the
// conversation and the outbox.
#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"
#include "integration/surveyed.hpp"
#include "integration/test_database.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/sms_replies.hpp"

namespace surveyd::survey {
namespace {

using namespace std::chrono_literals;
using surveyd::testing::ManualClock;
using surveyd::testing::TestDatabase;

constexpr char kPhone[] = "+447700900123";

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

std::shared_ptr<const rules::RuleSet> ShippedRules() {
  static const auto loaded =
      rules::LoadFile(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  EXPECT_TRUE(loaded.errors.empty());
  return loaded.rules;
}

class TwoWayTest : public ::testing::Test {
 protected:
  TwoWayTest()
      : clock_(At("2026-11-24T10:00:00Z")),
        store_(store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"))) {}

  // A two-way survey of kPhone whose first text (and first question) went out now; its id.
  std::int64_t TextedSurvey(const std::string& event_id) {
    Event event;
    event.event_id = event_id;
    event.type = EventType::kCallEnded;
    event.occurred_at = clock_.Now() - 1h;
    event.incident.id = "I-" + event_id;
    event.call = surveyd::Call{};
    event.call->channel = "101";
    event.caller = Caller{};
    event.caller->phone = kPhone;
    const TimePoint now = clock_.Now();
    const auto results = testing::PushOne(*store_, event, [&](const Event& e) {
      Decision d = testing::SurveyDecision(e, now, now + 48h, now + 24h * 30,
                                           "West Midlands Police would like to ask you 5 "
                                           "short questions.");
      d.two_way = true;
      return d;
    });
    EXPECT_EQ(results.size(), 1u);
    auto claimed = store_->ClaimDue(now, 10, "worker", 60s);
    EXPECT_EQ(claimed.size(), 1u);
    if (claimed.empty()) return 0;
    EXPECT_TRUE(store_->BeginSend(claimed[0], "hash-" + event_id, now, 60s));
    store_->RecordAttempt(claimed[0], {store::SendState::kAccepted, "kannel", "", 202, "", {}},
                          now);
    return claimed[0].survey_id;
  }

  // A text from kPhone through Kannel, with Kannel's message id or (`id` empty) without.
  store::ReplyOutcome Text(const std::string& body, const std::string& id) {
    const InboundSms sms{.gateway = "kannel",
                         .gateway_message_id = id,
                         .from_e164 = kPhone,
                         .to = "60001",
                         .body = body,
                         .received_at = clock_.Now()};
    const auto rules = ShippedRules();
    const store::ReplyFn plan = [&](const store::ReplyContext& context, const std::string& text) {
      return PlanReply(*rules, context, text, clock_.Now());
    };
    return store_->ReceiveReply(sms, plan, clock_.Now());
  }

  std::string Q(const std::string& sql) const { return db_.Query(sql); }
  // The survey's comment as written, and as every view shows it.
  std::string Comment() const { return Q("SELECT comment FROM responses"); }
  std::string MaskedComment() const { return Q("SELECT comment_masked FROM responses"); }
  // The question awaiting an answer, and whether it was asked again ("2/false").
  std::string Awaiting() const {
    return Q("SELECT question || '/' || asked_again FROM conversations");
  }

  TestDatabase db_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(TwoWayTest, AnUnreadableReplyIsKeptAtOnceAndJoinedWithTheNextInOrder) {
  TextedSurvey("E-1");
  clock_.Advance(5min);
  // Reading it as a score fails: asked again, and the text is in the response already.
  EXPECT_EQ(Text("It was ok, call me on 07700 900456", "k-1").disposition, "asked_again");
  EXPECT_EQ(Comment(), "It was ok, call me on 07700 900456");
  EXPECT_EQ(Awaiting(), "1/true");
  clock_.Advance(2min);
  // The second unreadable one is added after it, and the next question follows.
  EXPECT_EQ(Text("the officer was kind", "k-2").disposition, "comment");
  EXPECT_EQ(Comment(), "It was ok, call me on 07700 900456\nthe officer was kind");
  // Masked as the page's comments are: the number never reaches what the analysts read.
  EXPECT_EQ(MaskedComment().find("900456"), std::string::npos) << MaskedComment();
  EXPECT_NE(MaskedComment().find("the officer was kind"), std::string::npos);
  EXPECT_EQ(Awaiting(), "2/false");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE kind = 'question'"), "2");

  // Asked again, then answered: the unreadable text stays, the score fills its question.
  EXPECT_EQ(Text("dunno really", "k-3").disposition, "asked_again");
  EXPECT_EQ(Text("7", "k-4").disposition, "answer");
  EXPECT_EQ(Q("SELECT concat_ws('|', q1, q2, comment) FROM responses"),
            "7|It was ok, call me on 07700 900456\nthe officer was kind\ndunno really");
}

}  // namespace
}  // namespace surveyd::survey
