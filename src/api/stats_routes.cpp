// Analysts' figures: scores and rates broken down by any dimension (GET /api/v1/stats), the
// funnel per survey group (GET /api/v1/funnel) and who answers against who was asked
// (GET /api/v1/representativeness). Cells with fewer respondents than api.min_cell_size are
// suppressed, so that small groups can neither mislead nor identify anyone, and with them the
// cells that would let a total give them away (core/disclosure.hpp).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>

#include "analytics_common.hpp"
#include "surveyd/core/disclosure.hpp"
#include "surveyd/core/statistics.hpp"

namespace surveyd::api {
namespace {

using nlohmann::json;
using store::Dimension;

double Round(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

// Percentages to one decimal, means to two: what a person reads, and what the dashboard shows.
struct Share {
  std::optional<double> pct, low, high;
};
Share Percent(std::int64_t k, std::int64_t n,
              const std::optional<stats::SharesWithin>& noise = std::nullopt) {
  if (n <= 0) return {};
  const auto [low, high] =
      noise ? stats::WilsonIntervalWithin(*noise) : stats::WilsonInterval(k, n);
  return {Round(100 * stats::Rate(k, n), 1), Round(100 * low, 1), Round(100 * high, 1)};
}

// What true counts a share shown with noise (AddNoise) may stand for, so that its interval holds
// theirs (stats::WilsonIntervalWithin). The 8-10s of a question: its respondents moved by up to
// kCountWithin, and the share within (kCountWithin + 1/2)/n of the true one (the true share of n,
// rounded to a whole, then moved).
stats::SharesWithin ShareOfRespondentsWithin(std::int64_t top_box, std::int64_t n) {
  constexpr int kWithin = stats::FigureNoise::kCountWithin;
  const double share = stats::Rate(top_box, n);
  const double margin = (kWithin + 0.5) / static_cast<double>(n);
  return {0, n + kWithin, n - kWithin, n + kWithin, share - margin, share + margin};
}
// A response rate: answered and reached each moved by up to kCountWithin.
stats::SharesWithin RateWithin(std::int64_t answered, std::int64_t reached) {
  constexpr int kWithin = stats::FigureNoise::kCountWithin;
  return {answered - kWithin, answered + kWithin, reached - kWithin, reached + kWithin, 0, 1};
}

json Optional(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

std::vector<std::string> QuestionKeys(const ApiOptions& options, const store::StatsResult& result) {
  std::set<std::string> keys;
  for (std::size_t i = 0; i < options.question_texts.size(); ++i) {
    keys.insert("q" + std::to_string(i + 1));
  }
  for (const auto& cell : result.cells) {
    for (const auto& [key, sums] : cell.questions) keys.insert(key);
  }
  return {keys.begin(), keys.end()};
}

// What a breakdown hides: its small cells and questions, and those that a total would give
// them away with. `dimensions`: the group_by dimensions other than question, one key each;
// `count`: what a cell counts, its respondents unless said.
stats::Suppression Suppress(const store::StatsResult& result, std::size_t dimensions,
                            const std::vector<std::string>& questions, int min_cell_size,
                            std::int64_t store::StatsCell::*count = &store::StatsCell::answered) {
  const std::size_t per_cell = questions.size();
  std::vector<std::int64_t> respondents(result.cells.size() * per_cell, 0);
  // Suppressed by who answered, a cell hides who was asked with them (surveys, sent, reached):
  // each kept from being worked out too (stats::CountedCell::other_counts).
  const bool by_answers = count == &store::StatsCell::answered;
  constexpr std::size_t kOthers = 3;
  std::vector<std::int64_t> others(by_answers ? result.cells.size() * kOthers : 0);
  std::vector<stats::CountedCell> counted;
  counted.reserve(result.cells.size());
  for (std::size_t i = 0; i < result.cells.size(); ++i) {
    const store::StatsCell& cell = result.cells[i];
    for (std::size_t k = 0; k < per_cell; ++k) {
      const auto it = cell.questions.find(questions[k]);
      if (it != cell.questions.end()) respondents[i * per_cell + k] = it->second.respondents;
    }
    const std::span<const std::optional<std::string>> keys(cell.keys);
    std::span<const std::int64_t> other_counts;
    if (by_answers) {
      std::int64_t* o = &others[i * kOthers];
      o[0] = cell.surveys;
      o[1] = cell.sent;
      o[2] = cell.reached;
      other_counts = std::span<const std::int64_t>(o, kOthers);
    }
    counted.push_back({keys.first(std::min(keys.size(), dimensions)), cell.*count,
                       std::span(respondents).subspan(i * per_cell, per_cell), other_counts});
  }
  return stats::SuppressSmallCounts(counted, per_cell, min_cell_size);
}

// How far the noise may move a mean shown from n respondents: the sum of scores is drawn within
// FigureNoise::kSumWithin of the true sum scaled to n (AddNoise), which is rounded to a whole
// score first.
double MeanWithin(std::int64_t shown_respondents) {
  return (stats::FigureNoise::kSumWithin + 0.5) / static_cast<double>(shown_respondents);
}

// The cells' figures with noise (stats::FigureNoise), once what to hide has been decided on the
// true counts. A count of 0 stays 0 (nobody is nobody), and one at the minimum or above stays
// there: a figure below it would say its cell was near it. Each count is held at the noisy one
// it is part of (surveys >= sent >= reached >= answered >= a question's respondents), never at a
// true one: a count clamped to the true figure above it would show that figure.
//
// A question's mean and 8-10 share are of its respondents shown: its sums are the true ones
// scaled to that number (the true mean and share, as if from n), then moved by their own noise,
// so the count's noise does not move the mean (a mean of 9 from 21 answers read as 9/23 more
// when the count drew +2) and the mean moves by at most MeanWithin(n). Its spread is the true
// one, plus noise of one answer's square (0..100 on the sum of squared distances from the mean)
// that only widens it: a spread shown exactly would let two overlapping selections give one
// person's distance from the mean away, and a spread shown narrower than the true one an
// interval narrower than the answers allow. The interval shown (Figures) widens it further by
// what the noise may have done to the count and the mean.
//
// Cells that show nothing (`hidden`) are left as they are: most of a fine breakdown's cells are
// (an officer's days), and each costs a keyed hash.
void AddNoise(store::StatsResult& result, int min_cell_size, const stats::FigureNoise& noise,
              const std::function<bool(std::size_t)>& hidden) {
  if (!noise.on()) return;
  auto count = [min_cell_size](std::int64_t value, int delta) {
    return stats::NoisyCount(value, delta, min_cell_size);
  };
  std::string content;
  for (std::size_t c = 0; c < result.cells.size(); ++c) {
    if (hidden(c)) continue;
    store::StatsCell& cell = result.cells[c];
    content = std::to_string(cell.surveys) + ',' + std::to_string(cell.sent) + ',' +
              std::to_string(cell.reached) + ',' + std::to_string(cell.answered);
    // A question nobody answered in the cell is left out, as the raw tables leave it: the rollups
    // keep a row for a question whose one score was taken back (0 respondents), and with it in
    // the key the same people drew other noise from the rollups than from the raw tables (two
    // draws to average).
    for (const auto& [key, sums] : cell.questions) {
      if (sums.respondents == 0) continue;
      content += ';' + key + ':' + std::to_string(sums.respondents) + ',' +
                 std::to_string(sums.total) + ',' + std::to_string(sums.top_box) + ',' +
                 std::to_string(sums.squares);
    }
    auto draws = noise.For(content);
    cell.answered = count(cell.answered, draws.Count());
    cell.reached = count(cell.reached, draws.Count());
    cell.sent = count(cell.sent, draws.Count());
    cell.surveys = count(cell.surveys, draws.Count());
    // Drawn apart, they could read more texts sent than surveys, or a rate above 100%.
    cell.sent = std::min(cell.sent, cell.surveys);
    cell.reached = std::min(cell.reached, cell.sent);
    cell.answered = std::min(cell.answered, cell.reached);
    for (auto& [key, sums] : cell.questions) {
      if (sums.respondents == 0) continue;  // nothing to hide, and no draw (see the key)
      const auto was = static_cast<double>(sums.respondents);
      const double spread = sums.respondents > 1
                                ? std::max(0.0, static_cast<double>(sums.squares) -
                                                    static_cast<double>(sums.total) *
                                                        static_cast<double>(sums.total) / was) /
                                      (was - 1)
                                : 0.0;
      // Every respondent to a question answered the survey (q3 and q5 are answered whenever it
      // is): never more of them shown than answered.
      const std::int64_t n = std::min(count(sums.respondents, draws.Count()), cell.answered);
      const int top_box_noise = draws.Count();
      const int total_noise = draws.Sum();
      const int spread_noise = draws.Sum() + stats::FigureNoise::kSumWithin;  // 0..20
      if (n == 0) {
        sums = {};
        continue;
      }
      const double scale = static_cast<double>(n) / was;
      sums.respondents = n;
      sums.top_box = std::clamp<std::int64_t>(
          std::llround(static_cast<double>(sums.top_box) * scale) + top_box_noise, 0, n);
      sums.total = std::clamp<std::int64_t>(
          std::llround(static_cast<double>(sums.total) * scale) + total_noise, 0, 10 * n);
      // The sum of squares that gives the spread wanted with the mean shown, rounded up so that
      // the spread read back from it is never below it.
      const double spread_shown =
          n > 1 ? spread + 5.0 * spread_noise / static_cast<double>(n - 1) : 0.0;
      sums.squares = static_cast<std::int64_t>(
          std::ceil(spread_shown * static_cast<double>(n - 1) +
                    static_cast<double>(sums.total) * static_cast<double>(sums.total) /
                        static_cast<double>(n)));
    }
  }
}

// Says on the answer whether its counts carry noise, for a CSV too (which has no room for it).
http::Response Disclosed(http::Response response, const stats::FigureNoise& noise) {
  response.Set("X-Figures", noise.on() ? "noise" : "exact");
  return response;
}

// What was done to the figures, for the reader (the dashboard shows `note`).
json FiguresDisclosure(int min_cell_size, bool noise) {
  // A minimum of 1 hides nothing (a force's demo, or a test system): said as such.
  std::string note = min_cell_size <= 1
                         ? "Every cell is shown: no minimum number of respondents is set "
                           "(api.min_cell_size)."
                         : "Fewer than " + std::to_string(min_cell_size) +
                               " respondents: not shown, nor the figures beside them that a "
                               "total would give them away by.";
  if (noise) {
    note += " Counts are within " + std::to_string(stats::FigureNoise::kCountWithin) +
            " of the true ones, and a mean within " +
            std::to_string(stats::FigureNoise::kSumWithin) +
            ".5 divided by its respondents, its interval widened to hold the true mean (the same "
            "for the same people however asked), so that overlapping selections cannot be "
            "subtracted to show a few people's answers: totals need not add up exactly.";
  }
  json out = {{"min_cell_size", min_cell_size}, {"noise", noise}};
  if (noise) {
    out["count_within"] = stats::FigureNoise::kCountWithin;
    out["score_sum_within"] = stats::FigureNoise::kSumWithin;
  }
  out["note"] = note;
  return out;
}

// The figures of one question in one cell; null when suppressed. With noise (AddNoise), the
// mean's interval allows for it: as wide as the true figures' could be (the respondents shown
// may stand for FigureNoise::kCountWithin fewer), and as far again as the mean may have moved, so
// that it holds the true mean and its interval. Without, a mean whose answers are all the same
// has no spread, and its interval is the mean itself.
struct QuestionFigures {
  bool suppressed = true;
  std::optional<double> respondents, mean, mean_low, mean_high, pct, low, high;
};
QuestionFigures Figures(const store::ScoreSums& sums, bool suppressed, bool noisy) {
  QuestionFigures f;
  if (suppressed) return f;
  f.suppressed = false;
  f.respondents = static_cast<double>(sums.respondents);
  f.mean = Round(static_cast<double>(sums.total) / static_cast<double>(sums.respondents), 2);
  const auto [mean_low, mean_high] =
      noisy ? stats::MeanIntervalWithin(sums.respondents, sums.total, sums.squares,
                                        sums.respondents - stats::FigureNoise::kCountWithin,
                                        MeanWithin(sums.respondents), 0, 10)
            : stats::MeanInterval(sums.respondents, sums.total, sums.squares, 0, 10);
  f.mean_low = Round(mean_low, 2);
  f.mean_high = Round(mean_high, 2);
  const Share share =
      Percent(sums.top_box, sums.respondents,
              noisy ? std::optional(ShareOfRespondentsWithin(sums.top_box, sums.respondents))
                    : std::nullopt);
  f.pct = share.pct;
  f.low = share.low;
  f.high = share.high;
  return f;
}

struct CellFigures {
  bool suppressed = true;
  std::optional<double> surveys, sent, reached, answered, rate, rate_low, rate_high;
};
CellFigures Figures(const store::StatsCell& cell, bool suppressed, bool noisy) {
  CellFigures f;
  if (suppressed) return f;
  f.suppressed = false;
  f.surveys = static_cast<double>(cell.surveys);
  f.sent = static_cast<double>(cell.sent);
  // Reached is decided per text by the store (a text replied to counts, whatever the gateway
  // reported of it), so answered never passes it.
  f.reached = static_cast<double>(cell.reached);
  f.answered = static_cast<double>(cell.answered);
  const Share rate =
      Percent(cell.answered, cell.reached,
              noisy ? std::optional(RateWithin(cell.answered, cell.reached)) : std::nullopt);
  f.rate = rate.pct;
  f.rate_low = rate.low;
  f.rate_high = rate.high;
  return f;
}

// The JSON of a breakdown, appended to one buffer: a breakdown can run to thousands of cells, and
// building a tree of them first (or a temporary string per field) costs more than the query.
class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}

  void Raw(std::string_view text) { out_.append(text); }

  // A string; the rare one outside ASCII goes through the library, which checks its UTF-8.
  void String(std::string_view text) {
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
      return c >= 0x20 && c != '"' && c != '\\' && static_cast<unsigned char>(c) < 0x80;
    });
    if (!plain) {
      out_ += json(text).dump();
      return;
    }
    out_ += '"';
    out_.append(text);
    out_ += '"';
  }

