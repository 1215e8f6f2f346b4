#include "surveyd/alerts/lexicon.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace surveyd::alerts {
namespace {

std::string SourcePath(const std::string& relative) {
  return std::string(SURVEYD_SOURCE_DIR) + "/" + relative;
}

std::shared_ptr<const Lexicon> Shipped() {
  static const auto loaded = LoadLexiconFile(SourcePath("config/alert_lexicon.yaml"));
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.ToString();
  return loaded.lexicon;
}

std::shared_ptr<const Lexicon> Load(const std::string& yaml) {
  auto loaded = LoadLexiconString(yaml, "test.yaml");
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.ToString();
  return loaded.lexicon;
}

TEST(LexiconNormalize, FoldsCaseAccentsApostrophesAndSpacing) {
  // Line breaks read as one space, as the shipped lexicon's header says: a comment typed with
  // Enter mid-sentence, or built from two texts back, is one sentence.
  EXPECT_EQ(NormalizedText("I’m  SCARED\tto go\nhome"), "im scared to go home");
  EXPECT_EQ(NormalizedText("he's\r\nback"), "hes back");
  EXPECT_EQ(NormalizedText("Boję się, ŻE wróci"), "boje sie | ze wroci");
  EXPECT_EQ(NormalizedText("Dw i ddim yn teimlo'n ddiogel yn y tŷ; Ŵyr"),
            "dw i ddim yn teimlon ddiogel yn y ty | wyr");
  EXPECT_EQ(NormalizedText("self-harm — again…"), "self harm again");
  EXPECT_EQ(NormalizedText("he's back!!! 😢 help"), "hes back | help");
  EXPECT_EQ(NormalizedText("Ẁ ẃ ỳ Œuvre façade"), "w w y oeuvre facade");
  EXPECT_EQ(NormalizedText(""), "");
  EXPECT_EQ(NormalizedText("..."), "");
  // Bytes that are not UTF-8 separate words rather than join them.
  EXPECT_EQ(NormalizedText(std::string("scared\xff\xfehome")), "scared home");
}

TEST(LexiconMatch, WholeWordsOnly) {
  auto lexicon = Load(R"(
version: 1
entries:
  - id: threat
    category: safeguarding
    terms: {en: [threat, kill me]}
)");
  ASSERT_TRUE(lexicon);
  EXPECT_TRUE(lexicon->Matches("a threat was made", "safeguarding"));
  EXPECT_FALSE(lexicon->Matches("threaten", "safeguarding"));
  EXPECT_FALSE(lexicon->Matches("skill meeting", "safeguarding"));
  EXPECT_TRUE(lexicon->Matches("he said he would KILL   ME", "safeguarding"));
  // A term never spans a clause break.
  EXPECT_FALSE(lexicon->Matches("kill. me", "safeguarding"));
  EXPECT_FALSE(lexicon->Matches("a threat was made", "complaint"));
}

TEST(LexiconMatch, PrefixesElongationAndTypos) {
  auto lexicon = Load(R"(
version: 1
entries:
  - id: fear
    category: safeguarding
    fuzzy: true
    terms: {en: [frightened, scared], pl: [przeraz*]}
  - id: stalking
    category: safeguarding
    terms: {en: [stalking]}
)");
  ASSERT_TRUE(lexicon);
  EXPECT_TRUE(lexicon->Matches("jestem przerażona", "safeguarding"));
  EXPECT_TRUE(lexicon->Matches("PRZERAZONY", "safeguarding"));
  EXPECT_FALSE(lexicon->Matches("przera", "safeguarding"));
  EXPECT_TRUE(lexicon->Matches("soooo scaaaared", "safeguarding"));
  EXPECT_TRUE(lexicon->Matches("frigtened", "safeguarding"));    // one letter missing
  EXPECT_TRUE(lexicon->Matches("frigthened", "safeguarding"));   // two letters swapped
  EXPECT_FALSE(lexicon->Matches("brightened", "safeguarding"));  // never the first letter
  EXPECT_FALSE(lexicon->Matches("frightfully", "safeguarding"));
  EXPECT_FALSE(lexicon->Matches("scarf", "safeguarding"));  // short words: exact only
  // Not fuzzy: "talking" is not "stalking".
  EXPECT_FALSE(lexicon->Matches("talking", "safeguarding"));
  EXPECT_TRUE(lexicon->Matches("stalking", "safeguarding"));
}

TEST(LexiconMatch, NegationReachesOnlyAcrossFillersInTheSameClause) {
  auto lexicon = Load(R"(
version: 1
negation:
  window: 2
  words: {en: [not, no longer], pl: [nie], cy: [ddim]}
  immediate: {en: ["no"]}
  fillers: {en: [feel, really], cy: [yn]}
soft_breaks: {en: [but]}
entries:
  - id: fear
    category: safeguarding
    terms: {en: [scared, unsafe, not safe, threats], pl: [boje sie], cy: [ofnus]}
)");
  ASSERT_TRUE(lexicon);
  auto fires = [&](const char* text) { return lexicon->Matches(text, "safeguarding"); };
  EXPECT_FALSE(fires("I'm not scared"));
  EXPECT_FALSE(fires("I no longer feel unsafe"));
  EXPECT_FALSE(fires("not really scared"));
  EXPECT_FALSE(fires("nie boję się"));
  EXPECT_FALSE(fires("dw i ddim yn ofnus"));
  EXPECT_FALSE(fires("no threats"));
  EXPECT_TRUE(fires("no real threats"));                // "no" reaches only the next word
  EXPECT_TRUE(fires("not really really feel scared"));  // beyond the window of two
  EXPECT_TRUE(fires("not sure but scared"));            // a soft break ends the negation
  EXPECT_TRUE(fires("not sure he scared"));             // "sure" is no filler
  EXPECT_TRUE(fires("not scared, scared"));             // the second one counts
  EXPECT_TRUE(fires("I'm not safe"));                   // a term that holds its own negation
  const auto matches = lexicon->Match("I'm not scared. Still unsafe");
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_TRUE(matches[0].negated);
  EXPECT_EQ(matches[0].negation, "not");
  EXPECT_EQ(matches[0].term, "scared");
  EXPECT_FALSE(matches[1].negated);
  EXPECT_EQ(matches[1].entry, "fear");
}

// Words of safety are no risk alone and one after a negation: a `negated:` term counts only
// there, in any of the ways a negation reaches a term, and a weak negation ("never") makes it
// count without cancelling a risk term ("never so scared").
TEST(LexiconMatch, NegatedTermsCountOnlyAfterANegation) {
  auto lexicon = Load(R"(
version: 1
negation:
  window: 3
  words: {en: [not, dont, havent, no longer], pl: [nie], cy: [ddim]}
  weak: {en: [never, wont], pl: [nigdy], cy: [byth]}
  immediate: {en: ["no"]}
  fillers: {en: [feel, felt, feeling, really, be], pl: [czuje, sie], cy: [yn, teimlon]}
soft_breaks: {en: [but]}
entries:
  - id: fear
    category: safeguarding
    terms: {en: [scared]}
    negated: {en: [safe, want to live], pl: [bezpieczn*], cy: [ddiogel]}
)");
  ASSERT_TRUE(lexicon);
  auto fires = [&](const char* text) { return lexicon->Matches(text, "safeguarding"); };
  EXPECT_TRUE(fires("I don't feel safe"));
  EXPECT_TRUE(fires("not feeling safe at home"));
  EXPECT_TRUE(fires("I haven't felt safe since"));
  EXPECT_TRUE(fires("I no longer feel safe"));
  EXPECT_TRUE(fires("I never felt safe there"));  // a weak negation
  EXPECT_TRUE(fires("I won't be safe when he's out"));
  EXPECT_TRUE(fires("no safe place to go"));       // an immediate one
  EXPECT_TRUE(fires("I don't want to live"));      // a term of several words
  EXPECT_TRUE(fires("nie czuję się bezpieczna"));  // a stem
  EXPECT_TRUE(fires("dw i ddim yn teimlo'n ddiogel"));
  EXPECT_TRUE(fires("dw i byth yn ddiogel"));
  EXPECT_FALSE(fires("I feel safe now"));
  EXPECT_FALSE(fires("safe and well, thank you"));
  EXPECT_FALSE(fires("not sure but safe now"));                   // a soft break ends the negation
  EXPECT_FALSE(fires("not sure it is safe"));                     // "sure" is no filler
  EXPECT_FALSE(fires("I don't feel really really really safe"));  // beyond the window
  EXPECT_FALSE(fires("not now. Safe"));                           // nor across a clause
  EXPECT_FALSE(fires("I want to live"));
  // A weak negation never cancels a term; a strong one still does.
  EXPECT_TRUE(fires("I was never so scared"));
  EXPECT_TRUE(fires("I won't be scared"));
  EXPECT_FALSE(fires("I'm not scared"));
  const auto matches = lexicon->Match("Honestly I haven't really felt safe");
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_FALSE(matches[0].negated);
  EXPECT_TRUE(matches[0].after_negation);
  EXPECT_EQ(matches[0].term, "safe");
  EXPECT_EQ(matches[0].negation, "havent");
  EXPECT_EQ(matches[0].text, "havent really felt safe");
  EXPECT_TRUE(lexicon->Match("I feel safe").empty());
}

TEST(LexiconMatch, AloneTermsCountOnlyAsTheWholeText) {
  // "HELP" texted back is a call for help; "thanks for your help" is not.
  auto lexicon = Load(R"(
version: 1
negation:
  window: 3
  words: {en: [not]}
entries:
  - id: danger_now
    category: safeguarding
    terms: {en: [in danger]}
    alone: {en: [help, help me], pl: [pomocy]}
)");
  ASSERT_TRUE(lexicon);
  auto fires = [&](const char* text) { return lexicon->Matches(text, "safeguarding"); };
  EXPECT_TRUE(fires("HELP"));
  EXPECT_TRUE(fires("Help!!"));
  EXPECT_TRUE(fires("  help me. "));
  EXPECT_TRUE(fires("Pomocy!"));
  EXPECT_FALSE(fires("thanks for your help"));
  EXPECT_FALSE(fires("help me understand the letter"));
  EXPECT_FALSE(fires("they did not help"));
  EXPECT_TRUE(fires("help. I am in danger"));
  const auto matches = lexicon->Match("HELP ME!");
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(MatchName(matches[0]), "danger_now:help me");
}

// An entry's own negations cancel its terms only: "never contact me again" asks not to be
// called, where "never" leaves "I was never so scared" a risk.
TEST(LexiconMatch, AnEntrysOwnNegationsCancelItsTermsOnly) {
  auto lexicon = Load(R"(
version: 1
negation:
  window: 3
  words: {en: [not]}
  weak: {en: [never]}
  fillers: {en: [ever, so]}
entries:
  - id: contact_me
    category: complaint
    terms: {en: [contact me, ring me]}
    negated_by: {en: [never, no need to]}
  - id: fear
    category: safeguarding
    terms: {en: [scared]}
)");
  ASSERT_TRUE(lexicon);
  EXPECT_FALSE(lexicon->Matches("never contact me again", "complaint"));
  EXPECT_FALSE(lexicon->Matches("never ever contact me", "complaint"));
  EXPECT_FALSE(lexicon->Matches("there is no need to ring me", "complaint"));
  EXPECT_TRUE(lexicon->Matches("please contact me", "complaint"));
  EXPECT_TRUE(lexicon->Matches("I need you to ring me", "complaint"));
  EXPECT_TRUE(lexicon->Matches("I was never so scared", "safeguarding"));
  const auto matches = lexicon->Match("never contact me");
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_TRUE(matches[0].negated);
  EXPECT_EQ(matches[0].negation, "never");
}

// The shipped lexicon: asking not to be contacted raises no complaint (a review found each
// raised "contact_me", re-sent daily to professional standards until acknowledged).
TEST(LexiconMatch, ShippedContactMeIsNotRaisedByAskingNotToBeContacted) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  for (const char* text :
       {"never contact me again", "Please never contact me again", "I don't want you to contact me",
        "no need to contact me", "you don't need to ring me",
        "no one needs to contact me, it's sorted"}) {
    EXPECT_FALSE(lexicon->Matches(text, "complaint")) << text;
  }
  for (const char* text :
       {"please call me back", "You need to contact me about my car", "can someone ring me"}) {
    EXPECT_TRUE(lexicon->Matches(text, "complaint")) << text;
  }
}

