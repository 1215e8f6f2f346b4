#include "surveyd/core/sms_reply.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace surveyd::sms_reply {
namespace {

using Words = std::vector<std::string>;

// Decodes one UTF-8 code point at `at` (advancing it); invalid bytes come back as U+FFFD.
char32_t NextCodePoint(std::string_view text, std::size_t& at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  int length = 0;
  char32_t value = 0;
  if (lead < 0x80) {
    ++at;
    return lead;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    value = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    value = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    value = lead & 0x07;
  } else {
    ++at;
    return 0xFFFD;
  }
  if (at + static_cast<std::size_t>(length) > text.size()) {
    ++at;
    return 0xFFFD;
  }
  for (int i = 1; i < length; ++i) {
    const unsigned char next = byte(at + static_cast<std::size_t>(i));
    if ((next & 0xC0) != 0x80) {
      ++at;
      return 0xFFFD;
    }
    value = (value << 6) | (next & 0x3F);
  }
  at += static_cast<std::size_t>(length);
  return value;
}

// The base letter of a Latin-1 or Latin Extended-A letter ('\0' for anything else), so that
// Polish and Welsh words match whether or not the sender's phone typed the accents.
char FoldLatin(char32_t c) {
  if (c >= 0xC0 && c <= 0xFF) {
    static constexpr char kLatin1[] =
        "aaaaaaaceeeeiiiidnooooo\0ouuuuyts"   // U+00C0..U+00DF
        "aaaaaaaceeeeiiiidnooooo\0ouuuuyty";  // U+00E0..U+00FF
    return kLatin1[c - 0xC0];
  }
  struct Range {
    char32_t last;
    char base;
  };
  // Latin Extended-A is laid out by base letter, upper and lower case interleaved.
  static constexpr Range kExtendedA[] = {
      {0x105, 'a'}, {0x10D, 'c'}, {0x111, 'd'}, {0x11B, 'e'}, {0x123, 'g'},
      {0x127, 'h'}, {0x133, 'i'}, {0x135, 'j'}, {0x138, 'k'}, {0x142, 'l'},
      {0x14B, 'n'}, {0x153, 'o'}, {0x159, 'r'}, {0x161, 's'}, {0x167, 't'},
      {0x173, 'u'}, {0x175, 'w'}, {0x178, 'y'}, {0x17E, 'z'}, {0x17F, 's'},
  };
  if (c >= 0x100 && c <= 0x17F) {
    for (const Range& range : kExtendedA) {
      if (c <= range.last) return range.base;
    }
  }
  return '\0';
}

// The words of a reply (see the header), lower case, accents folded. A '/' is a word of its
// own, for "8/10".
Words Tokenize(std::string_view text) {
  Words words;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (std::size_t at = 0; at < text.size();) {
    const char32_t c = NextCodePoint(text, at);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      word.push_back(static_cast<char>(c));
    } else if (c >= 'A' && c <= 'Z') {
      word.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == '\'' || c == 0x2019 || c == 0x2018) {
      // "don't", "don’t": one word.
    } else if (const char base = FoldLatin(c); base != '\0') {
      word.push_back(base);
    } else {
      flush();
      if (c == '/') words.emplace_back("/");
    }
  }
  flush();
  return words;
}

bool In(std::string_view word, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), word) != set.end();
}

// ---- Opt-out ---------------------------------------------------------------------------------

