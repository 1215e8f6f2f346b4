#include "surveyd/alerts/webhook.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace surveyd::alerts {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The reference vector of the Standard Webhooks libraries.
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kTimestamp = 1614265330;
constexpr char kBody[] = R"({"test": 2432232314})";
constexpr char kSignature[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(Webhook, SignsAsStandardWebhooksDoes) {
  EXPECT_EQ(WebhookSignature(kSecret, kId, kTimestamp, kBody), kSignature);
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, kId, kTimestamp, kBody, kSignature));
  // Several signatures (a key being rotated): any one may match.
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, kId, kTimestamp, kBody,
                                     std::string("v1,bm90IGl0 ") + kSignature));
  EXPECT_FALSE(VerifyWebhookSignature(kSecret, kId, kTimestamp + 1, kBody, kSignature));
  EXPECT_FALSE(VerifyWebhookSignature(kSecret, "msg_other", kTimestamp, kBody, kSignature));
  EXPECT_FALSE(
      VerifyWebhookSignature(kSecret, kId, kTimestamp, std::string(kBody) + " ", kSignature));
  EXPECT_FALSE(VerifyWebhookSignature("whsec_b3RoZXI=", kId, kTimestamp, kBody, kSignature));
}

TEST(Webhook, SecretsAreBase64AfterWhsecOrUsedAsWritten) {
  EXPECT_EQ(WebhookKey("whsec_aGVsbG8="), "hello");
  EXPECT_EQ(WebhookKey("whsec_aGVsbG8"), "hello");  // padding optional
  EXPECT_FALSE(WebhookKey("whsec_not base64!"));
  EXPECT_FALSE(WebhookKey("whsec_"));
  EXPECT_FALSE(WebhookKey(""));
  EXPECT_EQ(WebhookKey("a plain shared secret"), "a plain shared secret");
  EXPECT_EQ(WebhookSignature("whsec_!!", kId, kTimestamp, kBody), "");
  EXPECT_EQ(DecodeBase64("TWFu"), "Man");
  EXPECT_EQ(DecodeBase64("TWE="), "Ma");
  EXPECT_FALSE(DecodeBase64("T"));  // one character cannot be base64
  EXPECT_FALSE(DecodeBase64("TW=E"));
}

TEST(Webhook, BodyNamesTheKindAndNeverTheNumberOrComment) {
  store::AlertView alert;
  alert.id = 12;
  alert.survey_id = 34;
  alert.kind = AlertKind::kSafeguarding;
  alert.severity = AlertSeverity::kUrgent;
  alert.rules = {"safeguarding_words"};
  alert.matched = {"fear:scared"};
  alert.created_at = FromUnixSeconds(1'800'000'000);
  alert.context.group = "force_contact";
  alert.context.event_type = "call.ended";
  alert.context.channel = "101";
  alert.context.handler_team = "Team 3";
  alert.context.incident_id = "INC-20261208-0042";
  alert.context.contact_at = FromUnixSeconds(1'799'990'000);
  const std::string body =
      AlertWebhookBody(alert, 1, true, FromUnixSeconds(1'800'000'900),
                       "https://surveys.example/dashboard?view=alerts&alert=12", "Force Contact");
  const auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["type"], "alert.renotified");
  EXPECT_EQ(json["data"]["kind"], "safeguarding");
  EXPECT_EQ(json["data"]["alert_id"], 12);
  EXPECT_EQ(json["data"]["round"], 1);
  EXPECT_EQ(json["data"]["escalated"], true);
  EXPECT_EQ(json["data"]["context"]["handler_team"], "Team 3");
  // The log to open in command and control: without it a duty inspector had a beat, a type code
  // and a time (a review).
  EXPECT_EQ(json["data"]["context"]["incident_id"], "INC-20261208-0042");
  EXPECT_EQ(json["data"]["context"]["group"], "force_contact");
  EXPECT_EQ(json["data"]["context"]["group_name"], "Force Contact");
  EXPECT_EQ(json["data"]["link"], "https://surveys.example/dashboard?view=alerts&alert=12");
  EXPECT_FALSE(json["data"]["context"].contains("officer_id"));
  // What matched is in the citizen's words' neighbourhood: it stays behind the API.
  EXPECT_THAT(body, Not(HasSubstr("scared")));
  EXPECT_THAT(body, Not(HasSubstr("phone")));
  const auto created =
      nlohmann::json::parse(AlertWebhookBody(alert, 0, false, alert.created_at, "", ""));
  EXPECT_EQ(created["type"], "alert.created");
  EXPECT_TRUE(created["data"]["context"]["group_name"].is_null())
      << "a group the rules in force do not hold has no name";

  const auto request =
      WebhookRequest({"http://127.0.0.1:1/hook", kSecret, std::chrono::seconds(3), /*ca_file=*/""},
                     "notice-7", FromUnixSeconds(kTimestamp), kBody);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(http::FindHeader(request.headers, "webhook-id"), "notice-7");
  EXPECT_EQ(http::FindHeader(request.headers, "webhook-timestamp"), std::to_string(kTimestamp));
  EXPECT_TRUE(VerifyWebhookSignature(kSecret, "notice-7", kTimestamp, kBody,
                                     http::FindHeader(request.headers, "webhook-signature")));
}

// Rounds: the first notice, reminders 1, 2...; once reopened, the notice of that round says so
// and the reminders count again from it.
TEST(Webhook, ARoundIsTheFirstAReopeningOrAReminderCountedFromTheLastOfThem) {
  store::AlertView alert;
  alert.created_at = FromUnixSeconds(1'800'000'000);
  auto read = [&](int round) {
    const NoticeRound r = ReadNoticeRound(alert, round);
    return std::to_string(static_cast<int>(r.kind)) + "/" + std::to_string(r.reminder);
  };
  EXPECT_EQ(read(0), "0/0");
  EXPECT_EQ(read(2), "2/2");
  alert.reopened_round = 3;
  alert.reopened_at = FromUnixSeconds(1'800'007'200);
  EXPECT_EQ(read(0), "0/0");
  EXPECT_EQ(read(2), "2/2") << "a reminder from before it was reopened";
  EXPECT_EQ(read(3), "1/0");
  EXPECT_EQ(read(4), "2/1");
  const auto json = nlohmann::json::parse(AlertWebhookBody(
      alert, 3, false, FromUnixSeconds(1'800'007'260), "https://surveys.example/x", ""));
  EXPECT_EQ(json["type"], "alert.reopened");
  EXPECT_EQ(json["data"]["reopened_at"], "2027-01-15T10:00:00.000Z");
  EXPECT_EQ(nlohmann::json::parse(AlertWebhookBody(alert, 4, true, FromUnixSeconds(1'800'008'200),
                                                   "https://surveys.example/x", ""))["type"],
            "alert.renotified");
  // Never reopened: null, so that a receiver can rely on the field.
  alert.reopened_at.reset();
  alert.reopened_round.reset();
  EXPECT_TRUE(nlohmann::json::parse(
                  AlertWebhookBody(alert, 0, false, FromUnixSeconds(1'800'000'000),
                                   "https://surveys.example/x", ""))["data"]["reopened_at"]
                  .is_null());
}

}  // namespace
}  // namespace surveyd::alerts
