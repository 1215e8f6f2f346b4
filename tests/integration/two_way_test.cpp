// Two-way SMS conversations end to end but for the network: citizens' texts reach the API's
// Kannel inbound route as smsbox's get-url sends them, are planned by survey::PlanReply under
// the shipped rules and raise alerts under the shipped alert rules (config/rules.yaml), all
// against the real PostgreSQL. What each text leaves in `responses`, `alerts`, the conversation
// and the outbox.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/manual_clock.hpp"
#include "integration/surveyed.hpp"
#include "integration/test_database.hpp"
#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/gateway/kannel.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/pg_alerts.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/sms_replies.hpp"

namespace surveyd::survey {
namespace {

using namespace std::chrono_literals;
using surveyd::testing::ManualClock;
using surveyd::testing::TestDatabase;

constexpr char kPhone[] = "+447700900123";
constexpr char kKannelSecret[] = "kannel-secret-0123456789";

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

std::string SourcePath(const std::string& relative) {
  return std::string(SURVEYD_SOURCE_DIR) + "/" + relative;
}

std::shared_ptr<const rules::RuleSet> ShippedRules() {
  static const auto loaded = rules::LoadFile(SourcePath("config/rules.yaml"));
  EXPECT_TRUE(loaded.errors.empty());
  return loaded.rules;
}

// What an answer raises under the shipped alert rules: the survey page's function, as serve
// gives it to the page and to the gateway routes alike.
std::vector<NewAlert> ShippedAlerts(const store::SurveyView& survey,
                                    const store::SurveyAnswers& answers) {
  static const auto loaded = alerts::LoadAlertConfigFile(SourcePath("config/rules.yaml"));
  EXPECT_TRUE(loaded.errors.empty());
  alerts::Answer answer;
  for (int q = 0; q < 5; ++q) answer.q[q] = answers.q[q];
  answer.comment = answers.comment;
  answer.group = survey.group;
  return alerts::RaiseAlerts(*loaded.config, answer);
}

class TwoWayTest : public ::testing::Test {
 protected:
  TwoWayTest()
      : clock_(At("2026-11-24T10:00:00Z")),
        store_(store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"))) {
    gateway::KannelOptions kannel;
    kannel.webhook_secret = kKannelSecret;
    kannel.public_base_url = "https://surveys.example.police.uk";
    kannel_ = gateway::MakeKannelGateway(kannel);
    api::ApiOptions options;
    options.clock = &clock_;
    options.ingest = store_.get();
    options.outbox = store_.get();
    options.surveys = store_.get();
    options.gateway = kannel_.get();
    options.replier = [this] {
      return [this, rules = ShippedRules()](const store::ReplyContext& context,
                                            const std::string& body) {
        return PlanReply(*rules, context, body, clock_.Now());
      };
    };
    options.raise_alerts = ShippedAlerts;
    options.readiness = [] { return api::Readiness{true, "{}", {}}; };
    api_ = api::MakeApiHandler(options);
  }

  // A two-way survey of `phone` whose first text (and first question) went out now; its id.
  std::int64_t TextedSurvey(const std::string& event_id, const std::string& phone = kPhone,
                            bool two_way = true) {
    Event event;
    event.event_id = event_id;
    event.type = EventType::kCallEnded;
    event.occurred_at = clock_.Now() - 1h;
    event.incident.id = "I-" + event_id;
    event.call = surveyd::Call{};
    event.call->channel = "101";
    event.caller = Caller{};
    event.caller->phone = phone;
    const TimePoint now = clock_.Now();
    const auto results = testing::PushOne(*store_, event, [&](const Event& e) {
      Decision d = testing::SurveyDecision(e, now, now + 48h, now + 24h * 30,
                                           "West Midlands Police would like to ask you 5 "
                                           "short questions.");
      d.two_way = two_way;
      return d;
    });
    EXPECT_EQ(results.size(), 1u);
    const std::int64_t survey =
        std::stoll(Q("SELECT id FROM surveys WHERE event_id = '" + event_id + "'"));
    // Questions of other conversations may be due too: only this survey's text is sent here.
    for (store::OutboxMessage& message : store_->ClaimDue(now, 100, "worker", 60s)) {
      if (message.survey_id != survey) continue;
      EXPECT_TRUE(store_->BeginSend(message, "hash-" + event_id, now, 60s));
      store_->RecordAttempt(message, {store::SendState::kAccepted, "kannel", "", 202, "", {}}, now);
    }
    EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE begun_at IS NOT NULL AND survey_id = " +
                std::to_string(survey)),
              "1");
    return survey;
  }