// Forms of several words read as one before the rules below look at a reply: what they mean
// does not depend on how the phone split them ("un-subscribe", "opt me out"). "stop and search"
// is the police power, a thing the survey asks about: as one word it is no longer "stop".
// Longest first where one begins another.
struct Compound {
  std::string_view phrase;  // its words, one space apart
  std::string_view as;
};
constexpr Compound kCompounds[] = {
    {"stop and search", "stopandsearch"},
    {"stop and account", "stopandaccount"},
    {"stop search", "stopandsearch"},
    {"opt me out", "optout"},
    {"opt us out", "optout"},
    {"opt out", "optout"},
    {"un subscribe", "unsubscribe"},
    {"no more", "nomore"},
    {"dim mwy", "nomore"},     // Welsh: "dim mwy o negeseuon", no more messages
    {"dim rhagor", "nomore"},  // Welsh, the same
    {"leave me alone", "leavemealone"},
    {"leave us alone", "leavemealone"},
    {"not interested", "notinterested"},
    {"no thank you", "nothanks"},
    {"no thanks", "nothanks"},
    {"dim diolch", "nothanks"},  // Welsh
    {"wrong number", "wrongnumber"},
    {"wrong person", "wrongnumber"},
    // "stop" typed in a hurry, and in Welsh (the verb, and said to us): read as "stop" itself.
    {"stp", "stop"},
    {"stopio", "stop"},
    {"stopiwch", "stop"},
};

// How many of `words` from `at` on spell `phrase`; 0 when they do not.
std::size_t Spelt(const Words& words, std::size_t at, std::string_view phrase) {
  std::size_t count = 0;
  for (std::size_t start = 0; start <= phrase.size(); ++count) {
    const std::size_t space = std::min(phrase.find(' ', start), phrase.size());
    if (at + count >= words.size() || words[at + count] != phrase.substr(start, space - start)) {
      return 0;
    }
    start = space + 1;
  }
  return count;
}

Words JoinCompounds(const Words& words) {
  Words joined;
  for (std::size_t i = 0; i < words.size();) {
    std::size_t spelt = 0;
    for (const Compound& compound : kCompounds) {
      spelt = Spelt(words, i, compound.phrase);
      if (spelt > 0) {
        joined.emplace_back(compound.as);
        break;
      }
    }
    if (spelt == 0) joined.push_back(words[i]);
    i += std::max<std::size_t>(spelt, 1);
  }
  return joined;
}

// "not interested", "no thanks" (Welsh "dim diolch") and "wrong number" opt out only alone with
// filler (or, for "wrong number", the words of a reply that says so): in a longer sentence they
// may be about someone else ("the officer was not interested").
bool IsOptOutKeyword(std::string_view word) {
  return In(word,
            {"stop", "stopall", "unsubscribe", "unsub", "optout", "cancel", "end", "quit", "nomore",
             "leavemealone", "notinterested", "nothanks", "wrongnumber", "wypisz", "rezygnuje"});
}

constexpr std::size_t kMinSpeltOut = 3;  // "s t o p", not "i a"

// A word spelt out a letter at a time ("S T O P", "s.t.o.p", "E N D") read as the word, when
// that word is an opt-out keyword; other runs of single letters stay as they are.
Words JoinSpeltOut(const Words& words) {
  Words joined;
  for (std::size_t i = 0; i < words.size();) {
    std::size_t end = i;
    std::string letters;
    while (end < words.size() && words[end].size() == 1 && words[end][0] >= 'a' &&
           words[end][0] <= 'z') {
      letters += words[end++];
    }
    if (end - i >= kMinSpeltOut && IsOptOutKeyword(letters)) {
      joined.push_back(std::move(letters));
      i = end;
    } else {
      joined.push_back(words[i++]);
    }
  }
  return joined;
}

// Words that may stand around an opt-out word without changing what it says.
bool IsOptOutFiller(std::string_view word) {
  return In(word,
            {"please", "pls",    "plz",    "thanks",   "thank",   "thx",      "ta",    "you",
             "now",    "me",     "it",     "all",      "this",    "that",     "these", "them",
             "sms",    "text",   "texts",  "txt",      "message", "messages", "msg",   "msgs",
             "just",   "ok",     "okay",   "i",        "said",    "want",     "to",    "would",
             "like",   "id",     "survey", "surveys",  "opt",     "out",      "im",    "am",
             "sorry",  "really", "diolch", "dziekuje", "prosze",  "enough"});
}

// The words of a reply that says the number is not the person we meant: "you have the wrong
// number", "I think you've got the wrong number", "this is the wrong person".
bool IsWrongNumberFiller(std::string_view word) {
  return IsOptOutFiller(word) || In(word, {"have", "got", "youve", "ve", "the", "a", "is", "its",
                                           "think", "hi", "hello", "mate", "m8", "sir", "madam"});
}

