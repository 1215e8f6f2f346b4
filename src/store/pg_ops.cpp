// OpsStore: the outbox at a glance for /metrics, and ops' hold on every text.
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
      {"hold_open",
       "SELECT id, reason, held_by, surveyd_epoch_us(held_at) FROM send_holds "
       "WHERE released_at IS NULL"},
      // The open hold, locked: of two releases at once, the second finds none open.
      {"hold_open_locked",
       "SELECT id, reason, held_by, surveyd_epoch_us(held_at) FROM send_holds "
       "WHERE released_at IS NULL FOR UPDATE"},
      // The times of a hold are the database's when it took effect (the claims' lock held): a
      // text begun before held_at may still go, none begun after it until released_at.
      {"hold_insert",
       "INSERT INTO send_holds (reason, held_by, held_at) VALUES ($1, $2, clock_timestamp()) "
       "RETURNING id, reason, held_by, surveyd_epoch_us(held_at)"},
      {"hold_in_flight", "SELECT count(*) FROM outbox WHERE state = 'sending'"},
      // What was waiting to go to the public when the hold is released: survey texts and the
      // questions of two-way conversations (an opt-out's confirmation still goes). A message one
      // of whose requests may have gone is held in doubt, as any cancellation does.
      {"hold_cancel_waiting",
       "WITH c AS (UPDATE outbox SET state = CASE WHEN maybe_sent THEN 'in_doubt' "
       "ELSE 'cancelled' END, cancel_reason = 'held_by_ops', cancelled_by = $1, "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $2::timestamptz "
       "WHERE state IN ('pending', 'claimed') AND kind IN " SURVEYD_SURVEY_TEXT_KINDS
       " AND next_attempt_at <= $2::timestamptz RETURNING 1) "
       "SELECT count(*) FROM c"},
      {"hold_release",
       "UPDATE send_holds SET released_by = $2, released_at = clock_timestamp(), "
       "release_note = $3, cancelled = $4::int WHERE id = $1::bigint"},
      // Dispatchers wake as for a new text due now (migration 0013's channel).
      {"hold_wake", "SELECT pg_notify('surveyd_outbox', surveyd_epoch_us($1::timestamptz)::text)"},
  };
  return kStatements;
}

SendHold ReadHold(const pqxx::row& row) {
  SendHold hold;
  hold.id = row[0].as<std::int64_t>();
  hold.reason = row[1].as<std::string>();
  hold.held_by = row[2].as<std::string>();
  hold.held_at = FromEpochMicros(row[3].as<std::int64_t>());
  return hold;
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

std::optional<SendHold> PgStore::ActiveSendHold() {
  return WithConnection("send hold", [&](pqxx::connection& connection) {
    pqxx::read_transaction txn(connection);
    const auto rows = Exec(txn, "hold_open", {});
    return rows.empty() ? std::nullopt : std::optional<SendHold>(ReadHold(rows[0]));
  });
}

HoldOutcome PgStore::HoldSends(const std::string& reason, const std::string& by) {
  return WithConnection("hold sends", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // Every claim reads send_holds (SURVEYD_NO_SEND_HOLD) and keeps its lock to its commit:
    // this waits for the claims under way, and the claims that follow wait for this commit and
    // then see the hold. Bounded, so that ops hear of a claim stuck rather than wait on it, and
    // the claims queued behind the hold wait seconds, far less than the watchdog's stall_after.
    txn.exec0("SET LOCAL lock_timeout = '10s'");
    txn.exec0("LOCK TABLE send_holds IN ACCESS EXCLUSIVE MODE");
    HoldOutcome outcome;
    if (const auto open = Exec(txn, "hold_open", {}); !open.empty()) {
      outcome.hold = ReadHold(open[0]);
      outcome.already_held = true;
    } else {
      outcome.hold = ReadHold(Exec(txn, "hold_insert", {Text(reason), Text(by)})[0]);
    }
    outcome.in_flight = Exec(txn, "hold_in_flight", {})[0][0].as<std::int64_t>();
    txn.commit();
    return outcome;
  });
}

ReleaseOutcome PgStore::ReleaseSends(const std::string& by, const std::string& note,
                                     bool cancel_waiting, TimePoint now) {
  return WithConnection("release sends", [&](pqxx::connection& connection) {
    // No need to wait for the claims under way, as a hold does: they find nothing either way.
    pqxx::work txn(connection);
    ReleaseOutcome outcome;
    const auto open = Exec(txn, "hold_open_locked", {});
    if (open.empty()) return outcome;
    outcome.released = ReadHold(open[0]);
    if (cancel_waiting) {
      outcome.cancelled =
          Exec(txn, "hold_cancel_waiting", {Text(by), Time(now)})[0][0].as<std::int64_t>();
    }
    Exec(txn, "hold_release",
         {Int(outcome.released->id), Text(by), NonEmpty(note), Int(outcome.cancelled)});
    Exec(txn, "hold_wake", {Time(now)});
    txn.commit();
    return outcome;
  });
}

}  // namespace surveyd::store