  // A text from `phone` as smsbox's get-url delivers it, with Kannel's message id (&id=%I) or,
  // `id` empty, without (the get-url of the issue), and with Kannel's time of it (&ts=%T) when
  // `ts` is given. What it did (its disposition).
  std::string Text(const std::string& body, const std::string& id,
                   const std::string& phone = kPhone, std::optional<TimePoint> ts = {}) {
    http::Request request;
    request.method = "GET";
    request.path = "/api/v1/gateway/kannel/inbound";
    request.query = "secret=" + std::string(kKannelSecret) + "&from=" + http::UrlEncode(phone) +
                    "&to=60001&text=" + http::UrlEncode(body) +
                    (id.empty() ? "" : "&id=" + http::UrlEncode(id)) +
                    (ts ? "&ts=" + std::to_string(ToUnixSeconds(*ts)) : "");
    request.target = request.path + "?" + request.query;
    request.remote_address = "127.0.0.1";
    const http::Response response = api_(request);
    EXPECT_EQ(response.status, 200) << response.body;
    return Q("SELECT disposition FROM inbound_messages ORDER BY id DESC LIMIT 1");
  }

  std::string Q(const std::string& sql) const { return db_.Query(sql); }
  // The survey's comment as written, and as every view shows it.
  std::string Comment() const { return Q("SELECT comment FROM responses"); }
  std::string MaskedComment() const { return Q("SELECT comment_masked FROM responses"); }
  // The question awaiting an answer, and whether it was asked again ("2/false").
  std::string Awaiting() const {
    return Q("SELECT question || '/' || asked_again FROM conversations");
  }

  // The alerts of a survey, as [kind, severity, rules, matched] by kind.
  nlohmann::json StoredAlerts(std::int64_t survey) const {
    const std::string stored =
        Q("SELECT json_agg(json_build_array(kind, severity, rules, matched) ORDER BY kind) "
          "FROM alerts WHERE survey_id = " +
          std::to_string(survey));
    return stored.empty() ? nlohmann::json::array() : nlohmann::json::parse(stored);
  }
  // What the survey page raises for the response the survey holds now, in the same form.
  nlohmann::json PageAlerts(std::int64_t survey) const {
    const std::string id = std::to_string(survey);
    store::SurveyView view;
    view.survey_id = survey;
    view.group = Q("SELECT group_id FROM surveys WHERE id = " + id);
    store::SurveyAnswers answers;
    for (int q = 0; q < 5; ++q) {
      const std::string value =
          Q("SELECT q" + std::to_string(q + 1) + " FROM responses WHERE survey_id = " + id);
      if (!value.empty()) answers.q[q] = std::stoi(value);
    }
    answers.comment = Q("SELECT comment FROM responses WHERE survey_id = " + id);
    nlohmann::json alerts = nlohmann::json::array();
    for (const NewAlert& alert : ShippedAlerts(view, answers)) {
      alerts.push_back({AlertKindName(alert.kind), AlertSeverityName(alert.severity), alert.rules,
                        alert.matched});
    }
    return alerts;
  }

  TestDatabase db_;
  ManualClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<gateway::Gateway> kannel_;
  http::Handler api_;
};

TEST_F(TwoWayTest, AnUnreadableReplyIsKeptAtOnceAndJoinedWithTheNextInOrder) {
  TextedSurvey("E-1");
  clock_.Advance(5min);
  // Reading it as a score fails: asked again, and the text is in the response already.
  EXPECT_EQ(Text("It was ok, call me on 07700 900456", "k-1"), "asked_again");
  EXPECT_EQ(Comment(), "It was ok, call me on 07700 900456");
  EXPECT_EQ(Awaiting(), "1/true");
  clock_.Advance(2min);
  // The second unreadable one is added after it, and the next question follows.
  EXPECT_EQ(Text("the officer was kind", "k-2"), "comment");
  EXPECT_EQ(Comment(), "It was ok, call me on 07700 900456\nthe officer was kind");
  // Masked as the page's comments are: the number never reaches what the analysts read.
  EXPECT_EQ(MaskedComment().find("900456"), std::string::npos) << MaskedComment();
  EXPECT_NE(MaskedComment().find("the officer was kind"), std::string::npos);
  EXPECT_EQ(Awaiting(), "2/false");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE kind = 'question'"), "2");

  // Asked again, then answered: the unreadable text stays, the score fills its question.
  EXPECT_EQ(Text("dunno really", "k-3"), "asked_again");
  EXPECT_EQ(Text("7", "k-4"), "answer");
  EXPECT_EQ(Q("SELECT concat_ws('|', q1, q2, comment) FROM responses"),
            "7|It was ok, call me on 07700 900456\nthe officer was kind\ndunno really");
}