bool IsNegation(std::string_view word) {
  return In(word, {"dont", "never", "not", "cant", "cannot", "wont", "didnt", "doesnt", "shouldnt",
                   "nie"});
}

// Between a negation and what it negates: "don't ever stop", "don't you stop".
bool IsIntensifier(std::string_view word) { return In(word, {"ever", "evr", "you", "u"}); }

bool IsMessaging(std::string_view word) {
  return In(word, {"text", "texts", "texting", "texted", "txt", "txts", "txting", "message",
                   "messages", "messaging", "messaged", "msg", "msgs", "msging", "sms", "smss",
                   "smsing", "send", "sending", "contact", "contacting", "contacted", "survey",
                   "surveys", "neges", "negeseuon", "negesuon", "testun", "arolwg", "arolygon",
                   // Welsh verbs, as mutated after "peidiwch â" (don't): contact, text, send
                   "cysylltu", "chysylltu", "tecstio", "thecstio", "anfon",
                   // Polish (accents folded): messages, texts, surveys, to write, to contact
                   "wiadomosci", "wiadomosc", "smsow", "smsy", "ankiet", "ankiety", "ankiete",
                   "pisac", "piszcie", "kontaktowac"});
}

// Words between "stop" and what is stopped: "stop the texts", "stop all these messages".
bool IsDeterminer(std::string_view word) {
  return In(word, {"the", "these", "this", "those", "your", "ur", "all", "any", "yr"});
}

// Someone the citizen may want stopped, as the one who stops: "make him stop", "he won't stop
// texting me", "I want her to stop". Not "them", which may be our texts ("get them to stop").
bool IsPersonalThirdParty(std::string_view word) {
  return In(word, {"him", "her", "he", "she", "hes", "shes"});
}

// A third person within the three words before `i` (the verb "stop"), with nothing between but
// the words a plea puts there ("make him stop", "he just won't stop", "tell her to stop").
bool SomeoneElseStops(const std::vector<std::string>& words, std::size_t i) {
  for (std::size_t k = i; k > 0 && i - k < 4; --k) {
    if (IsPersonalThirdParty(words[k - 1])) return true;
  }
  return false;
}

// Someone other than us, after "by" or "from": "I don't want any more texts from him" is about
// the person who sends them, often the reason the citizen called us.
bool IsThirdParty(std::string_view word) {
  return In(word, {"him", "her", "them", "his", "their", "my", "he", "she"});
}

// What we send said, from `i`, to come from someone else: "... texts from him", "... by her".
bool SentBySomeoneElse(const Words& words, std::size_t i) {
  return i + 1 < words.size() && In(words[i], {"by", "from"}) && IsThirdParty(words[i + 1]);
}

// Verbs that report what someone was made to do ("told me to stop"), as opposed to asking us.
bool IsTellingVerb(std::string_view word) {
  return In(word, {"told", "asked", "ordered", "instructed", "signalled", "signaled", "waved",
                   "directed", "forced"});
}

bool IsPassiveAuxiliary(std::string_view word) {
  return In(word, {"was", "were", "been", "being", "got", "get", "be", "am", "is", "are", "im"});
}

constexpr std::size_t kWantWindow = 4;  // words from "want" to what is not wanted

