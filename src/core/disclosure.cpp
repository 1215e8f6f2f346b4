#include "surveyd/core/disclosure.hpp"

#include <algorithm>
#include <compare>
#include <numeric>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "surveyd/core/crypto.hpp"

namespace surveyd::stats {
namespace {

constexpr std::size_t kNoRow = static_cast<std::size_t>(-1);

// A breakdown's rows: along each dimension, the cells that share every other key. A cell alone
// along a dimension makes no row there: there is nothing beside it to hide.
struct Rows {
  std::size_t dimensions = 0;
  std::vector<std::vector<std::size_t>> cells;  // per row, its cells in the order given
  std::vector<std::size_t> of_cell;             // [cell * dimensions + d]: its row along d
};

// Each cell's keys as numbers, [cell * dimensions + d], 0 for a missing value (a key a cell lacks
// reads as missing): rows are found comparing numbers, not text.
std::vector<std::uint32_t> KeyIds(std::span<const CountedCell> cells, std::size_t dimensions) {
  std::vector<std::uint32_t> ids(cells.size() * dimensions, 0);
  for (std::size_t d = 0; d < dimensions; ++d) {
    std::unordered_map<std::string_view, std::uint32_t> seen;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (d >= cells[i].keys.size() || !cells[i].keys[d]) continue;
      const auto next = static_cast<std::uint32_t>(seen.size() + 1);
      ids[i * dimensions + d] = seen.try_emplace(*cells[i].keys[d], next).first->second;
    }
  }
  return ids;
}

// Sorting the cells by their other keys, per dimension.
Rows FindRows(std::span<const CountedCell> cells) {
  Rows rows;
  for (const auto& cell : cells) rows.dimensions = std::max(rows.dimensions, cell.keys.size());
  const std::size_t dimensions = rows.dimensions;
  // Along a breakdown's only dimension, every cell is in one row: no keys to compare.
  const std::vector<std::uint32_t> ids =
      dimensions > 1 ? KeyIds(cells, dimensions) : std::vector<std::uint32_t>{};
  rows.of_cell.assign(cells.size() * dimensions, kNoRow);
  std::vector<std::size_t> order(cells.size());
  for (std::size_t along = 0; along < dimensions; ++along) {
    auto other_keys = [&](std::size_t a, std::size_t b) {
      for (std::size_t d = 0; d < dimensions; ++d) {
        if (d == along) continue;
        if (const auto by_key = ids[a * dimensions + d] <=> ids[b * dimensions + d]; by_key != 0) {
          return by_key;
        }
      }
      return std::strong_ordering::equal;
    };
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Equal keys in the order given, so that each row lists its cells in that order.
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const auto by_keys = other_keys(a, b);
      return by_keys != 0 ? by_keys < 0 : a < b;
    });
    for (std::size_t begin = 0; begin < order.size();) {
      std::size_t end = begin + 1;
      while (end < order.size() && other_keys(order[begin], order[end]) == 0) ++end;
      if (end - begin > 1) {
        const std::size_t row = rows.cells.size();
        rows.cells.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                order.begin() + static_cast<std::ptrdiff_t>(end));
        for (std::size_t i = begin; i < end; ++i) rows.of_cell[order[i] * dimensions + along] = row;
      }
      begin = end;
    }
  }
  return rows;
}

// The row's smallest count still shown, the first given of equals; none when all are hidden.
std::optional<std::size_t> SmallestShown(const std::vector<std::size_t>& row,
                                         const std::vector<std::int64_t>& counts,
                                         const std::vector<char>& hidden) {
  std::optional<std::size_t> smallest;
  for (std::size_t cell : row) {
    if (!hidden[cell] && (!smallest || counts[cell] < counts[*smallest])) smallest = cell;
  }
  return smallest;
}

