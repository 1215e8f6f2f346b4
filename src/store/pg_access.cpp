// The access store, on the primary: API tokens (only their hashes), the audit trail of API calls
// and the sweeper that counts surveys closing unanswered into the rollups.
#include "store/pg_guard.hpp"
#include "store/pg_store_impl.hpp"
#include "surveyd/store/pg_analytics.hpp"

namespace surveyd::store {
namespace {

using pg::Exec;
using pg::Int;
using pg::Param;
using pg::Text;
using pg::Time;

const pg::Statements& AccessStatements() {
  static const pg::Statements kStatements = {
      {"token_insert",
       "INSERT INTO api_tokens (id, name, role, token_hash, created_at, created_by) "
       "VALUES ($1, $2, $3, $4, $5::timestamptz, $6)"},
      {"token_list",
       "SELECT id, name, role, created_by, surveyd_epoch_us(created_at), "
       "surveyd_epoch_us(last_used_at), surveyd_epoch_us(revoked_at) FROM api_tokens "
       "ORDER BY created_at, id"},
      {"token_revoke",
       "UPDATE api_tokens SET revoked_at = $2::timestamptz WHERE id = $1 AND revoked_at IS NULL"},
      // One round trip per API call: the look-up, and the last use noted when it is a minute
      // old (most calls write nothing).
      {"token_find",
       "WITH touched AS (UPDATE api_tokens SET last_used_at = $2::timestamptz "
       "WHERE token_hash = $1 AND revoked_at IS NULL AND (last_used_at IS NULL "
       "OR last_used_at < $2::timestamptz - interval '1 minute')) "
       "SELECT id, name, role, created_by, surveyd_epoch_us(created_at), "
       "surveyd_epoch_us(last_used_at) FROM api_tokens "
       "WHERE token_hash = $1 AND revoked_at IS NULL"},
      {"audit_insert",
       "INSERT INTO api_audit (at, token_id, role, method, route, params, status, rows, "
       "duration_ms, subject) VALUES ($1::timestamptz, $2, $3, $4, $5, $6::text[], $7::int, "
       "$8::bigint, $9::real, $10)"},
      {"audit_recent",
       "SELECT id, surveyd_epoch_us(at), COALESCE(token_id, ''), COALESCE(role, ''), method, "
       "route, array_to_string(params, ','), status, rows, duration_ms, COALESCE(subject, '') "
       "FROM api_audit "
       "WHERE ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $1::int"},
      {"sweep", "SELECT analytics_sweep($1::timestamptz)"},
      // Batches of 5,000 changes, at most 50,000 per call: one call stays short under load.
      {"fold", "SELECT analytics_fold(5000, 10)"},
      {"fold_if_free", "SELECT analytics_fold_if_free(5000, 10)"},
  };
  return kStatements;
}

ApiToken ReadToken(const pqxx::row& row) {
  ApiToken token;
  token.id = row[0].as<std::string>();
  token.name = row[1].as<std::string>();
  token.role = row[2].as<std::string>();
  token.created_by = row[3].as<std::string>();
  token.created_at = pg::FromEpochMicros(row[4].as<std::int64_t>());
  if (!row[5].is_null()) token.last_used_at = pg::FromEpochMicros(row[5].as<std::int64_t>());
  return token;
}

void Prepare(pqxx::connection& connection) {
  for (const auto& [name, sql] : AccessStatements()) connection.prepare(name, sql);
}

class PgAccessStore final : public AccessStore {
 public:
  PgAccessStore(const std::string& url, int pool_size)
      : pool_(url, pool_size, Prepare),
        // What every API call does, the token look-up before it and the audit insert after,
        // runs on connections of its own:
        // - that do not wait for the disk at commit: a crash may lose the audit trail's last
        //   fraction of a second (never the data a call returned: that was computed first) and
        //   a token's last use. Creating and revoking tokens stay durable (pool_): a revocation
        //   must not come undone;
        // - with one plan per statement, made once per connection: both find their row through
        //   a key whatever the values. Left to choose, PostgreSQL planned the look-up afresh on
        //   every call (0.3 ms of planning for 0.15 of execution).
        calls_pool_(url, pool_size, [](pqxx::connection& connection) {
          {
            pqxx::nontransaction setup(connection);
            setup.exec0("SET synchronous_commit = off");
            setup.exec0("SET plan_cache_mode = force_generic_plan");
          }
          Prepare(connection);
        }) {}

  void CreateToken(const ApiToken& token, const std::string& token_hash) override {
    pg::WithPooledConnection(pool_, "token create", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Exec(txn, "token_insert",
           {Text(token.id), Text(token.name), Text(token.role), Text(token_hash),
            Time(token.created_at), Text(token.created_by)});
      txn.commit();
      return 0;
    });
  }

