// The notifier's pure parts; the loop itself is tested against PostgreSQL, a webhook receiver
// and an SMTP server in tests/integration/alerts_test.cpp.
#include "surveyd/alerts/notifier.hpp"

#include <gtest/gtest.h>

#include "surveyd/alerts/smtp.hpp"

namespace surveyd::alerts {
namespace {

using State = store::NoticeResult::State;
using namespace std::chrono_literals;

TEST(NotifierClassify, SentRetriedOrFailed) {
  NotifierOptions options;
  options.max_attempts = 3;
  options.backoff_base = 10s;
  options.backoff_max = 60s;
  const TimePoint now = FromUnixSeconds(1'800'000'000);
  auto result = Notifier::Classify(true, false, 200, "", 1, Duration(0), options, now, 0.5);
  EXPECT_EQ(result.state, State::kSent);
  EXPECT_EQ(result.status, 200);
  result = Notifier::Classify(false, false, 503, "webhook answered 503", 1, Duration(0), options,
                              now, 0);
  EXPECT_EQ(result.state, State::kRetry);
  EXPECT_EQ(result.next_attempt_at, now + 5s);  // half of 10 s, no jitter drawn
  result = Notifier::Classify(false, false, 503, "x", 2, Duration(0), options, now, 1);
  EXPECT_EQ(result.next_attempt_at, now + 20s);
  result = Notifier::Classify(false, false, 429, "x", 1, 90s, options, now, 1);
  EXPECT_EQ(result.next_attempt_at, now + 90s) << "never sooner than the receiver asked";
  result = Notifier::Classify(false, false, 0, "refused", 3, Duration(0), options, now, 0);
  EXPECT_EQ(result.state, State::kFailed);
  EXPECT_EQ(result.error, "gave up after 3 attempts: refused");
  result = Notifier::Classify(false, true, 550, "no such user", 1, Duration(0), options, now, 0);
  EXPECT_EQ(result.state, State::kFailed);
}

TEST(NotifierClassify, BackoffIsCappedWithEqualJitter) {
  EXPECT_EQ(Notifier::Backoff(1, 10s, 900s, 0), Duration(5s));
  EXPECT_EQ(Notifier::Backoff(1, 10s, 900s, 1), Duration(10s));
  EXPECT_EQ(Notifier::Backoff(4, 10s, 900s, 1), Duration(80s));
  EXPECT_EQ(Notifier::Backoff(30, 10s, 900s, 0), Duration(450s));
  EXPECT_EQ(Notifier::Backoff(30, 10s, 900s, 1), Duration(900s));
}

TEST(SmtpFormat, HeadersCannotBeInjectedAndTheBodyIsBase64) {
  MailMessage mail;
  mail.from = "alerts@force.example";
  mail.to = "duty@force.example\r\nBcc: someone@else.example";
  mail.subject = "Alert\r\nX-Evil: 1 — ważne";
  mail.body = "Line one\n.\nLine three ✓";
  mail.message_id = "<n-1@surveyd>";
  mail.date = FromUnixSeconds(1'800'000'000);
  const std::string text = FormatMail(mail);
  EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);
  EXPECT_EQ(text.find("\r\nX-Evil:"), std::string::npos);
  EXPECT_NE(text.find("To: duty@force.example  Bcc: someone@else.example\r\n"), std::string::npos);
  EXPECT_NE(text.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_NE(text.find("Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(text.find("Content-Transfer-Encoding: base64\r\n"), std::string::npos);
  EXPECT_NE(text.find("\r\n\r\nTGluZSBvbmUKLgpMaW5lIHRocmVl"), std::string::npos);
}

TEST(SmtpFormat, NoRelayIsAPermanentFailureWithoutANetworkCall) {
  MailMessage mail;
  mail.from = "a@b.example";
  mail.to = "c@d.example";
  const auto result = SendMail(SmtpOptions{}, mail);
  EXPECT_EQ(result.status, SmtpResult::Status::kPermanent);
  EXPECT_EQ(result.error, "no SMTP relay configured");
}

}  // namespace
}  // namespace surveyd::alerts
