// The PostgreSQL store: construction, health, and the helpers every area shares.
#include "store/pg_store_impl.hpp"

#include <algorithm>
#include <tuple>

namespace surveyd::store {

namespace pg {

pqxx::result Exec(pqxx::transaction_base& txn, const char* statement, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  return txn.exec_prepared(statement, pqxx::prepare::make_dynamic_params(values));
}

void UseGenericPlans(pqxx::transaction_base& txn) {
  txn.exec("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off");
}

// An advisory lock key for a phone hash: its first 64 bits.
std::int64_t LockKey(const std::string& phone_hash) {
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < 16 && i < phone_hash.size(); ++i) {
    const char c = phone_hash[i];
    const std::uint64_t digit = c >= '0' && c <= '9'   ? static_cast<std::uint64_t>(c - '0')
                                : c >= 'a' && c <= 'f' ? static_cast<std::uint64_t>(c - 'a' + 10)
                                : c >= 'A' && c <= 'F' ? static_cast<std::uint64_t>(c - 'A' + 10)
                                                       : 0;
    key = key << 4 | digit;
  }
  return static_cast<std::int64_t>(key);
}

TimePoint WallClock() {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

void SortByTime(RelatedEvents& related) {
  auto earlier = [](const Event& a, const Event& b) {
    return std::tie(a.occurred_at, a.event_id) < std::tie(b.occurred_at, b.event_id);
  };
  std::sort(related.same_incident.begin(), related.same_incident.end(), earlier);
  std::sort(related.same_number.begin(), related.same_number.end(), earlier);
  std::sort(related.number_incidents_others.begin(), related.number_incidents_others.end(),
            earlier);
  std::sort(related.same_number_screened.begin(), related.same_number_screened.end(),
            [](const ScreenedEvent& a, const ScreenedEvent& b) {
              return std::tie(a.occurred_at, a.event_id) < std::tie(b.occurred_at, b.event_id);
            });
}

Savepoint::Savepoint(pqxx::transaction_base& txn, std::string name)
    : txn_(txn), name_(std::move(name)) {
  txn_.exec0("SAVEPOINT " + name_);
}

Savepoint::~Savepoint() {
  if (done_) return;
  try {
    txn_.exec0("ROLLBACK TO SAVEPOINT " + name_);
  } catch (const std::exception& e) {
    // The transaction is lost with it: the caller's next statement fails and says so.
    spdlog::warn("store: rollback to savepoint {} failed", name_);
  }
}

void Savepoint::Release() {
  txn_.exec0("RELEASE SAVEPOINT " + name_);
  done_ = true;
}

}  // namespace pg

PgStore::PgStore(const PgOptions& options)
    : vault_(options.phone_keys, options.phone_hash_key, options.previous_phone_hash_keys),
      pool_(
          options.url, options.pool_size,
          [statement_timeout = options.statement_timeout](pqxx::connection& connection) {
            for (const auto* statements :
                 {&pg::IngestStatements(), &pg::OutboxStatements(), &pg::SurveyStatements(),
                  &pg::StatsStatements(), &pg::OpsStatements(), &pg::PrivacyStatements(),
                  &pg::AlertInsertStatements(), &pg::ReplyStatements()}) {
              for (const auto& [name, sql] : *statements) connection.prepare(name, sql);
            }
            connection.prepare("ping", "SELECT 1");
            connection.prepare("clock", "SELECT surveyd_epoch_us(clock_timestamp())");
            // Lock waits count too: a statement stuck behind a lock gives its connection back
            // as it would after any other slow statement.
            pqxx::nontransaction txn(connection);
            txn.exec("SET statement_timeout = " +
                     std::to_string(std::max<std::int64_t>(0, statement_timeout.count())));
          },
          options.acquire_timeout) {
  if (options.metrics != nullptr) pool_.Observe(*options.metrics);
}

bool PgStore::Ping() { return !PingFailure(); }

std::optional<std::string> PgStore::PingFailure() {
  try {
    const bool answered = WithConnection("ping", [](pqxx::connection& connection) {
      pqxx::nontransaction txn(connection);
      return pg::Exec(txn, "ping", {}).size() == 1;
    });
    if (!answered) return "ping: no row";
    return std::nullopt;
  } catch (const Unavailable& e) {
    return std::string(e.what());
  }
}

std::optional<TimePoint> PgStore::UnreachableSince() {
  const auto since = pool_.unreachable_since();
  if (!since) return std::nullopt;
  return std::chrono::floor<std::chrono::microseconds>(*since);
}

std::optional<TimePoint> PgStore::DatabaseClock() {
  try {
    return WithConnection("clock", [](pqxx::connection& connection) {
      pqxx::nontransaction txn(connection);
      return std::optional(
          pg::FromEpochMicros(pg::Exec(txn, "clock", {})[0][0].as<std::int64_t>()));
    });
  } catch (const Unavailable&) {
    return std::nullopt;
  }
}

std::unique_ptr<Store> MakePgStore(const PgOptions& options) {
  return std::make_unique<PgStore>(options);
}

}  // namespace surveyd::store