  // The shortest text that reads back as the same double; null when absent.
  void Number(const std::optional<double>& value) {
    if (!value) {
      out_.append("null");
      return;
    }
    char buffer[32];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, *value).ptr;
    out_.append(buffer, end);
  }

  // [low, high] when there is a figure, else null.
  void Pair(const std::optional<double>& figure, const std::optional<double>& low,
            const std::optional<double>& high) {
    if (!figure) {
      out_.append("null");
      return;
    }
    out_ += '[';
    Number(low);
    out_ += ',';
    Number(high);
    out_ += ']';
  }

  void Bool(bool value) { out_.append(value ? "true" : "false"); }

 private:
  std::string& out_;
};

std::optional<std::string> Text(const std::optional<double>& value) {
  return value ? std::optional<std::string>(Number(*value)) : std::nullopt;
}

http::Response HandleStats(const ApiOptions& options, const Call& call) {
  std::vector<std::string_view> allowed = kFilterParameters;
  allowed.insert(allowed.end(), {"group_by", "format"});
  Query query;
  if (auto error = ParseQuery(call, allowed, query)) return *error;
  return RunAnalytics(options, [&] {
    auto result = options.analytics->Stats(query.filter, query.group_by);
    std::vector<Dimension> keys;
    for (Dimension d : query.group_by) {
      if (d != Dimension::kQuestion) keys.push_back(d);
    }
    const bool by_question = std::find(query.group_by.begin(), query.group_by.end(),
                                       Dimension::kQuestion) != query.group_by.end();
    const auto questions = QuestionKeys(options, result);
    const int min = options.min_cell_size;
    const stats::Suppression hidden = Suppress(result, keys.size(), questions, min);
    const stats::FigureNoise noise(options.figures_noise_key);
    AddNoise(result, min, noise, [&](std::size_t c) { return hidden.Cell(c); });

    // Question k of cell i, as shown.
    auto question_figures = [&](std::size_t i, std::size_t k) {
      const auto& sums = result.cells[i].questions;
      const auto it = sums.find(questions[k]);
      return Figures(it == sums.end() ? store::ScoreSums{} : it->second, hidden.Question(i, k),
                     noise.on());
    };
    if (query.csv) {
      CsvTable csv;
      for (Dimension d : keys) csv.header.emplace_back(store::DimensionName(d));
      if (by_question) csv.header.emplace_back("question");
      for (const char* name : {"surveys", "sent", "reached", "answered", "response_rate_pct",
                               "response_rate_ci_low", "response_rate_ci_high", "suppressed"}) {
        csv.header.emplace_back(name);
      }
      auto question_columns = [&](const std::string& prefix) {
        for (const char* name : {"respondents", "mean", "mean_ci_low", "mean_ci_high", "pct_8_10",
                                 "pct_8_10_ci_low", "pct_8_10_ci_high", "suppressed"}) {
          csv.header.push_back(prefix + name);
        }
      };
      if (by_question) {
        question_columns("question_");
      } else {
        for (const auto& q : questions) question_columns(q + "_");
      }
      auto question_values = [](const QuestionFigures& q) {
        return std::vector<std::optional<std::string>>{
            Text(q.respondents), Text(q.mean), Text(q.mean_low), Text(q.mean_high),
            Text(q.pct),         Text(q.low),  Text(q.high),     q.suppressed ? "true" : "false"};
      };
      for (std::size_t c = 0; c < result.cells.size(); ++c) {
        const store::StatsCell& cell = result.cells[c];
        const CellFigures f = Figures(cell, hidden.Cell(c), noise.on());
        std::vector<std::optional<std::string>> row;
        for (std::size_t i = 0; i < keys.size(); ++i) {
          row.push_back(i < cell.keys.size() ? cell.keys[i] : std::nullopt);
        }
        const std::vector<std::optional<std::string>> cell_columns = {
            Text(f.surveys), Text(f.sent),     Text(f.reached),   Text(f.answered),
            Text(f.rate),    Text(f.rate_low), Text(f.rate_high), f.suppressed ? "true" : "false"};
        if (by_question) {
          for (std::size_t k = 0; k < questions.size(); ++k) {
            auto line = row;
            line.emplace_back(questions[k]);
            line.insert(line.end(), cell_columns.begin(), cell_columns.end());
            const auto values = question_values(question_figures(c, k));
            line.insert(line.end(), values.begin(), values.end());
            csv.rows.push_back(std::move(line));
          }
        } else {
          auto line = row;
          line.insert(line.end(), cell_columns.begin(), cell_columns.end());
          for (std::size_t k = 0; k < questions.size(); ++k) {
            const auto values = question_values(question_figures(c, k));
            line.insert(line.end(), values.begin(), values.end());
          }
          csv.rows.push_back(std::move(line));
        }
      }
      return Disclosed(CsvResponse(csv, "stats"), noise);
    }

    json group_by = json::array();
    for (Dimension d : query.group_by) group_by.push_back(store::DimensionName(d));
    const json question_list = QuestionList(options, questions);
    json survey_groups = json::array();
    if (options.survey_group_names) {
      for (const auto& [id, name] : options.survey_group_names()) {
        survey_groups.push_back({{"id", id}, {"name", name}});
      }
    }
    const json head = {{"group_by", group_by},
                       {"min_cell_size", min},
                       {"disclosure", FiguresDisclosure(min, noise.on())},
                       {"source", result.from_rollups ? "rollups" : "raw"},
                       {"questions", question_list},
                       {"survey_groups", std::move(survey_groups)}};
    std::string body = head.dump();
    body.pop_back();  // the closing brace: the cells follow
    // About 600 bytes a cell with its questions: one allocation for most answers.
    body.reserve(body.size() + 64 + result.cells.size() * (200 + 110 * questions.size()));
    JsonOut out(body);
    // Names written once, escaped, with their colons.
    std::vector<std::string> key_names, question_names;
    for (Dimension d : keys) key_names.push_back(json(store::DimensionName(d)).dump() + ":");
    for (const auto& key : questions) question_names.push_back(json(key).dump() + ":");

    auto cell_fields = [&](const CellFigures& f) {
      out.Raw("\"surveys\":");
      out.Number(f.surveys);
      out.Raw(",\"sent\":");
      out.Number(f.sent);
      out.Raw(",\"reached\":");
      out.Number(f.reached);
      out.Raw(",\"answered\":");
      out.Number(f.answered);
      out.Raw(",\"response_rate_pct\":");
      out.Number(f.rate);
      out.Raw(",\"response_rate_ci95\":");
      out.Pair(f.rate, f.rate_low, f.rate_high);
    };
    auto question_fields = [&](const QuestionFigures& q) {
      out.Raw("\"respondents\":");
      out.Number(q.respondents);
      out.Raw(",\"mean\":");
      out.Number(q.mean);
      out.Raw(",\"mean_ci95\":");
      out.Pair(q.mean, q.mean_low, q.mean_high);
      out.Raw(",\"pct_8_10\":");
      out.Number(q.pct);
      out.Raw(",\"pct_8_10_ci95\":");
      out.Pair(q.pct, q.low, q.high);
    };
    auto cell_keys = [&](const store::StatsCell& cell) {
      out.Raw("{");
      for (std::size_t i = 0; i < keys.size(); ++i) {
        out.Raw(key_names[i]);
        if (i < cell.keys.size() && cell.keys[i]) {
          out.String(*cell.keys[i]);
        } else {
          out.Raw("null");
        }
        out.Raw(",");
      }
    };
    // What follows a row's keys (and question): its figures and flags.
    auto question_row_rest = [&](const CellFigures& f, const QuestionFigures& q) {
      cell_fields(f);
      out.Raw(",");
      question_fields(q);
      out.Raw(",\"suppressed\":");
      out.Bool(f.suppressed || q.suppressed);
      out.Raw("}");
    };
    // Cell c's figures (c is not read when they are suppressed).
    auto cell_rest = [&](std::size_t c, const CellFigures& f) {
      cell_fields(f);
      out.Raw(",\"suppressed\":");
      out.Bool(f.suppressed);
      out.Raw(",\"questions\":{");
      for (std::size_t k = 0; k < questions.size(); ++k) {
        const QuestionFigures q = f.suppressed ? QuestionFigures{} : question_figures(c, k);
        if (k) out.Raw(",");
        out.Raw(question_names[k]);
        out.Raw("{");
        question_fields(q);
        out.Raw(",\"suppressed\":");
        out.Bool(q.suppressed);
        out.Raw("}");
      }
      out.Raw("}}");
    };
    // A suppressed cell reads the same after its keys, whatever it counted (every figure null):
    // written once and copied, since most cells of a fine breakdown (an officer's days) are.
    const std::string suppressed_rest = [&] {
      const std::size_t mark = body.size();
      if (by_question) {
        question_row_rest(CellFigures{}, QuestionFigures{});
      } else {
        cell_rest(0, CellFigures{});
      }
      std::string rest = body.substr(mark);
      body.resize(mark);
      return rest;
    }();
    out.Raw(",\"cells\":[");
    std::size_t rows = 0;
    for (std::size_t c = 0; c < result.cells.size(); ++c) {
      const store::StatsCell& cell = result.cells[c];
      const CellFigures f = Figures(cell, hidden.Cell(c), noise.on());
      if (by_question) {
        for (std::size_t k = 0; k < questions.size(); ++k) {
          if (rows++) out.Raw(",");
          cell_keys(cell);
          out.Raw("\"question\":");
          out.String(questions[k]);
          out.Raw(",");
          if (f.suppressed) {
            out.Raw(suppressed_rest);
          } else {
            question_row_rest(f, question_figures(c, k));
          }
        }
      } else {
        if (rows++) out.Raw(",");
        cell_keys(cell);
        if (f.suppressed) {
          out.Raw(suppressed_rest);
        } else {
          cell_rest(c, f);
        }
      }
    }
    out.Raw("]}");
    return Disclosed(JsonTable(body, rows), noise);
  });
}

