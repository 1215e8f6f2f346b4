#pragma once
// The words that raise alerts and mark praise: data that ops extend (config/alert_lexicon.yaml),
// not code. English, Polish and Welsh terms are matched as whole words after the text is
// normalised: lower case, accents and diacritics folded (ł -> l, ŵ -> w), apostrophes dropped
// (he's -> hes), hyphens and runs of spaces and line breaks read as one space. A term preceded by
// a negation ("not scared", "no longer feel unsafe", "nie boję się", "dw i ddim yn ofnus") does
// not count; a term an entry lists under `negated:` ("safe", "want to live") counts only after
// one ("I don't feel safe", "never felt safe"). A word written "threaten+" also matches its
// English inflections, and "(me|the kids)" any of its alternatives. Misspellings are listed as
// terms; an entry may also allow one typo in its long words (fuzzy). Pure: no I/O besides
// reading the file.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surveyd/rules/rules.hpp"

namespace surveyd::alerts {

// One word of normalised text. A clause break (punctuation, a line break) is a token of its own
// with `hard_break`; a conjunction ("but", "ale", "ond") stays a word but stops negation.
struct Token {
  std::string text;
  bool hard_break = false;
  bool soft_break = false;
  bool elongated = false;  // a letter repeated three times or more ("scaaared")
};

// The text as the lexicon reads it.
std::vector<Token> Tokenize(std::string_view text);
// The words of `text`, normalised, one space apart ("|" for a clause break): for tests and
// `rules explain`.
std::string NormalizedText(std::string_view text);

struct LexiconMatch {
  std::string entry;     // the entry's id ("fear")
  std::string category;  // "safeguarding", "complaint", "praise"
  std::string term;      // the term as the lexicon writes it ("scared to go home")
  bool negated = false;  // a negation came just before it: it does not count
  // A `negated:` term ("safe"): it counts because `negation` came just before it.
  bool after_negation = false;
  std::string negation;  // the negation, as the lexicon writes it
  // The phrase matched in the lexicon's words (a stem with its '*'), from the negation on if
  // after_negation: never the comment's own spelling.
  std::string text;
  std::size_t position = 0;  // index of the first token of the term
};

// What an alert says matched: "fear:scared", or the phrase matched, in the lexicon's words, when
// the term is a pattern or a `negated:` one ("violence:hitting my son", "fear:dont feel safe"),
// not "(hit+|...) (...)".
std::string MatchName(const LexiconMatch& match);

class Lexicon {
 public:
  struct Word {
    std::string text;     // normalised
    bool prefix = false;  // written "przeraz*": any word that starts so
    // A form of a word written "shove+": read as written, never one typo away ("shoving" is not
    // "showing"; "choking" is not "cooking").
    bool exact = false;
  };
  // One phrase a term stands for: "hurt+ (me|the kids)" is read as hurt me, hurts me, hurting
  // me, hurt the kids... each a Term with the same `written`, matched as the others are.
  struct Term {
    std::string written;  // as in the file
    std::string language;
    std::vector<Word> words;
    bool after_negation = false;  // listed under `negated:`: counts only after a negation
    bool alone = false;           // listed under `alone:`: counts only as the whole text ("HELP")
  };
  struct Negation {
    std::string written;
    std::vector<std::string> words;
    int window = 3;  // filler words allowed between the negation and the term
    // "never", "cant": makes a `negated:` term count ("never felt safe") but does not cancel a
    // risk term ("I was never so scared").
    bool weak = false;
  };
  struct Entry {
    std::string id;
    std::string category;
    bool fuzzy = false;  // words of 7 letters or more also match with one typo
    std::vector<Term> terms;
    // `negated_by:` phrases that cancel this entry's terms as a negation does, besides the
    // lexicon's own: "never" and "no need to" before "contact me" are no request to be called.
    std::vector<Negation> negated_by;
  };

  // `fillers`: the only words a negation reaches across ("feel", "really", "czuje", "yn").
  Lexicon(std::vector<Entry> entries, std::vector<Negation> negations,
          std::vector<std::string> fillers, std::vector<std::string> soft_breaks);

  // Every match, negated ones included (explain shows them), in text order.
  std::vector<LexiconMatch> Match(std::string_view text) const;
  std::vector<LexiconMatch> Match(const std::vector<Token>& tokens) const;
  // True when a term of `category` matches and is not negated.
  bool Matches(std::string_view text, std::string_view category) const;

  const std::vector<Entry>& entries() const { return entries_; }
  bool HasCategory(std::string_view category) const;
  std::vector<std::string> Categories() const;  // sorted
  std::size_t TermCount() const;
  std::string Summary() const;  // "84 entries, 912 terms (safeguarding 40, complaint 20, ...)"

 private:
  struct TermRef {
    const Entry* entry;
    const Term* term;
  };
  bool MatchAt(const std::vector<Token>& tokens, std::size_t start, const TermRef& ref) const;
  const Negation* NegationBefore(const std::vector<Negation>& negations,
                                 const std::vector<Token>& tokens, std::size_t start, bool weak_too,
                                 std::size_t& negation_start) const;

  std::vector<Entry> entries_;
  std::vector<Negation> negations_;
  std::vector<std::string> fillers_;
  std::vector<std::string> soft_breaks_;
  // Terms whose first word is a prefix or fuzzy, grouped by that word: it is tried at every
  // token once for all the phrases that start with it ("threatening (me|us|...)").
  struct FirstWordGroup {
    const Word* word;
    bool fuzzy;
    std::vector<TermRef> terms;
  };
  // Terms by their first word (exact), by its letters with repeats collapsed (for elongated
  // words), and the rest, tried everywhere.
  std::unordered_map<std::string, std::vector<TermRef>> by_first_word_;
  std::unordered_map<std::string, std::vector<TermRef>> by_collapsed_first_word_;
  std::vector<FirstWordGroup> everywhere_;
};

struct LexiconLoad {
  std::shared_ptr<const Lexicon> lexicon;  // null when errors is not empty
  std::vector<rules::RuleError> errors;
  std::vector<rules::RuleError> warnings;
};

LexiconLoad LoadLexiconFile(const std::string& path);
LexiconLoad LoadLexiconString(std::string_view yaml, const std::string& file_name);

}  // namespace surveyd::alerts
