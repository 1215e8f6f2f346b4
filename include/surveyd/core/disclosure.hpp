#pragma once
// Which counts of a breakdown to hide so that no small one can be read, or worked out from the
// others.
//
// A count below the minimum cell size is hidden (primary suppression). That alone is not enough.
// Along each dimension of a breakdown, the cells that share every other key make a row, and an
// analyst gets a row's total by asking again without that dimension (or for everything): the
// total less the counts shown is what the row hides. So a row must not hide a single count, nor
// counts adding up to less than the minimum; one that does also hides its smallest count still
// shown (complementary suppression), and the rows of that cell along the other dimensions are
// looked at again, until no row gives anything away. The same holds per question, with that
// question's own respondents.
//
// What it does not see: other selections (two date ranges, one a day longer than the other,
// differ by a day's counts: FigureNoise below is for that), and totals other than a row's.
// docs/analytics.md, "Small cells" and "Differencing".
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surveyd::stats {

// One cell of a breakdown, read during the call only.
struct CountedCell {
  // Its values of the dimensions that split respondents into groups, in the same order in every
  // cell; "question" is not one (a respondent answers several). A key a cell lacks reads as a
  // missing value.
  std::span<const std::optional<std::string>> keys;
  std::int64_t respondents = 0;
  // One per question, in the same order in every cell; a question a cell lacks counts 0.
  std::span<const std::int64_t> question_respondents = {};
  // The cell's other counts, hidden with its respondents (/api/v1/stats: the surveys, the texts
  // sent, those that reached someone), the same number in every cell. Each is kept from being
  // worked out as a row's total less what it shows, as respondents are: a cell hidden for
  // having no respondents gives no respondent away, but its "3 sent" would point at people.
  std::span<const std::int64_t> other_counts = {};
};

// Which cells are hidden, and within each cell which questions (all of them in a hidden cell).
class Suppression {
 public:
  Suppression(std::vector<char> cells, std::vector<char> questions, std::size_t question_count);

  bool Cell(std::size_t cell) const { return cells_[cell] != 0; }
  bool Question(std::size_t cell, std::size_t question) const {
    return questions_[cell * question_count_ + question] != 0;
  }

 private:
  std::vector<char> cells_;
  std::vector<char> questions_;  // [cell * question_count_ + question]
  std::size_t question_count_;
};

// Hides every cell with fewer respondents than min_cell_size (never fewer than 1: a cell nobody
// answered shows no figures), then, in every row that hides exactly one cell with respondents, or
// several adding up to less than the minimum, the smallest cell the row still shows (of equals,
// the first given: the store gives cells in the order of their keys). A row that hides only cells
// nobody answered gives no respondent away, and one that hides all its cells has none to add.
// Then per question, from the cells hidden and the questions fewer answered, in the same way.
// Whatever is hidden reads the same, so that an answer never tells which were small.
Suppression SuppressSmallCounts(std::span<const CountedCell> cells, std::size_t questions,
                                int min_cell_size);

// Counts by reason (the funnel's exclusions by rule, its cancellations by reason) in several rows
// (survey groups), each row's total shown beside them (its `excluded`), and the rows added up
// into a last row, the total, shown too. A reason names what a contact concerned ("a sexual
// offence"), so a small count of it could say that of someone. Reasons fewer than the minimum in
// all are not named but counted together as `other`, and with them, while they add up to fewer
// than the minimum, the least common of the others (global recoding): so no reason's total is a
// small count, and the total row hides nothing that the total of all reasons would give back.
// Then the rows by reason are a breakdown (row x reason) whose rows' and reasons' totals are
// known: a count below the minimum, 0 included (a hidden count must not tell "some" from
// "none"), is hidden, and beside it what SuppressSmallCounts hides.
struct ReasonBreakdown {
  std::vector<std::string> reasons;  // those shown, by name, then `other` when any was merged
  // [row * reasons.size() + reason], the rows given and then the total row: nullopt when hidden.
  std::vector<std::optional<std::int64_t>> counts;

  const std::optional<std::int64_t>& At(std::size_t row, std::size_t reason) const {
    return counts[row * reasons.size() + reason];
  }
};
ReasonBreakdown SuppressSmallReasons(std::span<const std::map<std::string, std::int64_t>> rows,
                                     const std::string& other, int min_cell_size);

// Noise on the figures shown, against differencing: two selections that differ by a few people
// (a period a day shorter, a filter with and without one value) would otherwise give those
// people's count and scores away by subtraction, which no suppression within one answer can see.
// This is the cell key method of the ABS's TableBuilder and the ONS's flexible tables, keyed by
// what a cell holds: the draws are a keyed hash (HMAC-SHA256 under a key of the server's) of the
// cell's true counts and sums, so the same people give the same figures however they are asked
// for (asking again averages nothing out), while a selection with one person more or less draws
// afresh. Without the key the noise can be neither predicted nor taken off.
class FigureNoise {
 public:
  static constexpr int kCountWithin = 2;  // a count moves by at most this
  static constexpr int kSumWithin = 10;   // a sum of scores, by at most one answer's whole range

  explicit FigureNoise(std::string key) : key_(std::move(key)) {}  // empty: no noise

  bool on() const { return !key_.empty(); }

  // The draws for one cell, from `content`: its true counts and sums, written out.
  class Draws {
   public:
    Draws(const std::string& key, std::string content);
    int Count();  // -2..2, 0 most often (0.4), then +-1 (0.2 each), +-2 (0.1 each)
    int Sum();    // -10..10, evenly

   private:
    unsigned char Next();
    const std::string& key_;
    std::string content_;
    std::string bytes_;
    std::size_t used_ = 0;
    unsigned block_ = 0;
  };
  Draws For(std::string content) const { return Draws(key_, std::move(content)); }

 private:
  std::string key_;
};

// A true count moved by `delta` (a Draws::Count()): 0 stays 0 (nobody is nobody), and a count at
// the minimum cell size or above stays there (a figure below it would say its cell was near it).
std::int64_t NoisyCount(std::int64_t value, int delta, int min_cell_size);

// Noise on the counts that SuppressSmallReasons left shown, `rows` being the true counts it was
// given and `names` their rows' names (the survey groups), in the same order; `breakdown` says
// which one it is ("excluded", "cancelled"). What to hide was decided on the true counts; noise
// hides none of it and shows nothing more. Without noise, nothing changes.
void AddReasonNoise(ReasonBreakdown& shown,
                    std::span<const std::map<std::string, std::int64_t>> rows,
                    std::span<const std::string> names, std::string_view breakdown,
                    const FigureNoise& noise, int min_cell_size);

}  // namespace surveyd::stats