// A citizen split "he's back" over two texts, and pressed Enter mid-sentence in the comment box:
// neither raised anything (a review), where the words on one line did.
TEST(LexiconMatch, ShippedSafeguardingReadsAcrossLineBreaks) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  for (const char* text : {"thank you so much, only thing is he's\nback",
                           "I still dont feel\r\nsafe at home, he has been\r\nround again"}) {
    EXPECT_TRUE(lexicon->Matches(text, "safeguarding")) << text;
  }
}

// One term for a verb's forms and the people it is done to, where each phrase was listed:
// "hurt+ (me|the kids)" is hurt me, hurts me, hurting me, hurt the kids...
TEST(LexiconMatch, InflectionsAndAlternatives) {
  auto lexicon = Load(R"yaml(
version: 1
negation:
  words: {en: [hasnt]}
entries:
  - id: harm
    category: safeguarding
    terms:
      en: ["threaten+", "(hurt+|harm+) (me|the kids|himself)", "terrify+ me", "stab+",
           "(beat+|beaten) me", "scare+ (me|us)"]
)yaml");
  ASSERT_TRUE(lexicon);
  auto fires = [&](const char* text) { return lexicon->Matches(text, "safeguarding"); };
  for (const char* text :
       {"he threatens me", "I was threatened", "threatening messages", "threaten", "he harms me",
        "she's hurting the kids", "worried he'll harm himself", "it terrifies me",
        "he terrified me", "he stabbed my friend", "stabbing", "he's beaten me before",
        "he beats me", "he scares us", "scaring me"}) {
    EXPECT_TRUE(fires(text)) << text;
  }
  for (const char* text : {"a threat", "hurt", "hurt the kid", "the kids hurt", "harmless",
                           "terrify", "stable", "beatles me", "scarf me", "scare him"}) {
    EXPECT_FALSE(fires(text)) << text;
  }
  EXPECT_FALSE(fires("he hasn't hurt the kids"));  // negation as for any term
  const auto matches = lexicon->Match("he keeps hurting the kids");
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].term, "(hurt+|harm+) (me|the kids|himself)");
  EXPECT_EQ(matches[0].text, "hurting the kids");
  EXPECT_EQ(matches[0].position, 2u);
  // The alert shows what was read, not the pattern.
  EXPECT_EQ(MatchName(matches[0]), "harm:hurting the kids");
  EXPECT_EQ(MatchName(lexicon->Match("a stab wound")[0]), "harm:stab");
}