  std::vector<ApiToken> ListTokens() override {
    return pg::WithPooledConnection(pool_, "token list", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      std::vector<ApiToken> tokens;
      for (const auto& row : Exec(txn, "token_list", {})) {
        ApiToken token = ReadToken(row);
        if (!row[6].is_null()) token.revoked_at = pg::FromEpochMicros(row[6].as<std::int64_t>());
        tokens.push_back(std::move(token));
      }
      return tokens;
    });
  }

  bool RevokeToken(const std::string& id, TimePoint now) override {
    return pg::WithPooledConnection(pool_, "token revoke", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      const bool revoked = Exec(txn, "token_revoke", {Text(id), Time(now)}).affected_rows() == 1;
      txn.commit();
      return revoked;
    });
  }

  std::optional<ApiToken> FindActiveToken(const std::string& token_hash, TimePoint now) override {
    return pg::WithPooledConnection(calls_pool_, "token find", [&](pqxx::connection& connection) {
      // One statement on every API call: autocommit, one round trip.
      pqxx::nontransaction txn(connection);
      auto rows = Exec(txn, "token_find", {Text(token_hash), Time(now)});
      if (rows.empty()) return std::optional<ApiToken>();
      return std::optional<ApiToken>(ReadToken(rows[0]));
    });
  }

  void RecordCall(const AuditEntry& entry) override {
    pg::ArrayLiteral params;
    for (const auto& name : entry.params) params.Add(name);
    pg::WithPooledConnection(calls_pool_, "audit", [&](pqxx::connection& connection) {
      pqxx::nontransaction txn(connection);
      Exec(txn, "audit_insert",
           {Time(entry.at), pg::NonEmpty(entry.token_id), pg::NonEmpty(entry.role),
            Text(entry.method), Text(entry.route), params.Text(), Int(entry.status),
            entry.rows ? Int(*entry.rows) : std::nullopt, std::to_string(entry.duration_ms),
            pg::NonEmpty(entry.subject)});
      return 0;
    });
  }

  std::vector<AuditEntry> RecentCalls(int limit, std::optional<std::int64_t> before) override {
    return pg::WithPooledConnection(pool_, "audit list", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      std::vector<AuditEntry> entries;
      for (const auto& row :
           Exec(txn, "audit_recent", {Int(limit), before ? Int(*before) : std::nullopt})) {
        AuditEntry entry;
        entry.id = row[0].as<std::int64_t>();
        entry.at = pg::FromEpochMicros(row[1].as<std::int64_t>());
        entry.token_id = row[2].as<std::string>();
        entry.role = row[3].as<std::string>();
        entry.method = row[4].as<std::string>();
        entry.route = row[5].as<std::string>();
        const auto names = row[6].as<std::string>();
        for (std::size_t start = 0; start < names.size();) {
          const auto comma = names.find(',', start);
          const auto end = comma == std::string::npos ? names.size() : comma;
          entry.params.push_back(names.substr(start, end - start));
          start = end + 1;
        }
        entry.status = row[7].as<int>();
        if (!row[8].is_null()) entry.rows = row[8].as<std::int64_t>();
        entry.duration_ms = row[9].as<double>();
        entry.subject = row[10].as<std::string>();
        entries.push_back(std::move(entry));
      }
      return entries;
    });
  }

  int SweepClosedSurveys(TimePoint upto) override {
    return pg::WithPooledConnection(pool_, "sweep", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      const int counted = Exec(txn, "sweep", {Time(upto)})[0][0].as<int>();
      txn.commit();
      return counted;
    });
  }

  int FoldRollups() override {
    return pg::WithPooledConnection(pool_, "fold", [&](pqxx::connection& connection) {
      // One statement, its own transaction: one round trip instead of three, which every
      // analyst's read pays before it starts.
      pqxx::nontransaction txn(connection);
      return Exec(txn, "fold", {})[0][0].as<int>();
    });
  }

  std::optional<int> FoldRollupsIfFree() override {
    return pg::WithPooledConnection(pool_, "fold", [&](pqxx::connection& connection) {
      pqxx::nontransaction txn(connection);
      const auto folded = Exec(txn, "fold_if_free", {})[0][0];
      return folded.is_null() ? std::nullopt : std::optional<int>(folded.as<int>());
    });
  }

 private:
  ConnectionPool pool_;
  ConnectionPool calls_pool_;  // the token look-up and the audit insert of every API call
};

}  // namespace

std::unique_ptr<AccessStore> MakePgAccessStore(const std::string& url, int pool_size) {
  return std::make_unique<PgAccessStore>(url, pool_size);
}

}  // namespace surveyd::store