// The comment keeps its first 2,000 characters: a disclosure in a text after them raises its
// alert from the text itself.
TEST_F(TwoWayTest, ADisclosurePastTheCommentsLengthStillRaisesItsAlert) {
  TextedSurvey("E-1");
  clock_.Advance(5min);
  // A text is at most a few SMS long; a long conversation reaches the limit in a few of them.
  const std::string chatter(450, 'x');
  EXPECT_EQ(Text("well " + chatter, "k-1"), "asked_again");
  for (int i = 2; i <= 6; ++i) {
    Text("and " + std::to_string(i) + chatter, "k-" + std::to_string(i));
  }
  ASSERT_EQ(Q("SELECT length(comment) FROM responses"), "2000");
  EXPECT_EQ(Q("SELECT count(*) FROM alerts"), "0");
  Text("he is back and I am scared", "k-9");
  EXPECT_EQ(Q("SELECT string_agg(kind, ',') FROM alerts"), "safeguarding");
}

TEST_F(TwoWayTest, ADisclosurePastTheFirst2000CharactersOfOneTextRaisesItsAlertAndGetsHelp) {
  // Cut to 2,000 characters before the alert rules read it, it raised nothing and got the
  // question asked again.
  const auto survey = TextedSurvey("E-1");
  clock_.Advance(5min);
  EXPECT_EQ(Text(std::string(5000, 'x') + " he is back and I am scared", "k-1"), "comment");
  EXPECT_EQ(Q("SELECT string_agg(kind, ',') FROM alerts"), "safeguarding");
  EXPECT_EQ(Q("SELECT string_agg(kind, ',' ORDER BY id) FROM outbox WHERE survey_id = " +
              std::to_string(survey)),
            "survey,help");
}

TEST_F(TwoWayTest, APhonesAutoReplyEndsTheConversationAfterOneAskingAgain) {
  const auto survey = TextedSurvey("E-1");
  const std::string id = std::to_string(survey);
  const std::string driving = "I'm driving with Do Not Disturb on. I'll see your message later.";
  clock_.Advance(5min);
  EXPECT_EQ(Text(driving, "k-1"), "asked_again");
  clock_.Advance(3s);
  EXPECT_EQ(Text(driving, "k-2"), "reply");
  EXPECT_EQ(Q("SELECT state FROM conversations"), "expired");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE survey_id = " + id), "2")
      << "the survey's text and the question asked again, nothing more";
  EXPECT_EQ(Comment(), driving) << "kept once";
}

// Kannel's get-url as the issue pins it ("...inbound?secret=SECRET&from=%p&to=%P&text=%a"):
// no message id, and the texts still answer the conversation waiting for them.
TEST_F(TwoWayTest, AKannelTextWithoutItsIdAnswersTheConversationWaitingForIt) {
  const auto first = TextedSurvey("E-1");
  const auto scores = [&](std::int64_t survey) {
    return Q(
        "SELECT concat_ws(',', COALESCE(q1::text, '-'), COALESCE(q2::text, '-'), "
        "COALESCE(q3::text, '-'), COALESCE(q4::text, '-'), COALESCE(q5::text, '-')) "
        "FROM responses WHERE survey_id = " +
        std::to_string(survey));
  };
  clock_.Advance(5min);
  EXPECT_EQ(Text("8", ""), "answer");
  EXPECT_EQ(Text("nine", ""), "answer");
  EXPECT_EQ(scores(first), "8,9,-,-,-");

  // Surveyed again while that conversation is open: two are open, and the newest is answered
  // (its question is the last text the citizen had).
  clock_.Advance(10min);
  const auto second = TextedSurvey("E-2");
  EXPECT_EQ(Text("7", ""), "answer");
  EXPECT_EQ(scores(second), "7,-,-,-,-");
  EXPECT_EQ(scores(first), "8,9,-,-,-");
  // The same score to each question: each comes once its question has reached the phone.
  for (const char* score : {"6", "6", "6", "6"}) {
    clock_.Advance(1min);
    EXPECT_EQ(Text(score, ""), "answer");
  }
  EXPECT_EQ(Q("SELECT state FROM conversations WHERE survey_id = " + std::to_string(second)),
            "finished");
  // The newest is finished: the older one is the one still waiting, and is answered.
  EXPECT_EQ(Text("5", ""), "answer");
  EXPECT_EQ(scores(first), "8,9,5,-,-");

  // Past the conversation's end (two_way.lasts: 24h) nothing waits: kept, answering nothing,
  // and the citizen is told so once (for the newest survey, the one its text most likely
  // answers).
  clock_.Advance(24h);
  EXPECT_EQ(Text("4", ""), "reply");
  clock_.Advance(1min);  // not the same text delivered again (within 10 s), a second one
  EXPECT_EQ(Text("4", ""), "reply");
  EXPECT_EQ(scores(first), "8,9,5,-,-");
  EXPECT_EQ(Q("SELECT count(*) FROM inbound_messages WHERE gateway_message_id IS NULL"), "10");
  EXPECT_EQ(Q("SELECT string_agg(survey_id::text, ',') FROM outbox WHERE kind = 'closed'"),
            std::to_string(second));
}

