// The Kannel adapter against a real Kannel (Debian's kannel and kannel-extras): bearerbox,
// smsbox and fakesmsc on loopback, started by tests/kannel/kannel.sh. Proves that a send through
// the adapter reaches the (fake) mobile network, that Kannel's delivery reports come back
// through the dlr-url the adapter set and read as the right states, and that a citizen's reply
// injected through fakesmsc reaches the sms-service get-url and reads as an InboundSms.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "fakes/callback_server.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/gateway/kannel.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::gateway {
namespace {

using namespace std::chrono_literals;

constexpr char kSecret[] = "kannel-test-secret-0123456789";

std::string Shell(const std::string& script) {
  // Single quotes around the whole script: none of our arguments contain one.
  return "bash -c 'set -e; source " SURVEYD_SOURCE_DIR
         "/scripts/lib/common.sh; source " SURVEYD_SOURCE_DIR "/tests/kannel/kannel.sh; " +
         script + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Percent-encodes every byte, as fakesmsc's "data"/"ucs2" message types expect.
std::string EncodeAll(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

std::string Utf16Be(std::u16string_view text) {
  std::string out;
  for (char16_t unit : text) {
    out.push_back(static_cast<char>(unit >> 8));
    out.push_back(static_cast<char>(unit & 0xFF));
  }
  return out;
}

class KannelGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/surveyd-kannel-XXXXXX";
    dir_ = mkdtemp(dir_template);
    receiver_ = new testing::CallbackReceiver([] { return SystemClock().Now(); });
    const int status = std::system(
        Shell("kannel_start " + dir_ + " " + receiver_->BaseUrl() + " " + kSecret +
              "; printf \"%s\\n%s\\n%s\\n\" \"$KANNEL_SENDSMS_URL\" \"$KANNEL_USERNAME\" "
              "\"$KANNEL_PASSWORD\" >" +
              dir_ + "/env")
            .c_str());
    started_ = status == 0;
    if (!started_) return;
    std::istringstream env(ReadFile(dir_ + "/env"));
    KannelOptions options;
    std::getline(env, options.sendsms_url);
    std::getline(env, options.username);
    std::getline(env, options.password);
    options.sender = "Police";
    options.webhook_secret = kSecret;
    options.public_base_url = receiver_->BaseUrl();
    options.timeout = 5s;
    options_ = new KannelOptions(options);
    adapter_ = MakeKannelGateway(options).release();
    receiver_->Use(adapter_);
  }

  static void TearDownTestSuite() {
    std::system(Shell("kannel_stop " + dir_).c_str());
    if (receiver_ != nullptr) receiver_->Use(nullptr);
    delete receiver_;
    delete adapter_;
    delete options_;
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) {
      std::system(("rm -rf " + dir_).c_str());
    }
  }

  void SetUp() override {
    ASSERT_TRUE(started_) << "Kannel did not start (see " << dir_
                          << "/*.log); scripts/test installs kannel and kannel-extras";
  }

  static std::vector<std::string> Received() {
    std::vector<std::string> lines;
    const std::string text = ReadFile(dir_ + "/fakesmsc.log");
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      const auto at = line.find("Got message ");
      if (at == std::string::npos) continue;
      const auto open = line.find('<', at);
      if (open == std::string::npos || line.back() != '>') continue;
      lines.push_back(line.substr(open + 1, line.size() - open - 2));
    }
    return lines;
  }

  static bool WaitForReceived(std::size_t count) {
    for (auto deadline = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
      if (Received().size() >= count) return true;
    }
    return false;
  }

  // The callbacks so far that match `pick`, waiting up to 15 s for `count` of them.
  template <typename Pick>
  static std::vector<Callback> WaitForCallbacks(std::size_t count, Pick pick) {
    std::vector<Callback> picked;
    for (auto deadline = std::chrono::steady_clock::now() + 15s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
      picked.clear();
      for (const Callback& callback : receiver_->Callbacks()) {
        if (pick(callback)) picked.push_back(callback);
      }
      if (picked.size() >= count) break;
    }
    return picked;
  }

  static std::vector<Callback> ReportsFor(const std::string& ref, std::size_t count) {
    return WaitForCallbacks(count, [&](const Callback& c) {
      return c.report.has_value() && c.report->message_ref == ref;
    });
  }

  static inline std::string dir_;
  static inline bool started_ = false;
  static inline testing::CallbackReceiver* receiver_ = nullptr;
  static inline KannelOptions* options_ = nullptr;
  static inline Gateway* adapter_ = nullptr;
};

