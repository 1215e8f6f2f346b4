#include "surveyd/core/sms_reply.hpp"

#include <gtest/gtest.h>

namespace surveyd::sms_reply {
namespace {

// A reply, whether it opts out, and why.
struct OptOutCase {
  const char* text;
  bool opt_out;
  const char* why;
};

template <std::size_t N>
void ExpectOptOuts(const OptOutCase (&cases)[N]) {
  for (const OptOutCase& c : cases) {
    EXPECT_EQ(IsOptOut(c.text), c.opt_out) << c.text << ": " << c.why;
  }
}

TEST(SmsReplyOptOut, TheWordsInAnyCaseWithPunctuationAndSpaces) {
  for (const char* text :
       {"STOP",     "stop",        " Stop ",       "STOP\n",   "Stop.",     "stop!!",   "STOPALL",
        "stop all", "unsubscribe", "UNSUBSCRIBE.", "Cancel",   "END",       "quit",     "optout",
        "opt out",  "Opt-Out",     "unsub",        "\"STOP\"", "STOP STOP", "Stop 🛑"}) {
    EXPECT_TRUE(IsOptOut(text)) << text;
  }
}

TEST(SmsReplyOptOut, AFewWordsAround) {
  for (const char* text : {"Stop please",
                           "please stop",
                           "Please STOP.",
                           "stop it",
                           "Stop it now please",
                           "stop now",
                           "STOP thanks",
                           "cancel thanks",
                           "END please",
                           "Quit now",
                           "i want to stop",
                           "Stop sending these",
                           "Stop texting me!",
                           "please just stop",
                           "I said stop",
                           "OK stop",
                           "no more texts",
                           "No more messages please",
                           "no more surveys",
                           "Please unsubscribe me",
                           "Unsubscribe me from this",
                           "Remove me",
                           "remove my number please",
                           "take me off your list",
                           "don't text me",
                           "Do not text me again",
                           "dont contact me",
                           "I don’t want these, stop",
                           "STOP. I never asked for this",
                           "Wypisz mnie",
                           "Rezygnuję"}) {
    EXPECT_TRUE(IsOptOut(text)) << text;
  }
}

TEST(SmsReplyOptOut, NotOptOuts) {
  for (const char* text : {"",
                           "  ",
                           "...",
                           "9",
                           "8/10",
                           "stopp",
                           "stopped",
                           "nonstop",
                           "backend",
                           "don't stop",
                           "Don't stop the good work",
                           "never stop",
                           "keep going, don't stop",
                           "can't stop",
                           "the end",
                           "in the end it was fine",
                           "great service from start to end",
                           "I had to cancel my appointment",
                           "they told me to stop at the lights and wait there",
                           "The officer was kind and helpful, thank you",
                           "yes",
                           "quite good"}) {
    EXPECT_FALSE(IsOptOut(text)) << text;
  }
}

// Phrasings citizens used against a live daemon: each row says what the reply must do and why.
TEST(SmsReplyOptOut, WhatCitizensActuallyWrite) {
  const OptOutCase kCases[] = {
      {"STOP", true, "the keyword"},
      {"Stop please", true, "the keyword and filler"},
      {"stop.", true, "the keyword and punctuation"},
      {"unsubscribe", true, "the keyword"},
      {"no more texts", true, "a phrase"},
      {"I don't want any more texts", true, "not wanting our texts"},
      {"I don't want these texts", true, "not wanting our texts"},
      {"I do not want your messages", true, "not wanting our messages"},
      {"I no longer want these surveys", true, "not wanting our surveys"},
      {"I dont want to be contacted", true, "not wanting to be contacted"},
      {"Opt me out", true, "opt out, split by who"},
      {"un-subscribe", true, "unsubscribe, split by a hyphen"},
      {"No more please", true, "no more, with filler only"},
      {"leave me alone", true, "leave me alone, alone"},
      {"Leave me alone, I'm busy", true, "leave me alone opening a short reply"},
      {"I told you to stop", true, "said to us"},
      {"I asked to stop", true, "said to us: no one else was told"},
      {"Please get them to stop", true, "no telling verb: asking us"},
      {"Stop and search was handled well", false, "the police power, not the word stop"},
      {"stop and search was fair 9/10", false, "the police power, not the word stop"},
      {"Stop-and-search was fair", false, "the police power, hyphenated"},
      {"The officer told me to stop", false, "reported: someone else told the citizen"},
      {"The officer told the driver to stop", false, "reported: someone else was told"},
      {"I was asked to stop", false, "reported, in the passive"},
      {"Keep it up, don't ever stop", false, "negated, with ever between"},
      {"Please don't ever stop what you do", false, "stop in the middle, and negated"},
      {"I don't want any more texts from him", false, "someone else's texts"},
      {"I don't want to send a complaint", false, "what the citizen sends, not what we do"},
      {"The police won't leave me alone", false, "negated: a complaint to read, not a stop"},
      {"No more complaints, 10/10", false, "no more with words that are not filler"},
  };
  ExpectOptOuts(kCases);
}

// A review's misses, live against the daemon: stops with a word between "stop" and the texts,
// said again, or in Polish and Welsh sentences; and pleas about someone else read as stops,
// where the citizen was told "no more survey texts" and nothing else.
TEST(SmsReplyOptOut, StopsSaidInSentencesAndPleasAboutSomeoneElse) {
  const OptOutCase kCases[] = {
      {"Please stop these messages, they are upsetting me", true, "a determiner between"},
      {"Stop the texts please I already told the officer everything", true, "the texts"},
      {"stop all your surveys", true, "two determiners"},
      {"Why are you still texting me? I asked you to stop", true, "said to us, again"},
      {"I told you to stop sending these last week", true, "said to us, again"},
      {"I dont want these anymore", true, "what we sent, no longer wanted"},
      {"enough, no more", true, "no more, with enough"},
      {"Nie chcę więcej wiadomości", true, "Polish: I don't want more messages"},
      {"Proszę nie pisać więcej", true, "Polish: please don't write any more"},
      {"Rezygnuję z ankiet", true, "Polish: I withdraw from the surveys"},
      {"Peidiwch â chysylltu â mi eto", true, "Welsh: don't contact me again"},
      {"Make him stop", false, "someone else is to stop"},
      {"I just want him to stop", false, "someone else is to stop"},
      {"Please tell him to stop", false, "someone else is to stop"},
      {"Can you get him to stop", false, "someone else is to stop"},
      {"the noise needs to stop", false, "something else is to stop"},
      {"he won't stop texting me", false, "his texts, not ours"},
      {"make her stop messaging me", false, "her messages, not ours"},
      {"stop the texts from him", false, "his texts, not ours"},
      {"this has to stop", true, "said of our texts"},
      {"I need to stop", true, "of themselves: when in doubt it opts out"},
      {"Please get them to stop", true, "them may be our texts: asking us"},
  };
  ExpectOptOuts(kCases);
}

// The audit's misses: each a way of saying "stop texting me" that was read as an answer or a
// reply. A wrong opt-out costs one survey; a missed one costs a citizen's trust.
TEST(SmsReplyOptOut, CommonWaysOfSayingNoMore) {
  const OptOutCase kCases[] = {
      {"wrong number", true, "not the person we meant"},
      {"Sorry, wrong number", true, "with filler"},
      {"You have the wrong number", true, "said as a sentence"},
      {"I think you've got the wrong number mate", true, "said as a sentence"},
      {"wrong person", true, "not the person we meant"},
      {"not interested", true, "declines"},
      {"I'm not interested, thanks", true, "with filler"},
      {"no thanks", true, "declines"},
      {"No thank you", true, "declines"},
      {"delete my number", true, "asks us to forget the number"},
      {"Please delete my details", true, "asks us to forget them"},
      {"S T O P", true, "spelt out"},
      {"s.t.o.p", true, "spelt out with dots"},
      {"E-N-D", true, "spelt out with hyphens"},
      {"stp", true, "typed in a hurry"},
      {"Stp pls", true, "typed in a hurry, with filler"},
      {"stopio", true, "Welsh: stop"},
      {"Stopiwch y negeseuon", true, "Welsh: stop (said to us) the messages"},
      {"dim mwy o negeseuon", true, "Welsh: no more messages"},
      {"Dim mwy, diolch", true, "Welsh: no more, thanks"},
      {"dim diolch", true, "Welsh: no thanks"},
      {"no", false, "alone it may answer a question (the two-way asks again)"},
      {"NO", false, "alone it may answer a question"},
      {"dim", false, "Welsh for none or zero: a two-way score of 0, never an opt-out"},
      {"They gave me the wrong number to call", false, "a wrong number that is not ours"},
      {"The officer was not interested in what I said", false, "about someone else"},
      {"No thanks to the call handler, it took ages", false, "a complaint to read"},
      {"dim mwy o broblemau", false, "Welsh: no more problems"},
      {"i a m happy", false, "single letters that spell no opt-out word"},
  };
  ExpectOptOuts(kCases);
}

// Found by a review against the running service: each was read as an answer, and a link survey's
// citizen was texted back "Reply STOP to opt out", a two-way one asked the question again.
TEST(SmsReplyOptOut, NeverAgainAndRatherNot) {
  const OptOutCase kCases[] = {
      {"Never text me again", true, "an order, in the base form"},
      {"never contact me again", true, "an order"},
      {"Please never contact me again", true, "with filler"},
      {"never ever text me", true, "with an intensifier"},
      {"don't ever text me again", true, "an intensifier after the negation"},
      {"Do not ever contact me again", true, "an intensifier after do not"},
      {"I'd rather you didn't text me", true, "politely"},
      {"I would rather not be contacted", true, "politely, passive"},
      {"I don't want to hear from you again", true, "us, again"},
      {"Take my number off your system", true, "asks us to forget the number"},
      {"take this number off your list", true, "the same"},
      {"They never contacted me back", false, "a complaint: past tense"},
      {"the officer never texted me", false, "a complaint: past tense"},
      {"I never got a text from the officer", false, "a complaint"},
      {"I don't want to hear from him again", false, "someone else"},
      {"I'd rather you didn't send an officer", false, "not about our texts"},
      {"don't you ever stop", false, "negated stop"},
  };
  ExpectOptOuts(kCases);
}

TEST(SmsReplyOptOut, StopAtTheEdgeOfALongReplyIsNotEnough) {
  EXPECT_TRUE(IsOptOut("I would like all this to stop"));
  EXPECT_FALSE(IsOptOut("I waited for ages at the bus stop before anyone came to stop"))
      << "more than 8 words: only phrases count";
  EXPECT_TRUE(IsOptOut("I waited for ages and it was awful so stop texting me now"));
}

TEST(SmsReplyScore, DigitsAndDenominators) {
  EXPECT_EQ(ParseScore("8"), 8);
  EXPECT_EQ(ParseScore(" 8/10 "), 8);
  EXPECT_EQ(ParseScore("8 / 10"), 8);
  EXPECT_EQ(ParseScore("8 out of 10"), 8);
  EXPECT_EQ(ParseScore("8 of ten"), 8);
  EXPECT_EQ(ParseScore("10/10"), 10);
  EXPECT_EQ(ParseScore("10"), 10);
  EXPECT_EQ(ParseScore("0"), 0);
  EXPECT_EQ(ParseScore("08"), 8);
  EXPECT_EQ(ParseScore("8."), 8);
  EXPECT_EQ(ParseScore("8!"), 8);
  EXPECT_EQ(ParseScore("\"7\""), 7);
  EXPECT_EQ(ParseScore("8 👍"), 8);
}

TEST(SmsReplyScore, NumberWordsAndFiller) {
  EXPECT_EQ(ParseScore("eight"), 8);
  EXPECT_EQ(ParseScore("Eight!"), 8);
  EXPECT_EQ(ParseScore("TEN"), 10);
  EXPECT_EQ(ParseScore("zero"), 0);
  EXPECT_EQ(ParseScore("I'd say 7"), 7);
  EXPECT_EQ(ParseScore("score 9 thanks"), 9);
  EXPECT_EQ(ParseScore("I would give it a 6"), 6);
  EXPECT_EQ(ParseScore("ok 5"), 5);
  EXPECT_EQ(ParseScore("nine out of ten"), 9);
}

TEST(SmsReplyScore, WelshAndPolish) {
  EXPECT_EQ(ParseScore("wyth"), 8);
  EXPECT_EQ(ParseScore("Deg"), 10);
  EXPECT_EQ(ParseScore("saith allan o ddeg"), 7);
  EXPECT_EQ(ParseScore("dim"), 0);
  EXPECT_EQ(ParseScore("naw diolch"), 9);
  EXPECT_EQ(ParseScore("osiem"), 8);
  EXPECT_EQ(ParseScore("PIĘĆ"), 5);
  EXPECT_EQ(ParseScore("pięć"), 5);
  EXPECT_EQ(ParseScore("piec"), 5) << "typed without the accents";
  EXPECT_EQ(ParseScore("dziesięć"), 10);
  EXPECT_EQ(ParseScore("8 na 10"), 8);
  EXPECT_EQ(ParseScore("dziewięć, dziękuję"), 9);
}

TEST(SmsReplyScore, AnythingElseIsNotAScore) {
  for (const char* text : {"",
                           "  ",
                           "/",
                           "/10",
                           "out of 10",
                           "11",
                           "100",
                           "-3",
                           "- 3",
                           "8.5",
                           "8,5",
                           "7-8",
                           "7 or 8",
                           "7 8",
                           "eight 8",
                           "8/9",
                           "I called at 9 and waited",
                           "8 but rude",
                           "great",
                           "STOP",
                           "twenty",
                           "8/",
                           "1000000000000000000000"}) {
    EXPECT_FALSE(ParseScore(text).has_value()) << text;
  }
}

TEST(SmsReplyScore, InvalidUtf8SeparatesWords) {
  EXPECT_EQ(ParseScore("\xff\xfe 8 \xc3"), 8);
  EXPECT_FALSE(ParseScore("\xf0\x9f").has_value());
  EXPECT_TRUE(IsOptOut("\xffSTOP"));
}

}  // namespace
}  // namespace surveyd::sms_reply