// The audit: a reply after a conversation finished (or ran out) was kept and nobody answered, so
// the citizen thought it counted. It is answered once per survey, in the survey's language, that
// the survey has closed (101, 999): through the outbox, to the number, at once. A text back to a
// link survey is told to use the link, once. Not to a number that opted out.
TEST_F(TwoWayTest, ALateReplyIsToldOnceThatTheSurveyHasClosed) {
  const auto survey = TextedSurvey("E-1");
  const std::string id = std::to_string(survey);
  Q("UPDATE surveys SET language = 'cy' WHERE id = " + id);
  clock_.Advance(5min);
  for (const char* score : {"8", "7", "9", "6", "10"}) EXPECT_EQ(Text(score, ""), "answer");
  EXPECT_EQ(Q("SELECT state FROM conversations"), "finished");
  clock_.Advance(1h);
  EXPECT_EQ(Text("one more thing: 3", "k-1"), "reply");
  EXPECT_EQ(Q("SELECT concat_ws(',', q1, q2, q3, q4, q5) FROM responses"), "8,7,9,6,10");
  const std::string closed = ShippedRules()->replies().TwoWay("cy")->closed;
  EXPECT_EQ(Q("SELECT body FROM outbox WHERE kind = 'closed' AND survey_id = " + id), closed);
  // Once: an auto-reply to it, or another late text, gets nothing more.
  EXPECT_EQ(Text("Diolch!", "k-2"), "reply");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE kind = 'closed'"), "1");
  const auto due = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  bool sent = false;
  for (const auto& message : due) {
    if (message.kind != store::MessageKind::kClosed) continue;
    sent = true;
    EXPECT_EQ(message.to_e164, kPhone);
    EXPECT_EQ(message.body, closed);
  }
  EXPECT_TRUE(sent) << "due at once";

  // A link survey's text back, once.
  const auto link = TextedSurvey("L-1", "+447700900124", /*two_way=*/false);
  EXPECT_EQ(Text("thank you, the officer was lovely", "k-3", "+447700900124"), "reply");
  EXPECT_EQ(Text("you're welcome", "k-4", "+447700900124"), "reply");
  EXPECT_EQ(Q("SELECT string_agg(body, '|') FROM outbox WHERE kind = 'link_reply' AND "
              "survey_id = " +
              std::to_string(link)),
            *ShippedRules()->replies().LinkReply("en"));
  EXPECT_EQ(Q("SELECT count(*) FROM responses WHERE survey_id = " + std::to_string(link)), "0");

  // Opted out, then a text: nothing but the confirmation.
  const auto quiet = TextedSurvey("L-2", "+447700900125", /*two_way=*/false);
  EXPECT_EQ(Text("STOP", "k-5", "+447700900125"), "opt_out");
  EXPECT_EQ(Text("ok thanks", "k-6", "+447700900125"), "reply");
  EXPECT_EQ(Q("SELECT string_agg(kind, ',' ORDER BY id) FROM outbox WHERE survey_id = " +
              std::to_string(quiet)),
            "survey,confirmation");
}

// A notice queued before the number said STOP (held by ops, or a gateway down) is a text the
// number no longer wants: the opt-out cancels it, as it does the survey's own; the
// confirmation still goes.
TEST_F(TwoWayTest, AnOptOutStopsTheNoticesQueuedBeforeIt) {
  TextedSurvey("L-1", "+447700900124", /*two_way=*/false);
  EXPECT_EQ(Text("thanks a lot", "k-1", "+447700900124"), "reply");
  EXPECT_EQ(Q("SELECT string_agg(kind || ':' || state, ',') FROM outbox WHERE kind <> 'survey'"),
            "link_reply:pending");
  EXPECT_EQ(Text("Stop please", "k-2", "+447700900124"), "opt_out");
  EXPECT_EQ(Q("SELECT string_agg(kind || ':' || state || ':' || COALESCE(cancel_reason, ''), ',' "
              "ORDER BY id) FROM outbox WHERE kind <> 'survey'"),
            "link_reply:cancelled:opted_out,confirmation:pending:");
  const auto due = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, store::MessageKind::kConfirmation);
}