// A word written with '+' stands for its forms exactly: one typo away from "shoving" is
// "showing", from "choking" "cooking", and a thank-you became an urgent safeguarding alert.
TEST(LexiconMatch, InflectedFormsAreReadExactly) {
  auto lexicon = Load(R"yaml(
version: 1
entries:
  - id: violence
    category: safeguarding
    fuzzy: true
    terms:
      en: ["(shove+|choke+|attack+) (me|them|my kids)", "frightened"]
)yaml");
  ASSERT_TRUE(lexicon);
  auto fires = [&](const char* text) { return lexicon->Matches(text, "safeguarding"); };
  for (const char* text : {"he shoved me", "he was choking me", "they attacked them"}) {
    EXPECT_TRUE(fires(text)) << text;
  }
  for (const char* text : {"very kind, showing me how to use the app", "cooking my kids dinner",
                           "I attached them to my email"}) {
    EXPECT_FALSE(fires(text)) << text;
  }
  EXPECT_TRUE(fires("I was frigtened")) << "a plain word keeps its typo";
}

// The name an alert keeps is the lexicon's phrase: the comment's own spelling (a typo, a stem's
// ending, a number run on to a word) would copy a citizen's words into the alert.
TEST(LexiconMatch, AMatchIsNamedInTheLexiconsWords) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  const auto matches = lexicon->Match("Nie czuje sie bezpiecznie07700900123");
  ASSERT_FALSE(matches.empty());
  for (const auto& match : matches) {
    EXPECT_EQ(MatchName(match).find("0770"), std::string::npos) << MatchName(match);
  }
  EXPECT_EQ(MatchName(matches[0]), "fear:nie czuje sie bezpieczn*");
}

