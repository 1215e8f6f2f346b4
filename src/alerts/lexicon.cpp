// Normalising citizen text and matching it against the alert lexicon.
#include "surveyd/alerts/lexicon.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "alerts/yaml_diagnostics.hpp"
#include "surveyd/core/closest_word.hpp"

namespace surveyd::alerts {
namespace {

// Filler words an entry's own `negated_by:` phrase may reach across ("never ever contact me").
constexpr int kEntryNegationWindow = 2;

// ---- Normalisation ---------------------------------------------------------------------------

// Decodes one UTF-8 sequence at `pos`; an invalid byte decodes as U+FFFD, one byte long.
char32_t DecodeUtf8(std::string_view text, std::size_t& pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char first = byte(pos);
  std::size_t length = 0;
  char32_t code = 0;
  if (first < 0x80) {
    ++pos;
    return first;
  }
  if ((first & 0xE0) == 0xC0) {
    length = 2;
    code = first & 0x1F;
  } else if ((first & 0xF0) == 0xE0) {
    length = 3;
    code = first & 0x0F;
  } else if ((first & 0xF8) == 0xF0) {
    length = 4;
    code = first & 0x07;
  } else {
    ++pos;
    return 0xFFFD;
  }
  if (pos + length > text.size()) {
    ++pos;
    return 0xFFFD;
  }
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) {
      ++pos;
      return 0xFFFD;
    }
    code = (code << 6) | (byte(pos + i) & 0x3F);
  }
  pos += length;
  return code;
}

void AppendUtf8(std::string& out, char32_t code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// Latin-1 Supplement letters U+00C0-U+00FF, folded to lower-case ASCII ("" for the two symbols).
constexpr const char* kLatin1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};

// Latin Extended-A U+0100-U+017F (Polish ą ć ę ł ń ś ź ż, Welsh ŵ ŷ...), folded to ASCII.
constexpr const char* kLatinExtendedA =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllll"
    "lllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

// What one code point becomes in normalised text.
enum class CharClass { kLetter, kDrop, kSpace, kBreak };

CharClass Classify(char32_t code, std::string& folded) {
  folded.clear();
  if (code < 0x80) {
    const char c = static_cast<char>(code);
    if (c >= 'A' && c <= 'Z') {
      folded.push_back(static_cast<char>(c - 'A' + 'a'));
      return CharClass::kLetter;
    }
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      folded.push_back(c);
      return CharClass::kLetter;
    }
    if (c == '\'' || c == '`') return CharClass::kDrop;
    if (std::strchr(".,;:!?()[]{}\"/\\|", c) != nullptr) return CharClass::kBreak;
    // Spaces, tabs, hyphens and other symbols; and line breaks, as documented: a citizen presses
    // Enter mid-sentence in the comment box, and a comment built from texts back joins them
    // with one ("he's" then "back", two texts, raised nothing).
    return CharClass::kSpace;
  }
  if (code >= 0xC0 && code <= 0xFF) {
    folded = kLatin1[code - 0xC0];
    return folded.empty() ? CharClass::kSpace : CharClass::kLetter;
  }
  if (code >= 0x100 && code <= 0x17F) {
    folded.push_back(kLatinExtendedA[code - 0x100]);
    if (code == 0x132 || code == 0x133) folded = "ij";
    if (code == 0x152 || code == 0x153) folded = "oe";
    return CharClass::kLetter;
  }
  // Welsh: ẁ ẃ ẅ (U+1E80-U+1E85) and ỳ (U+1EF2, U+1EF3).
  if (code >= 0x1E80 && code <= 0x1E85) {
    folded = "w";
    return CharClass::kLetter;
  }
  if (code == 0x1EF2 || code == 0x1EF3) {
    folded = "y";
    return CharClass::kLetter;
  }
  if (code == 0x2018 || code == 0x2019 || code == 0x201B || code == 0x2032 || code == 0x02BC ||
      code == 0x00B4) {
    return CharClass::kDrop;  // apostrophes: "he’s" reads as "hes", like "he's"
  }
  if (code == 0x00A0 || (code >= 0x2000 && code <= 0x200B) || code == 0x202F || code == 0x3000 ||
      (code >= 0x2010 && code <= 0x2015) || code == 0x2212 || code == 0x00AD) {
    return CharClass::kSpace;  // spaces and dashes
  }
  if ((code >= 0x201C && code <= 0x201F) || code == 0x2026 || code == 0x00AB || code == 0x00BB ||
      code == 0x2028 || code == 0x2029 || code == 0x0085 || code == 0x00A1 || code == 0x00BF) {
    return CharClass::kBreak;  // quotation marks, ellipsis, line separators, ¡ ¿
  }
  // Combining marks: some phones send "ę" as "e" and a combining ogonek. Dropped, the word reads
  // as its precomposed spelling does ("czuje"); kept, it was a letter no term holds.
  if ((code >= 0x0300 && code <= 0x036F) || (code >= 0x1AB0 && code <= 0x1AFF) ||
      (code >= 0x1DC0 && code <= 0x1DFF) || (code >= 0x20D0 && code <= 0x20FF) ||
      (code >= 0xFE20 && code <= 0xFE2F)) {
    return CharClass::kDrop;
  }
  if (code >= 0x2000 && code <= 0x2BFF) return CharClass::kSpace;  // symbols and arrows
  if (code >= 0x1F000 || code == 0xFFFD || (code >= 0xFE00 && code <= 0xFE0F) || code == 0x200D) {
    return CharClass::kSpace;  // emoji, variation selectors, joiners, undecodable bytes
  }
  AppendUtf8(folded, code);  // another script's letter: kept, so words stay whole
  return CharClass::kLetter;
}