// What the funnel's breakdowns by reason read as for a reader. Small counts of a reason could say
// what someone's contact concerned ("excluded: sexual offence, 1"): hidden, unless the reader
// runs the service (ops, and admins), who has the same counts exact already (the decisions by
// rule in /metrics, a cancelled survey's reason in GET /api/v1/surveys/{id}) and needs them (a
// rule that suddenly excludes everyone). The counts shown carry noise (stats::AddReasonNoise), so
// that two funnels a day apart do not tell by subtraction what that day's contacts concerned.
// The counts of the stages stay exact for everyone: they count lines, messages and texts, and
// say nothing of what a contact concerned. Beside noisy reasons, a group's exact `excluded` less
// the reasons shown is what it hides give or take the noise, no closer than before; and where a
// group shows one reason and hides none (its exclusions all of one reason), that reason's count
// is its `excluded`, exact: a count of at least the minimum, which the stage tells already.
// Noise on `excluded` would not take that back (`received` is what the lines decided each way
// add up to: it comes back out of the others, unless every stage carried noise), and noise on
// the stages would cost analysts the counts they check the service by.
constexpr const char* kOtherReasons = "(other)";

stats::ReasonBreakdown ExactReasons(std::span<const std::map<std::string, std::int64_t>> rows) {
  stats::ReasonBreakdown out;
  std::set<std::string> names;
  for (const auto& row : rows) {
    for (const auto& [reason, count] : row) names.insert(reason);
  }
  out.reasons.assign(names.begin(), names.end());
  out.counts.assign((rows.size() + 1) * out.reasons.size(), std::int64_t{0});
  for (std::size_t c = 0; c < out.reasons.size(); ++c) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const auto it = rows[r].find(out.reasons[c]);
      if (it == rows[r].end()) continue;
      *out.counts[r * out.reasons.size() + c] = it->second;
      *out.counts[rows.size() * out.reasons.size() + c] += it->second;
    }
  }
  return out;
}

