// OpsStore: the outbox at a glance for /metrics.
#include "store/pg_store_impl.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace pg {

const Statements& OpsStatements() {
  static const Statements kStatements = {
      // Unsettled states only: the partial indexes keep this cheap however long the outbox is.
      {"queue_by_state",
       "SELECT state, count(*) FROM outbox WHERE state IN ('pending', 'claimed', 'sending', "
       "'in_doubt') "
       "GROUP BY state"},
      {"queue_oldest_due",
       "SELECT COALESCE(extract(epoch FROM $1::timestamptz - min(next_attempt_at)), 0)::float8 "
       "FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1::timestamptz"},
  };
  return kStatements;
}

}  // namespace pg

QueueStats PgStore::GetQueueStats(TimePoint now) {
  return WithConnection("queue stats", [&](pqxx::connection& connection) {
    pqxx::read_transaction txn(connection);
    QueueStats stats;
    stats.unsettled = {{"pending", 0}, {"claimed", 0}, {"sending", 0}, {"in_doubt", 0}};
    for (const auto& row : Exec(txn, "queue_by_state", {})) {
      stats.unsettled[row[0].as<std::string>()] = row[1].as<std::int64_t>();
    }
    stats.oldest_due_seconds = Exec(txn, "queue_oldest_due", {Time(now)})[0][0].as<double>();
    return stats;
  });
}

}  // namespace surveyd::store