bool HasRunOfThree(const std::string& word) {
  for (std::size_t i = 2; i < word.size(); ++i) {
    if (word[i] == word[i - 1] && word[i] == word[i - 2]) return true;
  }
  return false;
}

// Every run of one letter read as one: "scaaared" -> "scared", "killll" -> "kil" (like "kill").
std::string CollapseRuns(std::string_view word) {
  std::string out;
  for (char c : word) {
    if (out.empty() || out.back() != c) out.push_back(c);
  }
  return out;
}

std::vector<Token> TokenizeImpl(std::string_view text) {
  std::vector<Token> tokens;
  std::string word;
  std::string folded;
  auto end_word = [&] {
    if (word.empty()) return;
    Token token;
    token.elongated = HasRunOfThree(word);
    token.text = std::move(word);
    tokens.push_back(std::move(token));
    word.clear();
  };
  auto add_break = [&] {
    end_word();
    if (!tokens.empty() && !tokens.back().hard_break) {
      Token token;
      token.hard_break = true;
      tokens.push_back(token);
    }
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char32_t code = DecodeUtf8(text, pos);
    switch (Classify(code, folded)) {
      case CharClass::kLetter:
        word += folded;
        break;
      case CharClass::kDrop:
        break;
      case CharClass::kSpace:
        end_word();
        break;
      case CharClass::kBreak:
        add_break();
        break;
    }
  }
  end_word();
  while (!tokens.empty() && tokens.back().hard_break) tokens.pop_back();
  return tokens;
}

std::size_t WrittenTerms(const Lexicon::Entry& entry) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < entry.terms.size(); ++i) {
    const auto& term = entry.terms[i];
    if (i == 0 || term.written != entry.terms[i - 1].written ||
        term.language != entry.terms[i - 1].language ||
        term.after_negation != entry.terms[i - 1].after_negation) {
      ++count;
    }
  }
  return count;
}

bool WordMatches(const Token& token, const Lexicon::Word& word, bool fuzzy) {
  if (token.hard_break) return false;
  if (word.prefix) {
    return token.text.size() >= word.text.size() &&
           token.text.compare(0, word.text.size(), word.text) == 0;
  }
  if (token.text == word.text) return true;
  if (token.elongated && CollapseRuns(token.text) == CollapseRuns(word.text)) return true;
  // One typo in a long word, never in its first letter: "frigtened", "threatend", "terrifed".
  if (fuzzy && !word.exact && word.text.size() >= 7 && token.text.size() + 1 >= word.text.size() &&
      token.text.size() <= word.text.size() + 1 && token.text[0] == word.text[0]) {
    return EditDistance(token.text, word.text) <= 1;
  }
  return false;
}

// ---- Loading -------------------------------------------------------------------------------

const std::vector<std::string> kLanguages = {"en", "pl", "cy"};

// The most phrases one term may stand for ("hurt+ (me|us|...)"): more is a mistake, or a term to
// split for whoever reads it.
constexpr std::size_t kMaxPhrases = 512;

