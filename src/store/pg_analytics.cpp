// The analytics store: its own pool (read-only connections with a statement timeout, possibly
// to a read replica), the stats from the rollups or the raw tables, the funnel, responses and
// comments with keyset pagination, and one survey's timeline.
#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "store/analytics_sql.hpp"
#include "store/pg_guard.hpp"
#include "store/pg_store_impl.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/store/pg_analytics.hpp"

namespace surveyd::store {
namespace {

using analytics::Cube;
using analytics::Sql;
using pg::Exec;
using pg::Int;
using pg::OptionalText;

// Statements come in a few dozen shapes (which filters, which breakdown): each is prepared once
// per connection, named by a hash of its text, so that it is parsed once (pqxx keeps the
// definition; registering the same one again is free).
pqxx::result Run(pqxx::transaction_base& txn, const Sql& sql) {
  const std::string name = "an_" + crypto::Sha256Hex(sql.text).substr(0, 20);
  txn.conn().prepare(name, sql.text);
  std::vector<const char*> values;
  values.reserve(sql.params.size());
  for (const auto& param : sql.params) values.push_back(param ? param->c_str() : nullptr);
  return txn.exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
}

std::optional<TimePoint> OptionalTime(const pqxx::field& field) {
  return field.is_null() ? std::nullopt
                         : std::optional<TimePoint>(pg::FromEpochMicros(field.as<std::int64_t>()));
}

std::int64_t Count(const pqxx::field& field) {
  return field.is_null() ? 0 : field.as<std::int64_t>();
}

const pg::Statements& AnalyticsStatements() {
  static const pg::Statements kStatements = {
      {"analytics_cubes",
       "SELECT id, array_to_string(dims, ','), by_month FROM analytics_cubes "
       "ORDER BY cardinality(dims), id"},
      {"timeline_survey",
       "SELECT s.id, s.event_id, e.type, e.source, s.group_id, e.decision, "
       "COALESCE(e.decision_reason, ''), COALESCE(e.decision_trace::text, '[]'), "
       "surveyd_epoch_us(s.contact_at), surveyd_epoch_us(e.received_at), "
       "surveyd_epoch_us(s.created_at), surveyd_epoch_us(s.send_at), "
       "surveyd_epoch_us(s.expires_at), surveyd_epoch_us(s.closes_at), o.state, "
       "CASE WHEN o.state = 'cancelled' THEN analytics_cancel_reason(o) END, "
       "surveyd_epoch_us(s.opened_at), surveyd_epoch_us(s.responded_at), "
       "EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone_hash = s.phone_hash), o.id "
       "FROM surveys s JOIN events e ON e.event_id = s.event_id "
       "LEFT JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' WHERE s.id = $1::bigint"},
      {"timeline_attempts",
       "SELECT attempt, surveyd_epoch_us(at), gateway, result, COALESCE(error, ''), http_status "
       "FROM send_attempts WHERE outbox_id = $1::bigint ORDER BY at, id"},
      {"timeline_reports",
       "SELECT surveyd_epoch_us(at), surveyd_epoch_us(received_at), gateway, status, "
       "COALESCE(error_code, '') FROM delivery_reports WHERE outbox_id = $1::bigint "
       "ORDER BY at, id"},
  };
  return kStatements;
}

class PgAnalyticsStore final : public AnalyticsStore {
 public:
  explicit PgAnalyticsStore(const PgAnalyticsOptions& options)
      : rollups_(options.rollups),
        pool_(options.url, options.pool_size,
              [timeout = options.statement_timeout](pqxx::connection& connection) {
                pqxx::nontransaction setup(connection);
                // Analysts only read; on the primary as on a replica.
                setup.exec("SET default_transaction_read_only = on");
                setup.exec("SET statement_timeout = " + std::to_string(timeout.count()));
                for (const auto& [name, sql] : AnalyticsStatements()) connection.prepare(name, sql);
              }) {}