// Some phones send "ę" as "e" and a combining ogonek (U+0328), "é" as "e" and U+0301.
TEST(LexiconMatch, CombiningMarksReadAsThePrecomposedLetters) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  EXPECT_TRUE(lexicon->Matches("Nie czuje\u0328 sie\u0328 bezpiecznie", "safeguarding"));
  EXPECT_TRUE(lexicon->Matches("Boje\u0328 sie\u0328 go", "safeguarding"));
  EXPECT_EQ(Tokenize("cafe\u0301")[0].text, "cafe");
}

// A bracket or a '+' in the wrong place would make a term match nothing, or everything: each is
// an error at its line.
TEST(LexiconLoad, InflectionsAndAlternativesAreChecked) {
  auto loaded = LoadLexiconString(R"yaml(
version: 1
entries:
  - id: fear
    category: safeguarding
    terms:
      en: ["threat+en", "hurt+ (me|us", "hurt+ me|us", "hurt+ (me|(us))", "hurt+ (me|)",
           "hi+", "hurt+ me)", "(a|b|c|d|e|f|g|h) (a|b|c|d|e|f|g|h) (a|b|c|d|e|f|g|h) (a|b)",
           "hurt+ (him|her)self", "(hit|kick)s me", "(kick+ punch+ shove+ choke+ grab+ slap+)"]
      pl: ["boje+ sie"]
)yaml",
                                  "lex.yaml");
  EXPECT_FALSE(loaded.lexicon);
  std::string all;
  for (const auto& e : loaded.errors) all += e.ToString() + "\n";
  for (const char* expected :
       {"lex.yaml:7:12: '+' may only end a word, as in 'threaten+'",
        "lex.yaml:7:25: term 'hurt+ (me|us' opens a bracket it does not close",
        "lex.yaml:7:41: term 'hurt+ me|us' has '|' outside brackets: alternatives go in "
        "brackets, as in 'hurt+ (me|the kids)'",
        "lex.yaml:7:56: term 'hurt+ (me|(us))' has brackets inside brackets",
        "lex.yaml:7:75: term 'hurt+ (me|)' has an empty alternative: write (me|us), not (me|)",
        "lex.yaml:8:12: 'hi+' is too short to inflect",
        "lex.yaml:8:19: term 'hurt+ me)' closes a bracket it did not open",
        "stands for more than 512 phrases: split it",
        "lex.yaml:10:12: 'boje+' (English inflections) in a pl term: write a stem, as in "
        "'przeraz*'",
        "lex.yaml:9:12: term 'hurt+ (him|her)self' joins a bracket to a word: alternatives are "
        "whole words, as in '(himself|herself)'",
        "lex.yaml:9:35: term '(hit|kick)s me' joins a bracket to a word",
        "lex.yaml:9:53: term '(kick+ punch+ shove+ choke+ grab+ slap+)' stands for more than 512 "
        "phrases: split it"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << expected << "\n" << all;
  }
}