bool IsVowel(char c) { return std::strchr("aeiou", c) != nullptr; }

// A word of a term written "word+" and its regular English inflections: "threaten+" threatens,
// threatened, threatening; "scare+" scares, scared, scaring; "terrify+" terrifies, terrified;
// "stab+" stabs, stabbed, stabbing. Irregular ones (beaten) are written as alternatives.
std::vector<std::string> EnglishForms(const std::string& word) {
  std::vector<std::string> forms = {word};
  const char last = word.back();
  const char before = word[word.size() - 2];
  if (last == 'e') {
    forms.insert(forms.end(), {word + "s", word + "d", word.substr(0, word.size() - 1) + "ing"});
    if (before == 'e') forms.push_back(word + "ing");  // see+: seeing
  } else if (last == 'y' && !IsVowel(before)) {
    const std::string stem = word.substr(0, word.size() - 1);
    forms.insert(forms.end(), {stem + "ies", stem + "ied", word + "ing"});
  } else {
    const bool sibilant =
        std::strchr("sxzo", last) != nullptr || (last == 'h' && (before == 'c' || before == 's'));
    forms.insert(forms.end(), {word + (sibilant ? "es" : "s"), word + "ed", word + "ing"});
    // A short word ending consonant, vowel, consonant doubles its last letter: stabbed, hitting.
    if (word.size() <= 4 && !IsVowel(last) && std::strchr("wxy", last) == nullptr &&
        IsVowel(before) && !IsVowel(word[word.size() - 3])) {
      forms.insert(forms.end(), {word + last + "ed", word + last + "ing"});
    }
  }
  return forms;
}

// Each of `sequences` followed by each of `endings`, in place; false (and `sequences` as it was)
// when that would be more than kMaxPhrases.
bool Extend(std::vector<std::vector<Lexicon::Word>>& sequences,
            const std::vector<std::vector<Lexicon::Word>>& endings) {
  if (sequences.size() * endings.size() > kMaxPhrases) return false;
  std::vector<std::vector<Lexicon::Word>> longer;
  longer.reserve(sequences.size() * endings.size());
  for (const auto& sequence : sequences) {
    for (const auto& ending : endings) {
      longer.push_back(sequence);
      longer.back().insert(longer.back().end(), ending.begin(), ending.end());
    }
  }
  sequences = std::move(longer);
  return true;
}

class LexiconLoader : private detail::YamlDiagnostics {
 public:
  explicit LexiconLoader(std::string file) : YamlDiagnostics(std::move(file)) {}