bool HasOptOutPhrase(const Words& words) {
  const auto at = [&](std::size_t i) -> std::string_view {
    return i < words.size() ? std::string_view(words[i]) : std::string_view();
  };
  // "I don't want (any more|these|to be) texts/contacted", unless they come from someone else.
  const auto unwanted_messages = [&](std::size_t want) {
    for (std::size_t i = want + 1; i <= want + kWantWindow && i < words.size(); ++i) {
      // "I don't want to hear from you again": us, not someone else ("from him").
      if (words[i] == "hear" && at(i + 1) == "from" &&
          In(at(i + 2), {"you", "u", "yous", "ye", "police", "this"})) {
        return true;
      }
      // What we send, not what the citizen might: "I don't want to send a complaint".
      if (!IsMessaging(words[i]) || In(words[i], {"send", "sending"})) continue;
      return !SentBySomeoneElse(words, i + 1);
    }
    return false;
  };
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (In(w, {"unsubscribe", "unsub", "stopall", "optout", "wypisz"})) return true;
    // "stop texting me", "stop the texts", "stop all these messages", but not someone else's:
    // "make him stop texting me", "stop the texts from him".
    if (w == "stop" && !SomeoneElseStops(words, i)) {
      std::size_t next = i + 1;
      while (next < i + 3 && IsDeterminer(at(next))) ++next;
      if (IsMessaging(at(next)) && !SentBySomeoneElse(words, next + 1)) {
        return true;
      }
    }
    // "I asked you to stop", "I told you to stop", anywhere: said to us, again.
    if (In(w, {"told", "asked"}) && In(at(i + 1), {"you", "u"}) && at(i + 2) == "to" &&
        at(i + 3) == "stop") {
      return true;
    }
    // Polish "rezygnuję z ankiet" (I withdraw from the surveys); Welsh "peidiwch â chysylltu"
    // (don't contact), with the "â" between read as "a".
    if (w == "rezygnuje" && at(i + 1) == "z") return true;
    if (w == "peidiwch" && IsMessaging(at(at(i + 1) == "a" || at(i + 1) == "ag" ? i + 2 : i + 1))) {
      return true;
    }
    // "no more texts", "no more of your texts", Welsh "dim mwy o negeseuon".
    if (w == "nomore") {
      const std::size_t next = In(at(i + 1), {"o", "of"}) ? i + 2 : i + 1;
      if (IsMessaging(at(next)) || (at(next) == "your" && IsMessaging(at(next + 1)))) return true;
    }
    if (In(w, {"remove", "delete", "erase"}) && In(at(i + 1), {"me", "my"})) return true;
    if (w == "take" && at(i + 1) == "me" && at(i + 2) == "off") return true;
    // "take my number off your system", "take this number off the list".
    if (w == "take" && In(at(i + 1), {"my", "this"}) &&
        In(at(i + 2), {"number", "no", "details", "name", "phone", "mobile"}) &&
        at(i + 3) == "off") {
      return true;
    }
    // "Never text me again", "never ever contact me": an order, in the base form ("they never
    // contacted me" is a complaint, read as one).
    if (w == "never") {
      std::size_t verb = i + 1;
      while (verb < i + 3 && In(at(verb), {"ever", "evr"})) ++verb;
      if (In(at(verb), {"text", "txt", "message", "msg", "contact", "sms"}) &&
          In(at(verb + 1), {"me", "this", "us", "again", ""})) {
        return true;
      }
    }
    // "I'd rather you didn't text me", "I would rather not be contacted".
    if (w == "rather") {
      for (std::size_t k = i + 1; k <= i + 3 && k < words.size(); ++k) {
        if (!In(words[k], {"didnt", "not", "wouldnt"})) continue;
        std::size_t verb = k + 1;
        while (verb < k + 3 && In(at(verb), {"be", "get", "getting", "receive", "any", "more"})) {
          ++verb;
        }
        if (IsMessaging(at(verb)) && !In(at(verb), {"send", "sending"})) return true;
        break;
      }
    }
    // Polish "nie" (don't, not) reads as "dont": "nie piszcie", "nie chcę więcej wiadomości".
    const bool dont = w == "dont" || w == "nie" || (w == "do" && at(i + 1) == "not") ||
                      (w == "no" && at(i + 1) == "longer");
    std::size_t next = w == "dont" || w == "nie" ? i + 1 : i + 2;
    if (dont && at(next) == "prosze") ++next;  // "nie proszę..." is rare; "proszę nie pisać" is not
    // "don't ever text me again", "don't you ever contact me".
    while (dont && next < i + 4 && IsIntensifier(at(next)) && at(next + 1) != "to") ++next;
    if (dont && IsMessaging(at(next))) return true;
    if (dont && In(at(next), {"want", "wanna", "chce"}) && unwanted_messages(next)) return true;
    // "I don't want these anymore", "I don't want them any more": what we sent, no longer wanted.
    if (dont && In(at(next), {"want", "wanna"}) &&
        In(at(next + 1), {"these", "them", "this", "those", "it"}) &&
        In(at(next + 2), {"anymore", "nomore", "more"})) {
      return true;
    }
  }
  return false;
}