TEST_F(KannelGatewayTest, ASendReachesTheNetworkAndItsDeliveryReportsComeBack) {
  const std::size_t before = Received().size();
  const SendResult result = adapter_->Send({.client_ref = "k-1",
                                            .to_e164 = "+447700900123",
                                            .body = "How did we do? https://s.example/s/AbC"});
  ASSERT_EQ(result.status, SendStatus::kAccepted) << result.error;
  EXPECT_EQ(result.http_status, 202);

  ASSERT_TRUE(WaitForReceived(before + 1)) << ReadFile(dir_ + "/fakesmsc.log");
  EXPECT_EQ(Received()[before], "Police +447700900123 text How did we do? https://s.example/s/AbC");

  // fakesmsc acknowledges delivery at once: Kannel reports 8 (accepted by the SMSC) and 1
  // (delivered), each through the dlr-url, verified by the secret and read by the adapter.
  const auto reports = ReportsFor("k-1", 2);
  ASSERT_EQ(reports.size(), 2u) << "delivery reports that reached the dlr-url: "
                                << receiver_->Callbacks().size();
  bool sent = false, delivered = false;
  for (const Callback& callback : reports) {
    EXPECT_EQ(callback.verdict, CallbackVerdict::kOk);
    EXPECT_EQ(callback.report->gateway, "kannel");
    sent = sent || callback.report->state == DeliveryState::kSent;
    delivered = delivered || callback.report->state == DeliveryState::kDelivered;
    // %T is the time Kannel stamped: within a minute of now.
    EXPECT_LT(std::chrono::abs(callback.report->at - SystemClock().Now()), std::chrono::minutes(1));
  }
  EXPECT_TRUE(sent);
  EXPECT_TRUE(delivered);
}

TEST_F(KannelGatewayTest, TextOutsideGsm7ReachesTheNetworkAsUcs2) {
  const std::size_t before = Received().size();
  const SendResult result = adapter_->Send(
      {.client_ref = "k-2", .to_e164 = "+447700900124", .body = "Dziękujemy! Jak nam poszło?"});
  ASSERT_EQ(result.status, SendStatus::kAccepted) << result.error;
  ASSERT_TRUE(WaitForReceived(before + 1)) << ReadFile(dir_ + "/fakesmsc.log");
  // smsbox turned our UTF-8 into UCS-2 (UTF-16BE), which fakesmsc shows percent-encoded.
  const std::string line = Received()[before];
  const std::string prefix = "Police +447700900124 ";
  ASSERT_EQ(line.substr(0, prefix.size()), prefix) << line;
  const std::string rest = line.substr(prefix.size());
  const std::string type = rest.substr(0, rest.find(' '));
  EXPECT_TRUE(type == "data" || type == "ucs-2" || type == "ucs2") << line;
  EXPECT_EQ(http::UrlDecode(rest.substr(rest.find(' ') + 1)),
            Utf16Be(u"Dziękujemy! Jak nam poszło?"))
      << line;
  EXPECT_EQ(ReportsFor("k-2", 2).size(), 2u);
}

TEST_F(KannelGatewayTest, ARefusedPasswordIsAuth) {
  KannelOptions options = *options_;
  options.password = "wrong";
  const SendResult result = MakeKannelGateway(options)->Send(
      {.client_ref = "k-3", .to_e164 = "+447700900125", .body = "x"});
  EXPECT_EQ(result.status, SendStatus::kAuth) << SendStatusName(result.status);
  EXPECT_EQ(result.http_status, 403);
}

TEST_F(KannelGatewayTest, AReplyReachesTheSmsServiceGetUrlAndNothingIsTextedBack) {
  const auto inbound = [](const std::string& from) {
    return WaitForCallbacks(1, [&](const Callback& c) {
      return c.inbound.has_value() && c.inbound->from_e164 == from;
    });
  };
  ASSERT_EQ(
      std::system(
          Shell("kannel_inject " + dir_ + " \"+447700900126 60001 text Stop please\"").c_str()),
      0);
  const auto stop = inbound("+447700900126");
  ASSERT_EQ(stop.size(), 1u) << ReadFile(dir_ + "/smsbox.log");
  EXPECT_EQ(stop[0].verdict, CallbackVerdict::kOk);
  EXPECT_EQ(stop[0].inbound->gateway, "kannel");
  EXPECT_EQ(stop[0].inbound->to, "60001");
  EXPECT_EQ(stop[0].inbound->body, "Stop please");

  // A reply typed in Polish travels as UCS-2; smsbox's mo-recode hands it to us as UTF-8.
  ASSERT_EQ(std::system(Shell("kannel_inject " + dir_ + " \"+447700900127 60001 ucs2 " +
                              EncodeAll(Utf16Be(u"Dziękuję, osiem")) + "\"")
                            .c_str()),
            0);
  const auto polish = inbound("+447700900127");
  ASSERT_EQ(polish.size(), 1u) << ReadFile(dir_ + "/smsbox.log");
  EXPECT_EQ(polish[0].inbound->body, "Dziękuję, osiem");
  // The get-url's &id=%I: each text carries Kannel's own id, by which a second delivery of it
  // is recognised.
  EXPECT_FALSE(stop[0].inbound->gateway_message_id.empty());
  EXPECT_NE(stop[0].inbound->gateway_message_id, polish[0].inbound->gateway_message_id);
  // And its &ts=%T: when bearerbox took the text, by which a second delivery without the id is
  // recognised.
  ASSERT_TRUE(stop[0].inbound->gateway_time.has_value());
  EXPECT_LT(std::chrono::abs(*stop[0].inbound->gateway_time - stop[0].inbound->received_at),
            std::chrono::minutes(1));

  // max-messages = 0 and an empty answer: smsbox texts nothing back to either citizen.
  std::this_thread::sleep_for(1s);
  for (const std::string& line : Received()) {
    EXPECT_EQ(line.find("+447700900126"), std::string::npos) << line;
    EXPECT_EQ(line.find("+447700900127"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace surveyd::gateway