  LexiconLoad Load(std::string_view text) {
    LexiconLoad result;
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      SyntaxError(text, e);
      return Finish(nullptr);
    }
    if (!root.IsMap()) {
      errors_.push_back({file_, 1, 1, "the lexicon must be a map (version:, negation:, entries:)"});
      return Finish(nullptr);
    }
    CheckDuplicateKeys(root);
    std::vector<Lexicon::Negation> negations;
    std::vector<std::string> fillers;
    std::vector<std::string> soft_breaks;
    std::vector<Lexicon::Entry> entries;
    for (const auto& item : root) {
      const std::string key = item.first.Scalar();
      if (key == "version") {
        if (!item.second.IsScalar() || item.second.Scalar() != "1") {
          Error(item.second.Mark(), "unsupported lexicon version (expected 1)");
        }
      } else if (key == "negation") {
        negations = ReadNegation(item.second, fillers);
      } else if (key == "soft_breaks") {
        ForEachLanguage(item.second, "soft_breaks", [&](const std::string&, const YAML::Node& n) {
          auto words = Words(n, "soft break");
          if (words.size() != 1) {
            Error(n.Mark(), "a soft break is one word");
          } else {
            soft_breaks.push_back(words[0]);
          }
        });
      } else if (key == "entries") {
        entries = ReadEntries(item.second);
      } else {
        Error(item.first.Mark(), "unknown key '" + key +
                                     "' in the lexicon (version, negation, "
                                     "soft_breaks, entries)");
      }
    }
    if (entries.empty() && errors_.empty()) {
      Error(root.Mark(), "the lexicon has no entries");
    }
    if (!errors_.empty()) return Finish(nullptr);
    return Finish(std::make_shared<const Lexicon>(std::move(entries), std::move(negations),
                                                  std::move(fillers), std::move(soft_breaks)));
  }

 private:
  LexiconLoad Finish(std::shared_ptr<const Lexicon> lexicon) {
    LexiconLoad result;
    result.lexicon = std::move(lexicon);
    result.errors = std::move(errors_);
    result.warnings = std::move(warnings_);
    return result;
  }

  // `node` is a map of language -> list of phrases; calls fn(language, phrase node).
  template <typename Fn>
  void ForEachLanguage(const YAML::Node& node, const std::string& what, Fn&& fn) {
    if (!node.IsMap()) {
      Error(node.Mark(), "'" + what + "' must be a map of languages (en:, pl:, cy:) to lists");
      return;
    }
    for (const auto& language : node) {
      const std::string code = language.first.Scalar();
      if (std::find(kLanguages.begin(), kLanguages.end(), code) == kLanguages.end() &&
          code != "any") {
        Error(language.first.Mark(),
              "unknown language '" + code + "' in " + what + " (en, pl, cy, or any)");
        continue;
      }
      if (!language.second.IsSequence()) {
        Error(language.second.Mark(), what + "." + code + " must be a list");
        continue;
      }
      for (const auto& phrase : language.second) {
        if (!phrase.IsScalar()) {
          Error(phrase.Mark(), "each entry of " + what + "." + code + " must be text");
          continue;
        }
        fn(code, phrase);
      }
    }
  }

  // A phrase as plain normalised words (no wildcards).
  std::vector<std::string> Words(const YAML::Node& node, const std::string& what) {
    std::vector<std::string> words;
    bool broken = false;
    for (const Token& token : Tokenize(node.Scalar())) {
      if (token.hard_break) {
        broken = true;
        continue;
      }
      words.push_back(token.text);
    }
    if (broken) Error(node.Mark(), what + " '" + node.Scalar() + "' spans a clause break");
    if (words.empty()) Error(node.Mark(), "empty " + what);
    return words;
  }

  std::vector<Lexicon::Negation> ReadNegation(const YAML::Node& node,
                                              std::vector<std::string>& fillers) {
    std::vector<Lexicon::Negation> negations;
    if (!node.IsMap()) {
      Error(node.Mark(), "'negation' must be a map (window:, words:, immediate:, weak:, fillers:)");
      return negations;
    }
    int window = 3;
    if (const YAML::Node w = node["window"]) {
      const auto n = w.IsScalar() ? YamlWholeNumber(w.Scalar()) : std::nullopt;
      if (!n || *n < 0 || *n > 5) {
        Error(w.Mark(), "negation.window must be a whole number from 0 to 5");
      } else {
        window = *n;
      }
    }
    for (const auto& item : node) {
      const std::string key = item.first.Scalar();
      if (key == "window") continue;
      if (key == "fillers") {
        ForEachLanguage(item.second, "negation.fillers",
                        [&](const std::string&, const YAML::Node& n) {
                          auto words = Words(n, "filler");
                          if (words.size() != 1) {
                            Error(n.Mark(), "a filler is one word");
                          } else {
                            fillers.push_back(words[0]);
                          }
                        });
        continue;
      }
      if (key != "words" && key != "immediate" && key != "weak") {
        Error(item.first.Mark(), "unknown key '" + key +
                                     "' in negation (window, words, "
                                     "immediate, weak, fillers)");
        continue;
      }
      ForEachLanguage(item.second, "negation." + key,
                      [&](const std::string&, const YAML::Node& phrase) {
                        auto words = Words(phrase, "negation");
                        if (words.empty()) return;
                        negations.push_back({phrase.Scalar(), std::move(words),
                                             key == "immediate" ? 0 : window, key == "weak"});
                      });
    }
    return negations;
  }

  std::vector<Lexicon::Entry> ReadEntries(const YAML::Node& node) {
    std::vector<Lexicon::Entry> entries;
    if (!node.IsSequence()) {
      Error(node.Mark(), "'entries' must be a list");
      return entries;
    }
    std::map<std::string, int> seen_ids;
    std::map<std::string, std::string> seen_terms;  // normalised -> entry id
    for (const auto& item : node) {
      if (!item.IsMap()) {
        Error(item.Mark(), "each entry must be a map (id:, category:, terms:)");
        continue;
      }
      Lexicon::Entry entry;
      bool has_terms = false;
      for (const auto& field : item) {
        const std::string key = field.first.Scalar();
        const YAML::Node& value = field.second;
        if (key == "id" || key == "category") {
          const std::string text = value.IsScalar() ? value.Scalar() : "";
          const bool ok = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
          });
          if (!ok) {
            Error(value.Mark(), key + " must be lower-case letters, digits and _");
            continue;
          }
          (key == "id" ? entry.id : entry.category) = text;
          if (key == "id") {
            if (auto [it, fresh] = seen_ids.emplace(text, value.Mark().line + 1); !fresh) {
              Error(value.Mark(), "duplicate entry id '" + text + "' (first on line " +
                                      std::to_string(it->second) + ")");
            }
          }
        } else if (key == "fuzzy") {
          if (!value.IsScalar() || !YAML::convert<bool>::decode(value, entry.fuzzy)) {
            Error(value.Mark(), "fuzzy must be true or false");
          }
        } else if (key == "description") {
          // For people only.
        } else if (key == "negated_by") {
          ForEachLanguage(value, key, [&](const std::string&, const YAML::Node& phrase) {
            auto words = Words(phrase, "negation");
            if (!words.empty()) {
              entry.negated_by.push_back({phrase.Scalar(), std::move(words), kEntryNegationWindow});
            }
          });
        } else if (key == "terms" || key == "misspellings" || key == "negated" || key == "alone") {
          has_terms = true;
          ForEachLanguage(value, key, [&](const std::string& language, const YAML::Node& phrase) {
            bool warned = false;
            for (Lexicon::Term& term : ReadTerm(phrase, language)) {
              term.after_negation = key == "negated";
              term.alone = key == "alone";
              std::string key_text = term.after_negation ? "~ " : term.alone ? "= " : "";
              for (const auto& w : term.words) key_text += w.text + (w.prefix ? "* " : " ");
              if (auto [it, fresh] = seen_terms.emplace(key_text, entry.id); !fresh && !warned) {
                Warn(phrase.Mark(), "term '" + phrase.Scalar() + "' is listed twice (also in '" +
                                        it->second + "')");
                warned = true;  // once for a term however many phrases it stands for
              }
              entry.terms.push_back(std::move(term));
            }
          });
        } else {
          Error(field.first.Mark(), "unknown key '" + key +
                                        "' in an entry (id, category, "
                                        "description, fuzzy, terms, misspellings, negated, "
                                        "alone, negated_by)");
        }
      }
      if (entry.id.empty()) Error(item.Mark(), "entry without 'id'");
      if (entry.category.empty()) Error(item.Mark(), "entry '" + entry.id + "' has no category");
      if (!has_terms) Error(item.Mark(), "entry '" + entry.id + "' has no terms");
      if (!entry.id.empty() && !entry.category.empty()) entries.push_back(std::move(entry));
    }
    return entries;
  }

  // A term as the phrases it stands for: "hurt+ (me|the kids)" is hurt me, hurts me, hurting
  // me, hurt the kids... each one a Term written as in the file. None when it is wrong.
  std::vector<Lexicon::Term> ReadTerm(const YAML::Node& node, const std::string& language) {
    const std::string written = node.Scalar();
    auto fail = [&](const std::string& message) {
      Error(node.Mark(), message);
      return std::vector<Lexicon::Term>{};
    };
    auto too_many = [&] {
      return fail("term '" + written + "' stands for more than " + std::to_string(kMaxPhrases) +
                  " phrases: split it");
    };
    {
      std::string plain = written;
      std::erase_if(plain, [](char c) { return std::strchr("*+()|", c) != nullptr; });
      const auto tokens = Tokenize(plain + " x");  // a break at the very end is a break too
      if (std::any_of(tokens.begin(), tokens.end(), [](const Token& t) { return t.hard_break; })) {
        return fail("term '" + written + "' spans a clause break (punctuation)");
      }
    }
    // The term's places, each held by one of its alternatives (a plain word has one).
    std::vector<std::vector<std::string>> places;
    bool in_group = false;
    bool closed = false;  // the last character closed a group
    std::string piece;
    // Alternatives are whole words: "(him|her)self" would read as "him self".
    const std::string glued =
        "term '" + written +
        "' joins a bracket to a word: alternatives are whole words, as in "
        "'(himself|herself)', with a space between a bracket and the next word";
    for (const char c : written + " ") {
      if (closed && c != ' ' && c != '\t') return fail(glued);
      closed = false;
      if (c == '(') {
        if (in_group) return fail("term '" + written + "' has brackets inside brackets");
        if (!piece.empty()) return fail(glued);
        piece.clear();
        places.emplace_back();
        in_group = true;
      } else if (c == ')' || (in_group && c == '|')) {
        if (!in_group) return fail("term '" + written + "' closes a bracket it did not open");
        if (piece.find_first_not_of(" \t") == std::string::npos) {
          return fail("term '" + written + "' has an empty alternative: write (me|us), not (me|)");
        }
        places.back().push_back(piece);
        piece.clear();
        in_group = c == '|';
        closed = c == ')';
      } else if (c == '|') {
        return fail("term '" + written +
                    "' has '|' outside brackets: alternatives go in brackets, as in "
                    "'hurt+ (me|the kids)'");
      } else if (!in_group && (c == ' ' || c == '\t')) {
        if (!piece.empty()) places.push_back({piece});
        piece.clear();
      } else {
        piece.push_back(c);
      }
    }
    if (in_group) return fail("term '" + written + "' opens a bracket it does not close");
    // Each place as the word sequences it may be.
    std::vector<std::vector<std::vector<Lexicon::Word>>> choices;
    for (const auto& alternatives : places) {
      auto& choice = choices.emplace_back();
      for (const std::string& alternative : alternatives) {
        std::vector<std::vector<Lexicon::Word>> sequences = {{}};
        std::istringstream raw(alternative);
        for (std::string word; raw >> word;) {
          auto forms = ReadWord(node, written, word, language);
          if (forms.empty()) return {};
          // Checked as it grows: "(a+ b+ c+ d+ e+ f+)" is 46,656 phrases before the term's check.
          if (!Extend(sequences, forms)) return too_many();
        }
        choice.insert(choice.end(), sequences.begin(), sequences.end());
      }
    }
    std::vector<std::vector<Lexicon::Word>> phrases = {{}};
    for (const auto& choice : choices) {
      if (!Extend(phrases, choice)) return too_many();
    }
    std::vector<Lexicon::Term> terms;
    for (auto& words : phrases) {
      if (words.empty()) return fail("empty term");
      terms.push_back({written, language, std::move(words)});
    }
    return terms;
  }

  // One word of a term as the word sequences it matches: "przeraz*" one prefix, "threaten+" its
  // English inflections, "self-harm" the two words "self harm". None when it is wrong.
  std::vector<std::vector<Lexicon::Word>> ReadWord(const YAML::Node& node,
                                                   const std::string& written, std::string piece,
                                                   const std::string& language) {
    const bool prefix = piece.size() > 1 && piece.back() == '*';
    const bool inflected = piece.size() > 1 && piece.back() == '+';
    if (prefix || inflected) piece.pop_back();
    if (piece.find('*') != std::string::npos) {
      Error(node.Mark(), "'*' may only end a word, as in 'przeraz*'");
      return {};
    }
    if (piece.find('+') != std::string::npos) {
      Error(node.Mark(), "'+' may only end a word, as in 'threaten+'");
      return {};
    }
    std::vector<Lexicon::Word> words;
    for (const Token& token : Tokenize(piece)) {
      if (token.hard_break) {
        Error(node.Mark(), "term '" + written + "' spans a clause break (punctuation)");
        return {};
      }
      words.push_back({token.text, false});
    }
    if (words.empty()) {
      Error(node.Mark(), "empty term");
      return {};
    }
    if (prefix) {
      words.back().prefix = true;
      if (words.back().text.size() < 4) {
        Error(node.Mark(),
              "prefix '" + words.back().text + "*' is too short: it would match too much");
        return {};
      }
    }
    if (!inflected) return {words};
    if (language != "en") {
      Error(node.Mark(), "'" + words.back().text + "+' (English inflections) in a " + language +
                             " term: write a stem, as in 'przeraz*'");
      return {};
    }
    if (words.back().text.size() < 3) {
      Error(node.Mark(), "'" + words.back().text + "+' is too short to inflect");
      return {};
    }
    std::vector<std::vector<Lexicon::Word>> sequences;
    for (std::string& form : EnglishForms(words.back().text)) {
      sequences.push_back(words);
      sequences.back().back().text = std::move(form);
      sequences.back().back().exact = true;
    }
    return sequences;
  }
};

}  // namespace