TEST(LexiconLoad, ReportsMistakesWithTheirPlace) {
  auto loaded = LoadLexiconString(R"(
version: 1
negation:
  words: {xx: [nope]}
entries:
  - id: Bad-Id
    category: safeguarding
    terms: {en: [ok]}
  - id: fine
    category: praise
    terms: {en: ["ab*", "a*b", "stop. here"]}
  - id: none
    category: praise
    tems: {en: [x]}
  - id: typo
    category: safeguarding
    terms: {en: [scared]}
    negatd: {en: [safe]}
)",
                                  "lex.yaml");
  EXPECT_FALSE(loaded.lexicon);
  std::string all;
  for (const auto& e : loaded.errors) all += e.ToString() + "\n";
  EXPECT_NE(all.find("lex.yaml:4:11: unknown language 'xx'"), std::string::npos) << all;
  EXPECT_NE(all.find("id must be lower-case"), std::string::npos) << all;
  EXPECT_NE(all.find("prefix 'ab*' is too short"), std::string::npos) << all;
  EXPECT_NE(all.find("'*' may only end a word"), std::string::npos) << all;
  EXPECT_NE(all.find("spans a clause break"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown key 'tems'"), std::string::npos) << all;
  EXPECT_NE(all.find("entry 'none' has no terms"), std::string::npos) << all;
  // A misspelt `negated:` would drop its terms: an error that says what an entry may hold.
  EXPECT_NE(all.find("lex.yaml:18:5: unknown key 'negatd' in an entry (id, category, "
                     "description, fuzzy, terms, misspellings, negated, alone, negated_by)"),
            std::string::npos)
      << all;
}

// A negation list misplaced or misspelt would leave every `negated:` term silent.
TEST(LexiconLoad, WeakNegationsAreCheckedAsTheOthersAre) {
  auto loaded = LoadLexiconString(R"(
version: 1
negation:
  weak: {en: [never], xx: [nigdy]}
  weka: {en: [cant]}
entries:
  - {id: fear, category: safeguarding, negated: {en: [safe]}}
)",
                                  "lex.yaml");
  EXPECT_FALSE(loaded.lexicon);
  std::string all;
  for (const auto& e : loaded.errors) all += e.ToString() + "\n";
  EXPECT_NE(all.find("lex.yaml:4:23: unknown language 'xx' in negation.weak"), std::string::npos)
      << all;
  EXPECT_NE(all.find("lex.yaml:5:3: unknown key 'weka' in negation (window, words, immediate, "
                     "weak, fillers)"),
            std::string::npos)
      << all;
}