// smsbox delivers a text again when it did not get our answer (http-request-retry), and without
// &id=%I the copy has no id to be known by. With &ts=%T it is known by Kannel's time of the text,
// however late it comes; without it, by coming again within seconds. Either way it answers
// nothing more, while the citizen's own same answer to the next question still counts.
TEST_F(TwoWayTest, AKannelTextDeliveredAgainWithoutItsIdAnswersNothingMore) {
  const auto survey = TextedSurvey("E-1");
  const auto scores = [&] {
    return Q(
        "SELECT concat_ws(',', COALESCE(q1::text, '-'), COALESCE(q2::text, '-'), "
        "COALESCE(q3::text, '-'), COALESCE(q4::text, '-'), COALESCE(q5::text, '-')) "
        "FROM responses WHERE survey_id = " +
        std::to_string(survey));
  };
  const auto texts = [&] { return Q("SELECT count(*) FROM inbound_messages"); };
  clock_.Advance(5min);
  const TimePoint taken = clock_.Now() - 2s;
  EXPECT_EQ(Text("8", "", kPhone, taken), "answer");
  clock_.Advance(4min);  // smsbox gave up waiting for our answer, and tried again
  Text("8", "", kPhone, taken);
  EXPECT_EQ(texts(), "1") << "kept once";
  EXPECT_EQ(scores(), "8,-,-,-,-");
  EXPECT_EQ(Text("8", "", kPhone, clock_.Now() - 1s), "answer") << "the citizen's own 8";
  EXPECT_EQ(scores(), "8,8,-,-,-");

  // Without Kannel's time: a copy within seconds is the same text, a minute later a new one.
  clock_.Advance(1min);
  EXPECT_EQ(Text("6", ""), "answer");
  clock_.Advance(3s);
  Text("6", "");
  EXPECT_EQ(texts(), "3");
  EXPECT_EQ(scores(), "8,8,6,-,-");
  clock_.Advance(1min);
  EXPECT_EQ(Text("6", ""), "answer");
  EXPECT_EQ(scores(), "8,8,6,6,-");
  // Another number's same words at the same moment are its own.
  EXPECT_EQ(Text("6", "", "+447700900999"), "reply");
  EXPECT_EQ(texts(), "5");
}

TEST_F(TwoWayTest, ATextRaisesTheAlertsThePageWouldOnceWithTheAnswer) {
  const auto survey = TextedSurvey("E-1");
  clock_.Advance(5min);
  // Not a score, so asked again; but it is kept, and it raises the alert the page would: now,
  // in the same transaction, not when (if ever) a second text comes.
  EXPECT_EQ(Text("I want to make a complaint, nobody came", "k-1"), "asked_again");
  EXPECT_EQ(Q("SELECT string_agg(kind || '/' || severity, ',') FROM alerts"), "complaint/high");
  const nlohmann::json first = StoredAlerts(survey);
  EXPECT_EQ(first, PageAlerts(survey));
  // More of the answer: the same alert, brought up to what the whole answer raises.
  EXPECT_EQ(Text("the officer was rude and unprofessional", "k-2"), "comment");
  EXPECT_EQ(Text("2", "k-3"), "answer");
  EXPECT_EQ(StoredAlerts(survey), PageAlerts(survey));
  EXPECT_NE(StoredAlerts(survey), first) << "more matched: " << StoredAlerts(survey);
  EXPECT_EQ(Q("SELECT count(*) FROM alerts WHERE kind = 'complaint'"), "1");
  EXPECT_EQ(Q("SELECT count(*) FROM alert_events WHERE action = 'created'"), "1");
  // The lexicon's words only, never the citizen's.
  EXPECT_EQ(Q("SELECT count(*) FROM alerts WHERE matched::text LIKE '%I want%' "
              "OR matched::text LIKE '%the officer%'"),
            "0");

  // A text that discloses a risk raises its alert at once too (and ends the conversation with
  // where to get help: ATextThatCallsForHelpIsAnsweredWithWhereToGetIt).
  const auto scared = TextedSurvey("E-4", "+447700900126");
  EXPECT_EQ(Text("I am still scared to go home", "k-10", "+447700900126"), "comment");
  EXPECT_EQ(
      Q("SELECT kind || '/' || severity FROM alerts WHERE survey_id = " + std::to_string(scared)),
      "safeguarding/urgent");
  EXPECT_EQ(StoredAlerts(scared), PageAlerts(scared));

  // Scores alone: q1 of 0 raises low_scores at once; every score at 0 or 1 adds the rule that
  // wants all five, on the same alert.
  const auto other = TextedSurvey("E-2", "+447700900124");
  EXPECT_EQ(Text("0", "k-4", "+447700900124"), "answer");
  EXPECT_EQ(Q("SELECT rules::text FROM alerts WHERE survey_id = " + std::to_string(other)),
            R"(["not_treated_with_respect"])");
  EXPECT_EQ(StoredAlerts(other), PageAlerts(other));
  int id = 5;
  for (const char* score : {"1", "0", "1", "0"}) {
    EXPECT_EQ(Text(score, "k-" + std::to_string(id++), "+447700900124"), "answer");
  }
  EXPECT_EQ(Q("SELECT concat_ws(',', q1, q2, q3, q4, q5) FROM responses WHERE survey_id = " +
              std::to_string(other)),
            "0,1,0,1,0");
  EXPECT_EQ(Q("SELECT rules::text FROM alerts WHERE survey_id = " + std::to_string(other)),
            R"(["lowest_scores", "not_treated_with_respect"])");
  EXPECT_EQ(StoredAlerts(other), PageAlerts(other));
  EXPECT_EQ(Q("SELECT count(*) FROM alert_events WHERE action = 'created'"), "3");

  // A thankful answer raises nothing.
  const auto third = TextedSurvey("E-3", "+447700900125");
  EXPECT_EQ(Text("10", "k-9", "+447700900125"), "answer");
  EXPECT_EQ(StoredAlerts(third), nlohmann::json::array());
  EXPECT_EQ(PageAlerts(third), nlohmann::json::array());
}