std::vector<Token> Tokenize(std::string_view text) { return TokenizeImpl(text); }

std::string NormalizedText(std::string_view text) {
  std::string out;
  for (const Token& token : Tokenize(text)) {
    if (!out.empty()) out += ' ';
    out += token.hard_break ? "|" : token.text;
  }
  return out;
}

Lexicon::Lexicon(std::vector<Entry> entries, std::vector<Negation> negations,
                 std::vector<std::string> fillers, std::vector<std::string> soft_breaks)
    : entries_(std::move(entries)),
      negations_(std::move(negations)),
      fillers_(std::move(fillers)),
      soft_breaks_(std::move(soft_breaks)) {
  for (const Entry& entry : entries_) {
    for (const Term& term : entry.terms) {
      const Word& first = term.words.front();
      const TermRef ref{&entry, &term};
      if (first.prefix || (entry.fuzzy && !first.exact && first.text.size() >= 7)) {
        auto group = std::find_if(everywhere_.begin(), everywhere_.end(), [&](const auto& g) {
          return g.word->text == first.text && g.word->prefix == first.prefix &&
                 g.fuzzy == entry.fuzzy;
        });
        if (group == everywhere_.end()) {
          group = everywhere_.insert(everywhere_.end(), {&first, entry.fuzzy, {}});
        }
        group->terms.push_back(ref);
      } else {
        by_first_word_[first.text].push_back(ref);
        by_collapsed_first_word_[CollapseRuns(first.text)].push_back(ref);
      }
    }
  }
}