  StatsResult Stats(const AnalyticsFilter& filter,
                    const std::vector<Dimension>& group_by) override {
    std::vector<Dimension> keys;
    for (Dimension d : group_by) {
      if (d != Dimension::kQuestion) keys.push_back(d);
    }
    FoldFirst();
    auto lease = pool_.Acquire();
    return pg::WithLease(lease, "stats", [&](pqxx::connection& connection) {
      const auto& cubes = Cubes(connection);
      const auto cube = analytics::ChooseCube(cubes, filter, keys);
      const auto months = cube ? analytics::MonthlyTwin(cubes, *cube, keys) : std::nullopt;
      UsePlans(lease, cube ? Plans::kGeneric : Plans::kCustom);
      // One statement (one snapshot): no transaction round trips around it.
      pqxx::nontransaction txn(connection);
      StatsResult result;
      result.from_rollups = cube.has_value();
      const int n = static_cast<int>(keys.size());
      // The statement leaves its rows unordered: they are gathered into cells here, each found
      // by its keys written out unambiguously (null, or length and bytes). An officer's year is
      // some 600 rows: each is read with one field walked along it (every row[i], and every
      // *iterator, copies the result's shared handle).
      std::unordered_map<std::string, std::size_t> index;
      std::string id;
      char length[24];
      const auto rows = Run(txn, analytics::BuildStats(cube, filter, keys, months));
      index.reserve(rows.size());
      for (const auto& row : rows) {
        id.clear();
        auto field = row.begin();
        const auto next = [&field]() -> const pqxx::field& { return ++field; };
        for (int i = 0; i < n; ++i, ++field) {
          if (field->is_null()) {
            id += "-,";
            continue;
          }
          const auto size = field->size();
          id.append(length, std::to_chars(length, length + sizeof length, size).ptr);
          id += ':';
          id.append(field->c_str(), size);
        }
        auto [it, added] = index.try_emplace(id, result.cells.size());
        if (added) {
          StatsCell cell;
          cell.keys.reserve(keys.size());
          for (auto key = row.begin(); key != field; ++key) cell.keys.push_back(OptionalText(key));
          result.cells.push_back(std::move(cell));
        }
        StatsCell& cell = result.cells[it->second];
        const bool scores = !field->is_null();
        const std::string_view question(field->c_str(), scores ? field->size() : 0);
        const std::int64_t a = Count(next());
        const std::int64_t b = Count(next());
        const std::int64_t c = Count(next());
        // Added up: a statement over a daily cube's rows may give a cell a row per survey group
        // (analytics_sql.cpp: RowsAreCells); the others give each one row.
        if (!scores) {
          cell.surveys += a;
          cell.sent += b;
          cell.reached += c;
          cell.answered += Count(next());
        } else {
          auto sums = cell.questions.find(question);
          if (sums == cell.questions.end()) {
            sums = cell.questions.emplace(std::string(question), ScoreSums{}).first;
          }
          sums->second.respondents += a;
          sums->second.total += b;
          sums->second.top_box += c;
          sums->second.squares += Count(next());
        }
      }
      // Ordered by their keys, bytewise (as the rollups' keys are kept), a missing value last.
      std::sort(result.cells.begin(), result.cells.end(),
                [](const StatsCell& a, const StatsCell& b) {
                  for (std::size_t i = 0; i < a.keys.size() && i < b.keys.size(); ++i) {
                    if (a.keys[i] == b.keys[i]) continue;
                    if (!a.keys[i]) return false;
                    if (!b.keys[i]) return true;
                    return *a.keys[i] < *b.keys[i];
                  }
                  return false;
                });
      return result;
    });
  }