// "stop" (or "leave me alone") at `i` said to someone else, not to us: negated ("don't stop",
// "don't ever stop", "won't leave me alone") or reported ("the officer told me to stop", "I was
// asked to stop"). "I told you to stop" and "I asked to stop" are said to us.
bool IsNotSaidToUs(const Words& words, std::size_t i) {
  std::size_t before = i;
  while (before > 0 && IsIntensifier(words[before - 1])) --before;
  if (before > 0 && IsNegation(words[before - 1])) return true;
  // Someone else to stop: "make him stop", "I just want her to stop", "tell him to stop".
  if (SomeoneElseStops(words, i)) return true;
  // Something else to stop: "the noise needs to stop" (but "this has to stop", "it must stop",
  // said of our texts, are said to us).
  if (i >= 3 && words[i - 1] == "to" &&
      In(words[i - 2], {"needs", "need", "has", "have", "got", "gotta"}) &&
      !In(words[i - 3], {"this", "it", "these", "that", "they", "them", "you", "u", "i", "we"}) &&
      !IsMessaging(words[i - 3])) {
    return true;
  }
  if (i < 2 || words[i - 1] != "to") return false;
  if (IsTellingVerb(words[i - 2])) return i >= 3 && IsPassiveAuxiliary(words[i - 3]);
  // A telling verb, then who was told (up to three words): anyone but us.
  for (std::size_t k = i - 2; k > 0 && i - 2 - k < 3; --k) {
    if (In(words[k], {"you", "u", "ya", "yous"})) return false;
    if (IsTellingVerb(words[k - 1])) return true;
  }
  return false;
}

constexpr std::size_t kShortReplyWords = 8;

// ---- Scores ----------------------------------------------------------------------------------

std::optional<int> NumberWord(std::string_view word) {
  struct Entry {
    std::string_view word;
    int value;
  };
  static constexpr Entry kWords[] = {
      // English
      {"zero", 0},
      {"nought", 0},
      {"nil", 0},
      {"one", 1},
      {"two", 2},
      {"three", 3},
      {"four", 4},
      {"five", 5},
      {"six", 6},
      {"seven", 7},
      {"eight", 8},
      {"nine", 9},
      {"ten", 10},
      // Welsh (with the feminine and mutated forms a reply is likely to use)
      {"dim", 0},
      {"un", 1},
      {"dau", 2},
      {"dwy", 2},
      {"tri", 3},
      {"tair", 3},
      {"pedwar", 4},
      {"pedair", 4},
      {"pump", 5},
      {"pum", 5},
      {"chwech", 6},
      {"chwe", 6},
      {"saith", 7},
      {"wyth", 8},
      {"naw", 9},
      {"deg", 10},
      {"deng", 10},
      // Polish (accents folded: pięć -> piec)
      {"jeden", 1},
      {"jedna", 1},
      {"dwa", 2},
      {"dwie", 2},
      {"trzy", 3},
      {"cztery", 4},
      {"piec", 5},
      {"szesc", 6},
      {"siedem", 7},
      {"osiem", 8},
      {"dziewiec", 9},
      {"dziesiec", 10}};
  for (const Entry& entry : kWords) {
    if (entry.word == word) return entry.value;
  }
  return std::nullopt;
}

// A number token: digits (0-10 only; "11" is a number, just not a score) or a number word.
// Returns -1 for a number outside 0-10, nullopt for a word that is not a number.
std::optional<int> NumberToken(std::string_view word) {
  if (!word.empty() &&
      std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const auto digits = word.substr(std::min(word.find_first_not_of('0'), word.size() - 1));
    if (digits.size() > 2) return -1;
    const int value = std::stoi(std::string(digits));
    return value <= 10 ? value : -1;
  }
  return NumberWord(word);
}

