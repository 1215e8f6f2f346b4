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
// differ by a day's counts), and totals other than a row's. docs/analytics.md, "Small cells".
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
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
  std::span<const std::int64_t> question_respondents;
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

}  // namespace surveyd::stats