  std::vector<FunnelRow> Funnel(const AnalyticsFilter& filter) override {
    if (filter.UsesInstants()) {
      throw std::invalid_argument("the funnel is kept per day: give dates, not times");
    }
    const auto sql = analytics::BuildFunnel(filter);
    FoldFirst();
    auto lease = pool_.Acquire();
    return pg::WithLease(lease, "funnel", [&](pqxx::connection& connection) {
      UsePlans(lease, Plans::kGeneric);
      pqxx::read_transaction txn(connection);
      std::map<std::string, FunnelRow> rows;
      auto row_for = [&](const std::string& group) -> FunnelRow& {
        FunnelRow& row = rows[group];
        row.group = group;
        return row;
      };
      for (const auto& r : Run(txn, sql.events)) {
        FunnelRow& row = row_for(r[0].as<std::string>());
        const auto outcome = r[1].as<std::string>();
        const auto reason = r[2].as<std::string>();
        const auto events = Count(r[3]);
        row.duplicates += Count(r[4]);
        row.deferred += Count(r[5]);
        row.received += events + Count(r[4]);
        if (outcome == "rejected") {
          row.rejected += events;
        } else if (outcome == "excluded") {
          row.excluded += events;
          row.excluded_by_rule[reason] += events;
        } else if (outcome == "ignored") {
          row.ignored += events;
        } else if (outcome == "undecided") {
          row.undecided += events;
        }
      }
      for (const auto& r : Run(txn, sql.cells)) {
        FunnelRow& row = row_for(r[0].as<std::string>());
        row.surveys = Count(r[1]);
        row.opened = Count(r[2]);
        row.answered = Count(r[3]);
        row.expired = Count(r[4]);
        row.waiting = Count(r[5]);
        const auto unreported = Count(r[6]);
        row.delivered = Count(r[7]);
        const auto failed_sent = Count(r[8]);
        row.sent = unreported + row.delivered + failed_sent;
        row.failed = failed_sent + Count(r[9]);
        row.expired_unsent = Count(r[10]);
        row.cancelled = Count(r[11]);
        row.opted_out = Count(r[12]);
      }
      for (const auto& r : Run(txn, sql.cancellations)) {
        row_for(r[0].as<std::string>()).cancelled_by_reason[r[1].as<std::string>()] = Count(r[2]);
      }
      std::vector<FunnelRow> out;
      for (auto& [group, row] : rows) out.push_back(std::move(row));
      return out;
    });
  }

  ResponsePage Responses(const ResponseQuery& query) override {
    const auto sql = analytics::BuildResponses(query);
    auto lease = pool_.Acquire();
    return pg::WithLease(lease, "responses", [&](pqxx::connection& connection) {
      // One statement (one snapshot), planned for its values: it reads the raw tables.
      UsePlans(lease, Plans::kCustom);
      pqxx::nontransaction txn(connection);
      ResponsePage page;
      std::vector<Dimension> context;
      for (Dimension d : AllDimensions()) {
        if (IsFilter(d)) context.push_back(d);
      }
      for (const auto& row : Run(txn, sql)) {
        if (static_cast<int>(page.records.size()) == query.limit) {
          page.next_after = {page.records.back().submitted_at, page.records.back().survey_id};
          break;
        }
        ResponseRecord record;
        record.survey_id = row[0].as<std::int64_t>();
        record.contact_day = row[1].as<std::string>();
        record.contact_hour = row[2].as<std::string>();
        record.submitted_at = pg::FromEpochMicros(row[3].as<std::int64_t>());
        int column = 4;
        for (Dimension d : context) record.context.emplace_back(d, OptionalText(row[column++]));
        for (auto& q : record.q) {
          if (!row[column].is_null()) q = row[column].as<int>();
          ++column;
        }
        record.comment = row[column].as<std::string>();
        page.records.push_back(std::move(record));
      }
      return page;
    });
  }