// An alert dealt with opens again when the citizen discloses it again: a text that raises its
// kind by itself (even in words the answer had), not a score or a thank-you. In a conversation
// (a complaint), and after one that ended on a risk (a text back, as any late one).
TEST_F(TwoWayTest, AnAlertDealtWithOpensAgainWhenALaterTextRaisesItsKind) {
  const auto alerts = store::MakePgAlertStore(db_.url(), 1, testing::TestPhoneKeys());
  const auto resolve = [&](const char* kind) {
    const std::int64_t id =
        std::stoll(Q(std::string("SELECT id FROM alerts WHERE kind = '") + kind + "'"));
    ASSERT_EQ(alerts->Resolve(id, {"tok", "Sgt Evans", "supervisor"}, "called, safe", clock_.Now()),
              store::AlertUpdate::kDone);
  };
  const auto status = [&](std::int64_t survey, const char* kind) {
    return Q("SELECT status FROM alerts WHERE survey_id = " + std::to_string(survey) +
             " AND kind = '" + kind + "'");
  };

  const auto survey = TextedSurvey("E-1");
  clock_.Advance(5min);
  EXPECT_EQ(Text("I want to make a complaint", "k-1"), "asked_again");
  resolve("complaint");
  // Scores and thanks: it stays resolved.
  clock_.Advance(1min);
  EXPECT_EQ(Text("8", "k-2"), "answer");
  EXPECT_EQ(Text("thanks, all fine now", "k-3"), "asked_again");
  EXPECT_EQ(status(survey, "complaint"), "resolved");
  // A complaint again, in the same words.
  clock_.Advance(1h);
  EXPECT_EQ(Text("I want to make a complaint", "k-4"), "comment");
  EXPECT_EQ(status(survey, "complaint"), "open");
  EXPECT_EQ(Q("SELECT string_agg(action || ':' || COALESCE(note, ''), ',' ORDER BY id) "
              "FROM alert_events"),
            "created:,resolved:called, safe,reopened:the citizen wrote again");
  EXPECT_EQ(StoredAlerts(survey), PageAlerts(survey)) << "still what the whole answer raises";

  const auto scared = TextedSurvey("E-2", "+447700900124");
  EXPECT_EQ(Text("I am scared to go home", "k-5", "+447700900124"), "comment");
  resolve("safeguarding");
  clock_.Advance(1min);
  EXPECT_EQ(Text("8", "k-6", "+447700900124"), "reply") << "the conversation ended on it";
  EXPECT_EQ(status(scared, "safeguarding"), "resolved");
  EXPECT_EQ(Text("I am scared again", "k-7", "+447700900124"), "reply");
  EXPECT_EQ(status(scared, "safeguarding"), "open");
}

// "HELP", the SMS keyword, and the plain ways of asking were answered with the first question
// again: the shipped lexicon named "help me please" and "need help now", not these.
TEST_F(TwoWayTest, HelpAskedForPlainlyIsAnsweredWithWhereToGetIt) {
  int n = 0;
  for (const char* plea : {"HELP", "help me", "I need help", "Can you help me", "Make him stop"}) {
    const std::string phone = "+4477009002" + std::to_string(10 + n);
    const auto survey = TextedSurvey("E-" + std::to_string(n), phone);
    clock_.Advance(5min);
    EXPECT_EQ(Text(plea, "k-" + std::to_string(n), phone), "comment") << plea;
    EXPECT_EQ(Q("SELECT string_agg(kind, ',' ORDER BY id) FROM outbox WHERE survey_id = " +
                std::to_string(survey)),
              "survey,help")
        << plea;
    EXPECT_EQ(Q("SELECT count(*) FROM alerts WHERE kind = 'safeguarding' AND survey_id = " +
                std::to_string(survey)),
              "1")
        << plea;
    EXPECT_EQ(Q("SELECT count(*) FROM opt_outs"), "0") << plea << ": not a stop";
    clock_.Advance(24h * 100);  // past the frequency cap
    ++n;
  }
}