// A second block of entries added at the end (an operator's own terms) would replace the
// shipped ones, every safeguarding term gone: refused, naming both places.
TEST(LexiconLoad, AKeyGivenTwiceIsAnError) {
  auto loaded = LoadLexiconString(R"(
version: 1
entries:
  - {id: scared, category: safeguarding, terms: {en: [scared]}}
entries:
  - {id: petrified, category: safeguarding, terms: {en: [petrified], en: [frit]}}
)",
                                  "lex.yaml");
  EXPECT_FALSE(loaded.lexicon);
  std::string all;
  for (const auto& e : loaded.errors) all += e.ToString() + "\n";
  EXPECT_NE(all.find("lex.yaml:5:1: duplicate key 'entries' (first on line 3)"), std::string::npos)
      << all;
  EXPECT_NE(all.find("duplicate key 'en' (first on line 6)"), std::string::npos) << all;
}

TEST(LexiconLoad, ShippedLexiconLoadsWithoutWarnings) {
  const auto loaded = LoadLexiconFile(SourcePath("config/alert_lexicon.yaml"));
  for (const auto& e : loaded.errors) ADD_FAILURE() << e.ToString();
  for (const auto& w : loaded.warnings) ADD_FAILURE() << w.ToString();
  ASSERT_TRUE(loaded.lexicon);
  for (const char* category : {"safeguarding", "complaint", "praise"}) {
    EXPECT_TRUE(loaded.lexicon->HasCategory(category)) << category;
  }
}

struct Case {
  std::set<std::string> labels;
  std::string language;
  std::string text;
  int line = 0;
};

std::vector<Case> ReadCases(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<Case> cases;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string labels, language, text;
    if (!std::getline(fields, labels, '\t') || !std::getline(fields, language, '\t') ||
        !std::getline(fields, text)) {
      ADD_FAILURE() << path << ":" << number << ": expected label TAB language TAB text";
      continue;
    }
    Case c;
    std::istringstream split(labels);
    for (std::string label; std::getline(split, label, ',');) {
      static const std::set<std::string> kKnown = {"risk", "negated", "complaint", "praise",
                                                   "neutral"};
      EXPECT_TRUE(kKnown.count(label)) << path << ":" << number << ": unknown label " << label;
      c.labels.insert(label);
    }
    c.language = language;
    c.text = text;
    c.line = number;
    cases.push_back(std::move(c));
  }
  return cases;
}