// What was done to the funnel's figures, for the reader (the dashboard shows `note`).
json FunnelDisclosure(bool exact, int min_cell_size, bool noise) {
  if (exact) {
    return {{"reasons", "exact"},
            {"noise", false},
            {"note", "Exact counts, for those who run the service."}};
  }
  const std::string min = std::to_string(std::max(1, min_cell_size));
  std::string note = "Reasons for fewer than " + min +
                     " contacts are not shown (null), nor others beside them that the totals "
                     "would give them away by; reasons fewer than " +
                     min +
                     " in all are not named but counted together as other reasons, with the "
                     "least common others while they add up to fewer.";
  json out = {{"reasons", "suppressed"},
              {"min_cell_size", min_cell_size},
              {"other", kOtherReasons},
              {"noise", noise}};
  if (noise) {
    out["count_within"] = stats::FigureNoise::kCountWithin;
    note += " The reasons' counts are within " + std::to_string(stats::FigureNoise::kCountWithin) +
            " of the true ones (the same for the same contacts however asked), so that two "
            "funnels a day apart cannot be subtracted to tell what a contact concerned: they "
            "need not add up exactly to the excluded and cancelled counts.";
  }
  out["note"] = note;
  return out;
}

http::Response HandleFunnel(const ApiOptions& options, const Call& call) {
  Query query;
  if (auto error = ParseQuery(call, {"from", "to", "survey_group", "format"}, query)) return *error;
  if (query.filter.from) return BadParameter("from", "the funnel is kept per day: give a date");
  if (query.filter.to) return BadParameter("to", "the funnel is kept per day: give a date");
  const bool exact = call.principal != nullptr && Grants(call.principal->role, Role::kOps);
  const stats::FigureNoise noise(exact ? std::string() : options.figures_noise_key);
  return RunAnalytics(options, [&] {
    auto rows = options.analytics->Funnel(query.filter);
    store::FunnelRow total;
    std::vector<std::map<std::string, std::int64_t>> by_rule, by_reason;
    std::vector<std::string> groups_named;
    for (const auto& r : rows) {
      total.received += r.received, total.rejected += r.rejected;
      total.duplicates += r.duplicates, total.ignored += r.ignored, total.excluded += r.excluded;
      total.undecided += r.undecided, total.deferred += r.deferred, total.surveys += r.surveys;
      total.waiting += r.waiting, total.sent += r.sent, total.delivered += r.delivered;
      total.failed += r.failed, total.expired_unsent += r.expired_unsent;
      total.cancelled += r.cancelled, total.opened += r.opened, total.answered += r.answered;
      total.expired += r.expired, total.opted_out += r.opted_out;
      by_rule.push_back(r.excluded_by_rule);
      by_reason.push_back(r.cancelled_by_reason);
      groups_named.push_back(r.group);
    }
    auto shown = [&](const auto& maps, std::string_view breakdown) {
      if (exact) return ExactReasons(maps);
      auto out = stats::SuppressSmallReasons(maps, kOtherReasons, options.min_cell_size);
      stats::AddReasonNoise(out, maps, groups_named, breakdown, noise, options.min_cell_size);
      return out;
    };
    const stats::ReasonBreakdown rules = shown(by_rule, "excluded");
    const stats::ReasonBreakdown reasons = shown(by_reason, "cancelled");
    auto counts = [](const store::FunnelRow& r) {
      return std::vector<std::pair<const char*, std::int64_t>>{{"received", r.received},
                                                               {"rejected", r.rejected},
                                                               {"duplicates", r.duplicates},
                                                               {"ignored", r.ignored},
                                                               {"excluded", r.excluded},
                                                               {"undecided", r.undecided},
                                                               {"deferred", r.deferred},
                                                               {"surveys", r.surveys},
                                                               {"cancelled", r.cancelled},
                                                               {"waiting", r.waiting},
                                                               {"sent", r.sent},
                                                               {"delivered", r.delivered},
                                                               {"failed", r.failed},
                                                               {"expired_unsent", r.expired_unsent},
                                                               {"opened", r.opened},
                                                               {"answered", r.answered},
                                                               {"expired", r.expired},
                                                               {"opted_out", r.opted_out}};
    };
    // Row `row` of a breakdown by reason: every reason, null when hidden; exact, those it has.
    auto reason_json = [&](const stats::ReasonBreakdown& breakdown, std::size_t row) {
      json out = json::object();
      for (std::size_t c = 0; c < breakdown.reasons.size(); ++c) {
        const auto& count = breakdown.At(row, c);
        if (exact && count == 0) continue;
        out[breakdown.reasons[c]] = count ? json(*count) : json(nullptr);
      }
      return out;
    };
    auto to_json = [&](const store::FunnelRow& r, std::size_t row, json group) {
      json out = {{"survey_group", std::move(group)}};
      for (const auto& [name, value] : counts(r)) out[name] = value;
      out["excluded_by_rule"] = reason_json(rules, row);
      out["cancelled_by_reason"] = reason_json(reasons, row);
      return out;
    };
    if (query.csv) {
      CsvTable csv;
      csv.header.emplace_back("survey_group");
      for (const auto& [name, value] : counts(total)) csv.header.emplace_back(name);
      for (const auto& rule : rules.reasons) csv.header.push_back("excluded:" + rule);
      for (const auto& reason : reasons.reasons) csv.header.push_back("cancelled:" + reason);
      auto line = [&](const store::FunnelRow& r, std::size_t row, std::string group) {
        std::vector<std::optional<std::string>> out = {std::move(group)};
        for (const auto& [name, value] : counts(r)) out.push_back(std::to_string(value));
        for (const auto* breakdown : {&rules, &reasons}) {
          for (std::size_t c = 0; c < breakdown->reasons.size(); ++c) {
            const auto& count = breakdown->At(row, c);
            out.push_back(count ? std::optional<std::string>(std::to_string(*count))
                                : std::nullopt);
          }
        }
        return out;
      };
      for (std::size_t i = 0; i < rows.size(); ++i) {
        csv.rows.push_back(line(rows[i], i, rows[i].group.empty() ? "(none)" : rows[i].group));
      }
      csv.rows.push_back(line(total, rows.size(), "(total)"));
      return Disclosed(CsvResponse(csv, "funnel"), noise);
    }
    json groups = json::array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      groups.push_back(
          to_json(rows[i], i, rows[i].group.empty() ? json(nullptr) : json(rows[i].group)));
    }
    json body = {{"from", query.filter.from_day ? json(*query.filter.from_day) : json(nullptr)},
                 {"to", query.filter.to_day ? json(*query.filter.to_day) : json(nullptr)},
                 {"groups", std::move(groups)},
                 {"total", to_json(total, rows.size(), nullptr)},
                 {"disclosure", FunnelDisclosure(exact, options.min_cell_size, noise.on())}};
    return Disclosed(JsonTable(body.dump(), rows.size()), noise);
  });
}