bool IsTen(std::string_view word) { return NumberToken(word) == 10; }

bool IsScoreFiller(std::string_view word) {
  return In(word, {"i",    "id",     "would",  "say",    "give",     "it",     "a",
                   "an",   "score",  "my",     "is",     "its",      "answer", "rating",
                   "rate", "thanks", "thank",  "you",    "please",   "pls",    "ok",
                   "okay", "about",  "points", "diolch", "dziekuje", "dzieki"});
}

// "8.5", "8,5", "7-8", "-3": a number we must not read as a whole one.
bool HasFractionOrSign(std::string_view text) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '.' || c == ',') && i > 0 && i + 1 < text.size() && digit(text[i - 1]) &&
        digit(text[i + 1])) {
      return true;
    }
    if (c == '-' || c == '+') {
      std::size_t next = i + 1;
      while (next < text.size() && text[next] == ' ') ++next;
      if (next < text.size() && digit(text[next])) return true;
    }
  }
  return false;
}

}  // namespace

bool IsOptOut(std::string_view text) {
  Words words = Tokenize(text);
  words.erase(std::remove(words.begin(), words.end(), "/"), words.end());
  words = JoinCompounds(JoinSpeltOut(words));
  if (words.empty()) return false;

  // 1. Nothing but opt-out words and filler.
  if (std::any_of(words.begin(), words.end(), IsOptOutKeyword) &&
      std::all_of(words.begin(), words.end(),
                  [](const std::string& w) { return IsOptOutKeyword(w) || IsOptOutFiller(w); })) {
    return true;
  }
  // ... or a wrong number said in a reply's own words ("you have the wrong number").
  if (std::find(words.begin(), words.end(), "wrongnumber") != words.end() &&
      std::all_of(words.begin(), words.end(), [](const std::string& w) {
        return w == "wrongnumber" || IsWrongNumberFiller(w);
      })) {
    return true;
  }
  // 2. An unmistakable phrase anywhere.
  if (HasOptOutPhrase(words)) return true;
  // 3. "stop" or "leave me alone" opening or closing a short reply, unless said to someone
  // else.
  if (words.size() <= kShortReplyWords) {
    const auto edge_word = [](std::string_view w) { return w == "stop" || w == "leavemealone"; };
    // ... but "stop the texts from him" is about his.
    const auto from_someone_else = [&words] {
      for (std::size_t k = 1; k + 1 < words.size(); ++k) {
        if (IsMessaging(words[k - 1]) && SentBySomeoneElse(words, k)) return true;
      }
      return false;
    };
    if (edge_word(words.front()) && !from_someone_else()) return true;
    if (edge_word(words.back()) && !IsNotSaidToUs(words, words.size() - 1)) return true;
  }
  return false;
}

std::optional<int> ParseScore(std::string_view text) {
  if (HasFractionOrSign(text)) return std::nullopt;
  const Words words = Tokenize(text);
  std::optional<int> score;
  for (std::size_t i = 0; i < words.size();) {
    const std::optional<int> number = NumberToken(words[i]);
    if (!number) {
      if (!IsScoreFiller(words[i])) return std::nullopt;
      ++i;
      continue;
    }
    if (score || *number < 0) return std::nullopt;  // two numbers, or one out of range
    score = *number;
    ++i;
    // Skip a denominator: "/10", "out of 10", "of ten", "allan o ddeg" (Welsh), "na 10" (Polish).
    const auto at = [&](std::size_t k) -> std::string_view {
      return k < words.size() ? std::string_view(words[k]) : std::string_view();
    };
    if ((at(i) == "/" || at(i) == "of" || at(i) == "na") && IsTen(at(i + 1))) {
      i += 2;
    } else if (at(i) == "out" && at(i + 1) == "of" && IsTen(at(i + 2))) {
      i += 3;
    } else if (at(i) == "allan" && at(i + 1) == "o" && (IsTen(at(i + 2)) || at(i + 2) == "ddeg")) {
      i += 3;
    }
  }
  return score;
}

}  // namespace surveyd::sms_reply
