// libFuzzer target: a citizen's text through the inbound side (sms_reply::IsOptOut and
// ParseScore, then survey::PlanReply under the shipped rules). The first byte sets what the store
// knows about the number (opted out, confirmed, a newest survey, a two-way conversation: its
// state, question, whether it was asked again, its language); the rest is the text.
// Whatever arrives: a score is 0-10, only what ParseScore reads answers a question, an opt-out is
// always honoured, the conversation stays within its five questions, the citizen's words are
// never texted back (the texts queued are the rules' own), and where to get help goes only to a
// text that calls for it, once.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "surveyd/core/sms_reply.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/survey/sms_replies.hpp"

namespace {

const surveyd::rules::RuleSet& Shipped() {
  static const auto loaded =
      surveyd::rules::LoadFile(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  if (!loaded.rules) std::abort();  // the shipped rules must load
  return *loaded.rules;
}

bool IsAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAsciiLower(char c) { return c >= 'a' && c <= 'z'; }

// ASCII letters swapped in case: what the parsers must not notice.
std::string SwapCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (IsAsciiUpper(c)) {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (IsAsciiLower(c)) {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned setup = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  const bool opt_out = surveyd::sms_reply::IsOptOut(body);
  const auto score = surveyd::sms_reply::ParseScore(body);
  if (score && (*score < 0 || *score > 10)) std::abort();
  // Case never matters; nor do spaces around the text.
  const std::string swapped = SwapCase(body);
  if (surveyd::sms_reply::IsOptOut(swapped) != opt_out) std::abort();
  if (surveyd::sms_reply::ParseScore(swapped) != score) std::abort();
  const std::string padded = " " + std::string(body) + " \n";
  if (surveyd::sms_reply::IsOptOut(padded) != opt_out) std::abort();
  if (surveyd::sms_reply::ParseScore(padded) != score) std::abort();

  static const char* const kLanguages[] = {"en", "cy", "pl", "xx"};
  static const char* const kStates[] = {"open", "open", "finished", "expired"};
  surveyd::store::ReplyContext context;
  context.opted_out = (setup & 1) != 0;
  context.confirmed_before = (setup & 2) != 0;
  if ((setup & 4) != 0) {
    context.latest_survey_id = 41;
    context.latest_language = kLanguages[(setup >> 3) & 3];
  }
  const auto now = surveyd::FromUnixSeconds(1'800'000'000);
  // Whether the text calls for help is the alert rules' to say (the store asks them): here a
  // property of the input, the same for every survey, and help given half an hour ago or never.
  const bool calls_for_help = size % 3 == 0;
  context.latest_calls_for_help = calls_for_help;
  if ((size & 8) != 0) context.helped_at = now - std::chrono::minutes(30);
  if ((setup & 32) != 0) {
    surveyd::store::ReplyContext::TwoWay two_way;
    two_way.survey_id = 42;
    two_way.language = kLanguages[(setup >> 3) & 3];
    two_way.state = kStates[(setup >> 6) & 3];
    two_way.question = 1 + static_cast<int>((setup >> 2) % 5);  // the store keeps it 1-5
    two_way.asked_again = (setup & 64) != 0;
    // Begun an hour ago, or two days ago (expired under the shipped 24 h).
    two_way.begun_at = now - std::chrono::hours((setup & 128) != 0 ? 48 : 1);
    two_way.calls_for_help = calls_for_help;
    context.two_way = two_way;
  }

  const auto plan = surveyd::survey::PlanReply(Shipped(), context, body, now);
  if (plan.opt_out != opt_out) std::abort();  // an opt-out is always honoured, and only then
  if (plan.score != (plan.disposition == "answer" ? score : std::nullopt)) std::abort();
  if (plan.score && !context.two_way) std::abort();  // nothing to answer without a conversation
  if (plan.next_question < 1 || plan.next_question > 5) std::abort();
  if (!plan.comment.empty() && plan.comment != body) std::abort();
  // The texts are the rules' own, whatever the citizen wrote: the same as for a plain reply of
  // the same kind (a citizen's words never go back out, even quoting the question).
  static const std::map<std::string, std::string> kPlain = {{"answer", "5"},
                                                            {"asked_again", "zzzz"},
                                                            {"comment", "zzzz"},
                                                            {"opt_out", "STOP"},
                                                            {"reply", "zzzz"}};
  const auto plain = kPlain.find(plan.disposition);
  if (plain == kPlain.end()) std::abort();
  const auto expected = surveyd::survey::PlanReply(Shipped(), context, plain->second, now);
  if (expected.disposition != plan.disposition || expected.texts.size() != plan.texts.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < plan.texts.size(); ++i) {
    if (plan.texts[i].body.empty() || plan.texts[i].body != expected.texts[i].body) std::abort();
  }
  // One text answers one text, and where to get help may come with it, only when the text
  // calls for help; a conversation ends on such a text, and on no other.
  std::size_t help = 0;
  for (const auto& text : plan.texts) help += text.kind == surveyd::store::MessageKind::kHelp;
  if (plan.texts.size() - help > 1 || help > 1) std::abort();
  if (help > 0 && !calls_for_help) std::abort();
  const bool waiting = context.two_way && context.two_way->state == "open" &&
                       now < context.two_way->begun_at + Shipped().replies().conversation_lasts;
  if ((plan.conversation_state == "help") != (calls_for_help && !opt_out && waiting)) {
    std::abort();
  }
  return 0;
}