// Hides more of `counts` until no row gives a hidden one away. What a row hides is worked out as
// its total less what it shows: safe when that is nobody's (every hidden count zero), or a sum of
// two or more counts adding up to at least `min`. One partner is always enough for the row that
// needs it (a count still shown is at least `min`), but it may be the only count hidden in its
// rows along the other dimensions, which then need partners of their own. Rows are looked at
// dimension by dimension (in an order that follows from the cells given), then again as their
// cells are hidden, first touched first. A cell is hidden once and a row gets one partner at most,
// so this takes time in proportion to the cells times the dimensions.
void HideWithPartners(const Rows& rows, const std::vector<std::int64_t>& counts, std::int64_t min,
                      std::vector<char>& hidden) {
  std::vector<std::int64_t> hidden_sum(rows.cells.size(), 0);
  std::vector<std::size_t> hidden_counted(rows.cells.size(), 0);  // hidden counts above zero
  std::vector<std::size_t> to_look;                               // rows, in turn
  auto hide = [&](std::size_t cell, bool look_again) {
    hidden[cell] = 1;
    for (std::size_t d = 0; d < rows.dimensions; ++d) {
      const std::size_t row = rows.of_cell[cell * rows.dimensions + d];
      if (row == kNoRow) continue;
      hidden_sum[row] += counts[cell];
      if (counts[cell] > 0) ++hidden_counted[row];
      if (look_again) to_look.push_back(row);
    }
  };
  for (std::size_t cell = 0; cell < hidden.size(); ++cell) {
    if (hidden[cell]) hide(cell, false);  // every row is looked at first anyway
  }
  to_look.resize(rows.cells.size());
  std::iota(to_look.begin(), to_look.end(), std::size_t{0});
  for (std::size_t next = 0; next < to_look.size(); ++next) {
    const std::size_t row = to_look[next];
    const bool gives_away =
        hidden_counted[row] == 1 || (hidden_counted[row] > 1 && hidden_sum[row] < min);
    if (!gives_away) continue;
    const auto partner = SmallestShown(rows.cells[row], counts, hidden);
    if (!partner) continue;  // every cell of the row hidden: nothing left to hide
    hide(*partner, true);
  }
}

}  // namespace

Suppression::Suppression(std::vector<char> cells, std::vector<char> questions,
                         std::size_t question_count)
    : cells_(std::move(cells)), questions_(std::move(questions)), question_count_(question_count) {}

Suppression SuppressSmallCounts(std::span<const CountedCell> cells, std::size_t questions,
                                int min_cell_size) {
  const std::int64_t min = std::max(1, min_cell_size);
  const Rows rows = FindRows(cells);
  std::vector<std::int64_t> counts(cells.size());
  std::vector<char> hidden(cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    counts[i] = cells[i].respondents;
    hidden[i] = counts[i] < min;
  }
  HideWithPartners(rows, counts, min, hidden);
  // Then each other count, from the cells hidden so far: a cell shown has respondents of at
  // least the minimum, and so other counts of at least that (they count the same people and
  // more), so only partners are added.
  const std::size_t others = cells.empty() ? 0 : cells[0].other_counts.size();
  for (std::size_t o = 0; o < others; ++o) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      counts[i] = o < cells[i].other_counts.size() ? cells[i].other_counts[o] : 0;
      hidden[i] = hidden[i] || counts[i] < min;
    }
    HideWithPartners(rows, counts, min, hidden);
  }

  // Each question on its own, starting from the cells hidden: a question's figures in a cell
  // that hides its respondents would give them away as surely as the cell's own.
  std::vector<char> hidden_questions(cells.size() * questions);
  std::vector<char> question_hidden(cells.size());
  for (std::size_t q = 0; q < questions; ++q) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const auto& answered = cells[i].question_respondents;
      counts[i] = q < answered.size() ? answered[q] : 0;
      question_hidden[i] = hidden[i] || counts[i] < min;
    }
    HideWithPartners(rows, counts, min, question_hidden);
    for (std::size_t i = 0; i < cells.size(); ++i) {
      hidden_questions[i * questions + q] = question_hidden[i];
    }
  }
  return Suppression(std::move(hidden), std::move(hidden_questions), questions);
}

ReasonBreakdown SuppressSmallReasons(std::span<const std::map<std::string, std::int64_t>> rows,
                                     const std::string& other, int min_cell_size) {
  const std::int64_t min = std::max(1, min_cell_size);
  std::map<std::string, std::int64_t> totals;
  for (const auto& row : rows) {
    for (const auto& [reason, count] : row) totals[reason] += count;
  }
  std::vector<std::pair<std::int64_t, std::string>> named;  // by total, then name
  std::int64_t rare = 0;
  bool merged = false;
  for (const auto& [reason, count] : totals) {
    if (count >= min) {
      named.emplace_back(count, reason);
    } else {
      rare += count;
      merged = true;
    }
  }
  std::sort(named.begin(), named.end());
  std::size_t first_named = 0;
  while (rare > 0 && rare < min && first_named < named.size()) rare += named[first_named++].first;
  merged = merged || first_named > 0;
  ReasonBreakdown out;
  for (std::size_t i = first_named; i < named.size(); ++i) out.reasons.push_back(named[i].second);
  std::sort(out.reasons.begin(), out.reasons.end());
  if (merged) out.reasons.push_back(other);
  const std::size_t width = out.reasons.size();
  // A reason's column: its own, or the last (`other`) when merged.
  const auto named_end = out.reasons.end() - (merged ? 1 : 0);
  auto column = [&](const std::string& reason) {
    const auto it = std::lower_bound(out.reasons.begin(), named_end, reason);
    return it != named_end && *it == reason ? static_cast<std::size_t>(it - out.reasons.begin())
                                            : width - 1;
  };
  const std::size_t total_row = rows.size();
  std::vector<std::int64_t> counts((rows.size() + 1) * width, 0);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (const auto& [reason, count] : rows[r]) {
      counts[r * width + column(reason)] += count;
      counts[total_row * width + column(reason)] += count;
    }
  }
  std::vector<std::optional<std::string>> keys(rows.size() * width * 2);
  std::vector<CountedCell> cells;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < width; ++c) {
      const std::size_t i = r * width + c;
      keys[2 * i] = std::to_string(r);
      keys[2 * i + 1] = out.reasons[c];
      cells.push_back({std::span(keys).subspan(2 * i, 2), counts[i]});
    }
  }
  const Suppression hidden = SuppressSmallCounts(cells, 0, min_cell_size);
  out.counts.resize(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    // The totals are all shown, but when every reason was too rare to name (and `other` is all
    // there is, fewer than the minimum).
    const bool small = i < cells.size() ? hidden.Cell(i) : counts[i] < min;
    if (!small) out.counts[i] = counts[i];
  }
  return out;
}