// The audit's conversation: "he hit me again and im scared" as the first reply got only
// "Sorry, please reply with one number from 0 to 10. Q1/5..."; now it gets where to get help
// (999, 55, the helplines), in the survey's language, through the outbox, and nothing more is
// asked.
TEST_F(TwoWayTest, ATextThatCallsForHelpIsAnsweredWithWhereToGetIt) {
  const auto survey = TextedSurvey("E-1");
  const std::string id = std::to_string(survey);
  clock_.Advance(5min);
  EXPECT_EQ(Text("he hit me again and im scared", "k-1"), "comment");
  EXPECT_EQ(Comment(), "he hit me again and im scared");
  EXPECT_EQ(Q("SELECT kind || '/' || severity FROM alerts"), "safeguarding/urgent");
  EXPECT_EQ(Q("SELECT state FROM conversations"), "help");
  EXPECT_EQ(Q("SELECT string_agg(kind, ',' ORDER BY id) FROM outbox WHERE survey_id = " + id),
            "survey,help");
  const std::string help = *ShippedRules()->replies().HelpNow("en");
  EXPECT_EQ(Q("SELECT body FROM outbox WHERE kind = 'help'"), help);
  EXPECT_NE(help.find("call 999"), std::string::npos);
  EXPECT_EQ(Q("SELECT helped FROM inbound_messages"), "t");

  // Nothing more is asked: a score now is a reply, and a plea a minute later gets no second
  // help text (at most one every help_now.at_most_every, so that no reply can loop).
  clock_.Advance(1min);
  EXPECT_EQ(Text("8", "k-2"), "reply");
  EXPECT_EQ(Text("please help me", "k-3"), "reply");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE survey_id = " + id), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM alerts"), "1");

  // A STOP after it does not take the help back, and the help goes as it is: not decided again
  // (it answers the citizen's own words), at once, to the number.
  EXPECT_EQ(Text("STOP", "k-4"), "opt_out");
  EXPECT_EQ(Q("SELECT string_agg(kind || ':' || state, ',' ORDER BY id) FROM outbox"),
            "survey:accepted,help:pending,confirmation:pending");
  const auto due = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].kind, store::MessageKind::kHelp);
  EXPECT_EQ(due[0].to_e164, kPhone);
  EXPECT_EQ(due[0].body, help);
}

// Later in a conversation, and after it ran out: each disclosure is answered with where to get
// help, in the conversation's language, once per number every help_now.at_most_every.
TEST_F(TwoWayTest, ALaterOrLateTextThatCallsForHelpGetsItToo) {
  const auto survey = TextedSurvey("E-1");
  clock_.Advance(5min);
  for (const char* score : {"8", "7", "9"}) EXPECT_EQ(Text(score, ""), "answer");
  EXPECT_EQ(Awaiting(), "4/false");
  EXPECT_EQ(Text("I am scared he will come back tonight", ""), "comment");
  EXPECT_EQ(Q("SELECT kind FROM outbox ORDER BY id DESC LIMIT 1"), "help") << "not Q4 again";
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE kind = 'question'"), "3");
  EXPECT_EQ(Q("SELECT concat_ws(',', q1, q2, q3, q4, q5) FROM responses"), "8,7,9");

  // The next day, long after the conversation: the text answers nothing, is kept, raises the
  // alert again if it was dealt with, and is answered with the help again.
  clock_.Advance(30h);
  EXPECT_EQ(Text("he is back... please help", ""), "reply");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE kind = 'help' AND survey_id = " +
              std::to_string(survey)),
            "2");

  // A link survey's text back, in Polish: the Polish help.
  const auto link = TextedSurvey("L-1", "+447700900124", /*two_way=*/false);
  Q("UPDATE surveys SET language = 'pl' WHERE id = " + std::to_string(link));
  EXPECT_EQ(Text("on wrocil, boje sie", "", "+447700900124"), "reply");
  EXPECT_EQ(
      Q("SELECT body FROM outbox WHERE kind = 'help' AND survey_id = " + std::to_string(link)),
      *ShippedRules()->replies().HelpNow("pl"));
}