bool Lexicon::MatchAt(const std::vector<Token>& tokens, std::size_t start,
                      const TermRef& ref) const {
  const auto& words = ref.term->words;
  if (start + words.size() > tokens.size()) return false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (!WordMatches(tokens[start + i], words[i], ref.entry->fuzzy)) return false;
  }
  return true;
}

// A negation ending at most its window of words before `start`, with only filler words between
// ("not [really] scared", "no longer [feel] unsafe", "nie [czuje sie] zagrozona"): "not sure he's
// back" and "not scared, I'm terrified" stay risks. Weak negations ("never") only if `weak_too`.
const Lexicon::Negation* Lexicon::NegationBefore(const std::vector<Negation>& negations,
                                                 const std::vector<Token>& tokens,
                                                 std::size_t start, bool weak_too,
                                                 std::size_t& negation_start) const {
  for (const Negation& negation : negations) {
    if (negation.weak && !weak_too) continue;
    const std::size_t length = negation.words.size();
    for (int gap = 0; gap <= negation.window; ++gap) {
      // The negation would end at start - 1 - gap.
      if (start < length + static_cast<std::size_t>(gap)) break;
      const std::size_t begin = start - static_cast<std::size_t>(gap) - length;
      if (gap > 0) {
        const Token& between = tokens[begin + length];
        if (between.hard_break || between.soft_break ||
            std::find(fillers_.begin(), fillers_.end(), between.text) == fillers_.end()) {
          break;
        }
      }
      bool same = true;
      for (std::size_t i = 0; i < length && same; ++i) {
        same = !tokens[begin + i].hard_break && tokens[begin + i].text == negation.words[i];
      }
      if (same) {
        negation_start = begin;
        return &negation;
      }
    }
  }
  return nullptr;
}