http::Response HandleRepresentativeness(const ApiOptions& options, const Call& call) {
  std::vector<std::string_view> allowed = kFilterParameters;
  allowed.insert(allowed.end(), {"dimension", "format"});
  Query query;
  if (auto error = ParseQuery(call, allowed, query)) return *error;
  if (!query.dimension) return BadParameter("dimension", "is required");
  return RunAnalytics(options, [&] {
    auto result = options.analytics->Stats(query.filter, {*query.dimension});
    // Who was asked: the texts that went, not the surveys decided (one cancelled or expired
    // before it left asked nobody, and numbers that cannot take a text are not spread evenly).
    const int min = std::max(1, options.min_cell_size);
    std::int64_t all_answered = 0;
    for (const auto& cell : result.cells) all_answered += cell.answered;
    const bool total_suppressed = all_answered < min;
    // Who answered is hidden as /api/v1/stats by this dimension hides it, a small count with
    // whatever the total (/api/v1/stats for everyone) would give it away by: shown here, such a
    // count would undo that. Who was asked is hidden the same way, by its own counts.
    const stats::Suppression hidden_answers = Suppress(result, 1, {}, min);
    const stats::Suppression hidden_asked = Suppress(result, 1, {}, min, &store::StatsCell::sent);
    const stats::FigureNoise noise(options.figures_noise_key);
    AddNoise(result, min, noise, [&](std::size_t c) {
      return (total_suppressed || hidden_answers.Cell(c)) && hidden_asked.Cell(c);
    });
    // The totals, and the shares of them, are of the counts shown: with the whole in the same
    // answer, a hidden count would be the whole less the others.
    std::int64_t surveyed = 0;
    std::int64_t answered = 0;
    for (std::size_t c = 0; c < result.cells.size(); ++c) {
      if (!hidden_asked.Cell(c)) surveyed += result.cells[c].sent;
      if (!total_suppressed && !hidden_answers.Cell(c)) answered += result.cells[c].answered;
    }
    const char* name = store::DimensionName(*query.dimension);
    CsvTable csv;
    csv.header = {name,
                  "surveyed",
                  "share_surveyed_pct",
                  "respondents",
                  "share_respondents_pct",
                  "share_respondents_ci_low",
                  "share_respondents_ci_high",
                  "representation",
                  "suppressed"};
    json values = json::array();
    for (std::size_t c = 0; c < result.cells.size(); ++c) {
      const store::StatsCell& cell = result.cells[c];
      const bool suppressed = total_suppressed || hidden_answers.Cell(c);
      // Who was asked is shown while it is not itself a small count (or hidden beside one): a
      // group asked often and answering rarely is what this table is for, but "1 surveyed" could
      // point at someone.
      const bool few_asked = hidden_asked.Cell(c);
      const Share asked = few_asked ? Share{} : Percent(cell.sent, surveyed);
      const Share answers = suppressed ? Share{} : Percent(cell.answered, answered);
      std::optional<double> index;
      if (answers.pct && asked.pct && *asked.pct > 0) {
        index = Round(static_cast<double>(cell.answered) * static_cast<double>(surveyed) /
                          (static_cast<double>(answered) * static_cast<double>(cell.sent)),
                      2);
      }
      const auto value = cell.keys.empty() ? std::nullopt : cell.keys[0];
      const json key = value ? json(*value) : json(nullptr);
      values.push_back({{"value", key},
                        {"surveyed", few_asked ? json(nullptr) : json(cell.sent)},
                        {"share_surveyed_pct", Optional(asked.pct)},
                        {"respondents", suppressed ? json(nullptr) : json(cell.answered)},
                        {"share_respondents_pct", Optional(answers.pct)},
                        {"share_respondents_ci95",
                         answers.pct ? json{*answers.low, *answers.high} : json(nullptr)},
                        {"representation", Optional(index)},
                        {"suppressed", suppressed}});
      csv.rows.push_back(
          {value, few_asked ? std::nullopt : std::optional<std::string>(std::to_string(cell.sent)),
           Text(asked.pct),
           suppressed ? std::nullopt : std::optional<std::string>(std::to_string(cell.answered)),
           Text(answers.pct), Text(answers.low), Text(answers.high), Text(index),
           suppressed ? "true" : "false"});
    }
    if (query.csv) return Disclosed(CsvResponse(csv, "representativeness"), noise);
    json body = {{"dimension", name},
                 {"surveyed", surveyed},
                 {"respondents", total_suppressed ? json(nullptr) : json(answered)},
                 {"min_cell_size", options.min_cell_size},
                 {"disclosure", FiguresDisclosure(options.min_cell_size, noise.on())},
                 {"values", std::move(values)}};
    return Disclosed(JsonTable(body.dump(), result.cells.size()), noise);
  });
}

}  // namespace

void AddStatsRoutes(Router& router, const ApiOptions& options) {
  router.Add({"GET", "/api/v1/stats", Role::kAnalyst, "",
              [&options](const Call& call) { return HandleStats(options, call); }});
  // Ops too: the funnel is how they see that texts go out, and why not.
  router.Add({"GET",
              "/api/v1/funnel",
              Role::kAnalyst,
              "",
              [&options](const Call& call) { return HandleFunnel(options, call); },
              {Role::kOps}});
  router.Add({"GET", "/api/v1/representativeness", Role::kAnalyst, "",
              [&options](const Call& call) { return HandleRepresentativeness(options, call); }});
}

}  // namespace surveyd::api