  std::optional<SurveyTimeline> Timeline(std::int64_t survey_id) override {
    return pg::WithPooledConnection(pool_, "timeline", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      auto rows = Exec(txn, "timeline_survey", {Int(survey_id)});
      if (rows.empty()) return std::optional<SurveyTimeline>();
      const auto& r = rows[0];
      SurveyTimeline t;
      t.survey_id = r[0].as<std::int64_t>();
      t.event_id = r[1].as<std::string>();
      t.event_type = r[2].as<std::string>();
      t.source = r[3].as<std::string>();
      t.group = r[4].as<std::string>();
      t.decision = r[5].is_null() ? "" : r[5].as<std::string>();
      t.reason = r[6].as<std::string>();
      t.decision_trace = r[7].as<std::string>();
      t.contact_at = pg::FromEpochMicros(r[8].as<std::int64_t>());
      t.received_at = pg::FromEpochMicros(r[9].as<std::int64_t>());
      t.created_at = pg::FromEpochMicros(r[10].as<std::int64_t>());
      t.send_at = pg::FromEpochMicros(r[11].as<std::int64_t>());
      t.expires_at = pg::FromEpochMicros(r[12].as<std::int64_t>());
      t.closes_at = pg::FromEpochMicros(r[13].as<std::int64_t>());
      t.message_state = r[14].is_null() ? "" : r[14].as<std::string>();
      t.cancel_reason = OptionalText(r[15]);
      t.opened_at = OptionalTime(r[16]);
      t.responded_at = OptionalTime(r[17]);
      t.opted_out = r[18].as<bool>();
      if (!r[19].is_null()) {
        const auto outbox_id = r[19].as<std::int64_t>();
        for (const auto& a : Exec(txn, "timeline_attempts", {Int(outbox_id)})) {
          SurveyTimeline::Attempt attempt;
          attempt.attempt = a[0].as<int>();
          attempt.at = pg::FromEpochMicros(a[1].as<std::int64_t>());
          attempt.gateway = a[2].as<std::string>();
          attempt.result = a[3].as<std::string>();
          attempt.error = a[4].as<std::string>();
          if (!a[5].is_null()) attempt.http_status = a[5].as<int>();
          t.attempts.push_back(std::move(attempt));
        }
        for (const auto& d : Exec(txn, "timeline_reports", {Int(outbox_id)})) {
          SurveyTimeline::Report report;
          report.at = pg::FromEpochMicros(d[0].as<std::int64_t>());
          report.received_at = pg::FromEpochMicros(d[1].as<std::int64_t>());
          report.gateway = d[2].as<std::string>();
          report.status = d[3].as<std::string>();
          report.error_code = d[4].as<std::string>();
          t.reports.push_back(std::move(report));
        }
      }
      return std::optional<SurveyTimeline>(std::move(t));
    });
  }

 private:
  // How a read's statements are planned. The rollups are read through their keys whatever the
  // values: one plan, made once per connection, serves every call (planning each call cost more
  // than its execution). The raw tables are planned for each call's values: the best way through
  // them depends on the period and the filters. The setting stays with the connection's session,
  // so it is sent only when a read wants the other one. Outside any transaction: one that
  // rolled back would undo it.
  enum class Plans { kGeneric, kCustom };
  static void UsePlans(ConnectionPool::Lease& lease, Plans plans) {
    const std::string_view mode =
        plans == Plans::kGeneric ? "force_generic_plan" : "force_custom_plan";
    if (lease.session() == mode) return;
    lease.session().clear();  // unknown until the setting is known to have taken
    pqxx::nontransaction(lease.connection()).exec0("SET plan_cache_mode = " + std::string(mode));
    lease.session() = mode;
  }

  // The cube catalogue, read once: it changes only with a migration (and a restart).
  const std::vector<Cube>& Cubes(pqxx::connection& connection) {
    std::lock_guard lock(cubes_mutex_);
    if (!cubes_) {
      pqxx::nontransaction txn(connection);
      std::vector<Cube> cubes;
      for (const auto& row : Exec(txn, "analytics_cubes", {})) {
        Cube cube;
        cube.id = row[0].as<int>();
        cube.by_month = row[2].as<bool>();
        const auto dims = row[1].as<std::string>();
        std::size_t start = 0;
        while (start < dims.size()) {
          const auto comma = dims.find(',', start);
          const auto end = comma == std::string::npos ? dims.size() : comma;
          cube.dims.push_back(dims.substr(start, end - start));
          start = end + 1;
        }
        cubes.push_back(std::move(cube));
      }
      cubes_ = std::move(cubes);
    }
    return *cubes_;
  }

  // Figures a moment stale are better than none: a fold that fails (the primary down while a
  // replica answers) is said, and the rollups are read as they are.
  void FoldFirst() {
    if (rollups_ == nullptr) return;
    try {
      rollups_->FoldRollups();
    } catch (const std::exception& e) {
      spdlog::warn("analytics: folding the queued changes before a read failed: {}", e.what());
    }
  }

  RollupSweeper* const rollups_;
  ConnectionPool pool_;
  std::mutex cubes_mutex_;
  std::optional<std::vector<Cube>> cubes_;
};

}  // namespace

std::unique_ptr<AnalyticsStore> MakePgAnalyticsStore(const PgAnalyticsOptions& options) {
  return std::make_unique<PgAnalyticsStore>(options);
}

}  // namespace surveyd::store