std::string MatchName(const LexiconMatch& match) {
  const bool pattern = match.term.find_first_of("+(") != std::string::npos;
  return match.entry + ":" + (match.after_negation || pattern ? match.text : match.term);
}

std::vector<LexiconMatch> Lexicon::Match(std::string_view text) const {
  return Match(Tokenize(text));
}

std::vector<LexiconMatch> Lexicon::Match(const std::vector<Token>& input) const {
  std::vector<Token> tokens = input;
  for (Token& token : tokens) {
    token.soft_break = !token.hard_break && std::find(soft_breaks_.begin(), soft_breaks_.end(),
                                                      token.text) != soft_breaks_.end();
  }
  std::vector<LexiconMatch> matches;
  // One match per entry, place and length: "scared" is not also reported as the misspelling
  // "scarred" it is one typo away from.
  // A `negated:` term is kept apart: a risk term cancelled by a negation must not take its place.
  std::set<std::tuple<const Entry*, std::size_t, std::size_t, bool>> seen;
  // Whether the words from `start` on are all the text holds, but for its punctuation.
  const auto whole_text = [&tokens](std::size_t start, std::size_t length) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if ((i < start || i >= start + length) && !tokens[i].hard_break) return false;
    }
    return true;
  };
  auto consider = [&](const TermRef& ref, std::size_t start) {
    if (!MatchAt(tokens, start, ref)) return;
    if (ref.term->alone && !whole_text(start, ref.term->words.size())) return;
    std::size_t from = start;
    const Negation* negation =
        NegationBefore(negations_, tokens, start, ref.term->after_negation, from);
    if (negation == nullptr && !ref.term->after_negation) {
      negation = NegationBefore(ref.entry->negated_by, tokens, start, false, from);
    }
    // "safe" alone is no risk; "don't feel safe" is, and is what the alert should show.
    if (ref.term->after_negation && negation == nullptr) return;
    if (!seen.emplace(ref.entry, start, ref.term->words.size(), ref.term->after_negation).second) {
      return;
    }
    LexiconMatch match;
    match.entry = ref.entry->id;
    match.category = ref.entry->category;
    match.term = ref.term->written;
    match.position = start;
    if (ref.term->after_negation) {
      match.after_negation = true;
      match.negation = negation->written;
    } else if (negation != nullptr) {
      match.negated = true;
      match.negation = negation->written;
      from = start;
    }
    // In the lexicon's own words, never the comment's: the negation and the fillers before the
    // term are read exactly, but the term's words may be a typo, a stem's ending or run-on text
    // ("bezpiecznie07700900123"), and this name is stored with the alert.
    for (std::size_t i = from; i < start; ++i) {
      match.text += (match.text.empty() ? "" : " ") + tokens[i].text;
    }
    for (const Word& word : ref.term->words) {
      match.text += (match.text.empty() ? "" : " ") + word.text + (word.prefix ? "*" : "");
    }
    matches.push_back(std::move(match));
  };
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].hard_break) continue;
    if (auto it = by_first_word_.find(tokens[i].text); it != by_first_word_.end()) {
      for (const TermRef& ref : it->second) consider(ref, i);
    }
    if (tokens[i].elongated) {
      if (auto it = by_collapsed_first_word_.find(CollapseRuns(tokens[i].text));
          it != by_collapsed_first_word_.end()) {
        for (const TermRef& ref : it->second) consider(ref, i);
      }
    }
    for (const FirstWordGroup& group : everywhere_) {
      if (!WordMatches(tokens[i], *group.word, group.fuzzy)) continue;
      for (const TermRef& ref : group.terms) consider(ref, i);
    }
  }
  std::stable_sort(
      matches.begin(), matches.end(),
      [](const LexiconMatch& a, const LexiconMatch& b) { return a.position < b.position; });
  return matches;
}