namespace {

// Text into a draw's content with its length first, so that names holding the separators cannot
// make two different contents read the same.
void Put(std::string& content, std::string_view text) {
  content += std::to_string(text.size());
  content += ':';
  content.append(text);
}

}  // namespace

std::int64_t NoisyCount(std::int64_t value, int delta, int min_cell_size) {
  if (value == 0) return value;
  const std::int64_t min = std::max(1, min_cell_size);
  const std::int64_t moved = std::max<std::int64_t>(0, value + delta);
  return value >= min ? std::max(min, moved) : moved;
}

void AddReasonNoise(ReasonBreakdown& shown,
                    std::span<const std::map<std::string, std::int64_t>> rows,
                    std::span<const std::string> names, std::string_view breakdown,
                    const FigureNoise& noise, int min_cell_size) {
  if (!noise.on()) return;
  // What each row holds, which its counts are drawn from. As for a cell of /api/v1/stats, that
  // is every true count of the row, not the count shown alone: one more exclusion in a group
  // draws all its reasons afresh. With a count's own draw, the reasons whose counts did not
  // change would read the same in two funnels a day apart, and the one whose figure moved would
  // say what the day's contact concerned. A row's counts are fewer and more alike than a cell's
  // (many groups exclude 12 for a landline), so its name is in it too: two groups that hold the
  // same counts draw apart, and a group's noise that its exact `excluded` gives back (a group of
  // one reason) tells nothing of another's. The period is not in it: the same counts asked for
  // over more days (days without any of them, before or after) draw the same, where a draw per
  // period could be asked for again and again and averaged out. The total row holds the rows
  // that hold any count, one after the other: a total of one group's counts reads as its row.
  std::vector<std::string> contents(rows.size() + 1);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string content;
    Put(content, names[r]);
    bool holds = false;
    for (const auto& [reason, count] : rows[r]) {
      if (count == 0) continue;
      holds = true;
      Put(content, reason);
      content += std::to_string(count);
      content += ';';
    }
    if (!holds) continue;
    contents.back() += content;
    contents[r] = std::move(content);
  }
  const std::size_t width = shown.reasons.size();
  for (std::size_t row = 0; row < contents.size(); ++row) {
    for (std::size_t c = 0; c < width; ++c) {
      auto& count = shown.counts[row * width + c];
      if (!count || *count == 0) continue;
      // The count shown is in it as well: which reasons `other` adds up is decided by the whole
      // answer, so the same row may give it another count.
      std::string content;
      Put(content, breakdown);
      content += contents[row];
      content += '>';
      Put(content, shown.reasons[c]);
      content += std::to_string(*count);
      count = NoisyCount(*count, noise.For(std::move(content)).Count(), min_cell_size);
    }
  }
}

FigureNoise::Draws::Draws(const std::string& key, std::string content)
    : key_(key), content_(std::move(content)) {}

unsigned char FigureNoise::Draws::Next() {
  if (used_ == bytes_.size()) {
    // 32 bytes a block; a cell with many questions takes a second block, and so on.
    bytes_ = crypto::HmacSha256(key_, content_ + '#' + std::to_string(block_++));
    used_ = 0;
  }
  return static_cast<unsigned char>(bytes_[used_++]);
}

int FigureNoise::Draws::Count() {
  const unsigned char byte = Next();
  if (byte < 26) return -2;
  if (byte < 77) return -1;
  if (byte < 179) return 0;
  if (byte < 230) return 1;
  return 2;
}

int FigureNoise::Draws::Sum() {
  // 65536 is 21 x 3120 + 16: rejecting the last 16 values keeps the draw even.
  for (;;) {
    const unsigned high = Next();
    const unsigned value = high << 8 | Next();
    if (value < 21u * 3120u) return static_cast<int>(value % 21u) - kSumWithin;
  }
}

}  // namespace surveyd::stats