struct Score {
  int true_positive = 0, false_positive = 0, false_negative = 0;
  double Precision() const {
    const int predicted = true_positive + false_positive;
    return predicted == 0 ? 1.0 : static_cast<double>(true_positive) / predicted;
  }
  double Recall() const {
    const int actual = true_positive + false_negative;
    return actual == 0 ? 1.0 : static_cast<double>(true_positive) / actual;
  }
};

// The shipped lexicon against the labelled set: every risk text must raise a safeguarding alert
// (recall 1.0), and at least 80% of those raised must be risk texts.
TEST(LexiconLabelledSet, SafeguardingRecallAndPrecision) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  const auto cases = ReadCases(SourcePath("tests/unit/alerts/fixtures/lexicon_cases.tsv"));
  ASSERT_GE(cases.size(), 300u);
  std::map<std::string, int> per_language;
  std::map<std::string, Score> scores;  // by category
  const std::map<std::string, std::string> kCategoryLabel = {
      {"safeguarding", "risk"}, {"complaint", "complaint"}, {"praise", "praise"}};
  for (const Case& c : cases) {
    ++per_language[c.language];
    for (const auto& [category, label] : kCategoryLabel) {
      const bool predicted = lexicon->Matches(c.text, category);
      const bool actual = c.labels.count(label) > 0;
      Score& score = scores[category];
      if (predicted && actual) ++score.true_positive;
      if (predicted && !actual) ++score.false_positive;
      if (!predicted && actual) ++score.false_negative;
      if (predicted != actual) {
        std::string why;
        for (const auto& m : lexicon->Match(c.text)) {
          why +=
              " [" + m.entry + ":" + m.term + (m.negated ? " negated by " + m.negation : "") + "]";
        }
        std::printf("  %s %s, line %d (%s): %s%s\n", category.c_str(),
                    actual ? "MISSED" : "false alarm", c.line, c.language.c_str(), c.text.c_str(),
                    why.c_str());
        if (actual && category == "safeguarding") {
          ADD_FAILURE() << "missed risk, line " << c.line << ": " << c.text;
        }
      }
    }
  }
  for (const char* language : {"en", "pl", "cy"}) EXPECT_GE(per_language[language], 60);
  std::printf("  %zu labelled texts (en %d, pl %d, cy %d)\n", cases.size(), per_language["en"],
              per_language["pl"], per_language["cy"]);
  for (const auto& [category, score] : scores) {
    std::printf("  %-12s precision %.3f  recall %.3f  (tp %d, fp %d, fn %d)\n", category.c_str(),
                score.Precision(), score.Recall(), score.true_positive, score.false_positive,
                score.false_negative);
  }
  EXPECT_DOUBLE_EQ(scores["safeguarding"].Recall(), 1.0);
  EXPECT_GE(scores["safeguarding"].Precision(), 0.8);

  // Held-out texts, never used to tune the lexicon: printed, as an estimate for unseen text.
  const auto held_out = ReadCases(SourcePath("tests/unit/alerts/fixtures/lexicon_holdout.tsv"));
  ASSERT_FALSE(held_out.empty());
  Score held;
  for (const Case& c : held_out) {
    const bool predicted = lexicon->Matches(c.text, "safeguarding");
    const bool actual = c.labels.count("risk") > 0;
    if (predicted && actual) ++held.true_positive;
    if (predicted && !actual) ++held.false_positive;
    if (!predicted && actual) ++held.false_negative;
    if (predicted != actual) {
      std::printf("  held out: safeguarding %s, line %d (%s): %s\n",
                  actual ? "missed" : "false alarm", c.line, c.language.c_str(), c.text.c_str());
    }
  }
  std::printf(
      "  held out (%zu texts): safeguarding precision %.3f  recall %.3f  (tp %d, fp %d, "
      "fn %d)\n",
      held_out.size(), held.Precision(), held.Recall(), held.true_positive, held.false_positive,
      held.false_negative);
}

}  // namespace
}  // namespace surveyd::alerts