bool Lexicon::Matches(std::string_view text, std::string_view category) const {
  for (const LexiconMatch& match : Match(text)) {
    if (!match.negated && match.category == category) return true;
  }
  return false;
}

bool Lexicon::HasCategory(std::string_view category) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& entry) { return entry.category == category; });
}

std::vector<std::string> Lexicon::Categories() const {
  std::set<std::string> categories;
  for (const Entry& entry : entries_) categories.insert(entry.category);
  return {categories.begin(), categories.end()};
}

// Terms as written: the phrases one stands for ("hurt+ (me|us)") are next to each other.
std::size_t Lexicon::TermCount() const {
  std::size_t count = 0;
  for (const Entry& entry : entries_) count += WrittenTerms(entry);
  return count;
}

std::string Lexicon::Summary() const {
  std::map<std::string, std::size_t> per_category;
  for (const Entry& entry : entries_) per_category[entry.category] += WrittenTerms(entry);
  std::string out =
      std::to_string(entries_.size()) + " entries, " + std::to_string(TermCount()) + " terms (";
  bool first = true;
  for (const auto& [category, count] : per_category) {
    out += (first ? "" : ", ") + category + " " + std::to_string(count);
    first = false;
  }
  return out + "), " + std::to_string(negations_.size()) + " negations";
}

LexiconLoad LoadLexiconString(std::string_view yaml, const std::string& file_name) {
  return LexiconLoader(file_name).Load(yaml);
}

LexiconLoad LoadLexiconFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LexiconLoad result;
    result.errors.push_back(
        {path, 0, 0, std::string("cannot read the lexicon: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return LoadLexiconString(text.str(), path);
}

}  // namespace surveyd::alerts