// Weeks later retention has erased the survey's number (its hash stays for the frequency cap):
// the help is still owed. The number that wrote is sealed back on the survey until the text is
// sent; the text raised a safeguarding alert, and the number stays while that is open, so that
// the hub can call back; resolved, the next retention pass erases it again.
TEST_F(TwoWayTest, HelpReachesANumberRetentionHadErased) {
  const auto survey = TextedSurvey("L-1", kPhone, /*two_way=*/false);
  const std::string id = std::to_string(survey);
  clock_.Advance(24h * 40);  // closed after 30 days, and 7 days' grace
  store::RetentionPolicy policy;
  store_->RunRetention(policy, clock_.Now(), "test");
  ASSERT_EQ(Q("SELECT phone_enc IS NULL AND phone_hash IS NOT NULL FROM surveys WHERE id = " + id),
            "t");
  EXPECT_EQ(Text("he is back and I am scared", "k-1"), "reply");
  auto due = store_->ClaimDue(clock_.Now(), 10, "worker", 60s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, store::MessageKind::kHelp);
  EXPECT_EQ(due[0].to_e164, kPhone);
  // Sent: the next pass erases the number again.
  ASSERT_TRUE(store_->BeginSend(due[0], "", clock_.Now(), 60s));
  store_->RecordAttempt(due[0], {store::SendState::kAccepted, "kannel", "m-9", 202, "", {}},
                        clock_.Now());
  store_->ApplyDeliveryReport({"kannel", "m-9", "", DeliveryState::kDelivered, "", clock_.Now()});
  clock_.Advance(1h);
  store_->RunRetention(policy, clock_.Now(), "test");
  EXPECT_EQ(Q("SELECT phone_enc IS NULL FROM surveys WHERE id = " + id), "f")
      << "its safeguarding alert is open";
  Q("UPDATE alerts SET status = 'resolved' WHERE survey_id = " + id);
  store_->RunRetention(policy, clock_.Now(), "test");
  EXPECT_EQ(Q("SELECT phone_enc IS NULL FROM surveys WHERE id = " + id), "t");
}

// A text back to a survey's link is no answer, but what it discloses reaches a supervisor all
// the same: the alert the page would raise for it as a comment, shown with the text.
TEST_F(TwoWayTest, ATextBackToALinkRaisesTheAlertsItsWordsWould) {
  const auto survey = TextedSurvey("L-1", kPhone, /*two_way=*/false);
  clock_.Advance(5min);
  EXPECT_EQ(Text("I am still scared to go home, call me on 07700 900999", "k-30"), "reply");
  EXPECT_EQ(Q("SELECT count(*) FROM responses"), "0") << "not an answer";
  // Asking to be called back is a complaint's word too.
  EXPECT_EQ(Q("SELECT string_agg(kind || '/' || severity, ',' ORDER BY kind) FROM alerts "
              "WHERE survey_id = " +
              std::to_string(survey)),
            "complaint/high,safeguarding/urgent");
  // One alert of a kind: a second text leaves it as it is.
  EXPECT_EQ(Text("please help, I am scared", "k-31"), "reply");
  EXPECT_EQ(Q("SELECT count(*) FROM alert_events WHERE action = 'created'"), "2");
  // Its view shows the texts masked; its reveal as written.
  const std::string id = Q("SELECT id FROM alerts WHERE kind = 'safeguarding'");
  const auto alerts = store::MakePgAlertStore(db_.url(), 1, testing::TestPhoneKeys());
  const auto alert = alerts->GetAlert(std::stoll(id));
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->comment,
            "I am still scared to go home, call me on [phone removed]\nplease help, I am scared");
  const auto reveal =
      alerts->RevealNumber(std::stoll(id), {"tok", "Sam", "safeguarding"}, "to call", clock_.Now());
  EXPECT_NE(reveal.comment.find("07700 900999"), std::string::npos) << reveal.comment;
  // A STOP with a disclosure opts out and raises the alert too.
  const auto other = TextedSurvey("L-2", "+447700900124", /*two_way=*/false);
  EXPECT_EQ(Text("STOP texting me, he is back and I am scared", "k-32", "+447700900124"),
            "opt_out");
  EXPECT_EQ(Q("SELECT count(*) FROM alerts WHERE kind = 'safeguarding' AND survey_id = " +
              std::to_string(other)),
            "1");
  // A thankful text raises nothing.
  const auto third = TextedSurvey("L-3", "+447700900125", /*two_way=*/false);
  EXPECT_EQ(Text("thank you, the officer was lovely", "k-33", "+447700900125"), "reply");
  EXPECT_EQ(Q("SELECT count(*) FROM alerts WHERE survey_id = " + std::to_string(third)), "0");
}

}  // namespace
}  // namespace surveyd::survey
