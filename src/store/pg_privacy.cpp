// PrivacyStore: retention, erasure on request, and key rotation. Every statement works in
// batches (policy.batch rows), each its own transaction, so that ingest and sending never wait
// long behind it.
#include <nlohmann/json.hpp>

#include "store/pg_store_impl.hpp"
#include "surveyd/core/event_json.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/store/privacy_store.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace {

// One retention or re-keying pass at a time, across every instance.
constexpr std::int64_t kRetentionLock = 0x7375727665796452;  // "surveydR"

// The number in a raw event as received, normalised; "" when there is none or it does not parse.
std::string NumberInRaw(const std::string& raw) {
  auto json = nlohmann::json::parse(raw, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return {};
  auto event = EventFromJson(json).event;
  if (!event || !event->caller || !event->caller->phone) return {};
  return phone::Normalize(*event->caller->phone).e164;
}

// The number a rejected line names, read as the feed read it to hold its texts (IngestItem),
// whatever else in the line is wrong.
std::string NumberInRejectedLine(const std::string& raw) {
  const auto json = nlohmann::json::parse(raw, nullptr, false);
  if (json.is_discarded()) return {};
  const std::string phone = ContactNamedBy(json).phone;
  return phone.empty() ? std::string() : phone::Normalize(phone).e164;
}

// The national digits of a UK number ("7700900123" of "+447700900123"), or all of another's:
// what any spelling of the number in a line contains, once everything but digits is dropped.
std::string SignificantDigits(const std::string& e164) {
  std::string digits;
  for (char c : e164) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (digits.rfind("44", 0) == 0) digits.erase(0, 2);
  return digits;
}

std::string OnlyDigits(const std::string& text) {
  std::string digits;
  for (char c : text) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  return digits;
}

}  // namespace

std::vector<std::pair<const char*, std::int64_t>> RemovedCounts(const RetentionReport& report) {
  return {{"numbers_erased", report.numbers_erased},
          {"hashes_dropped", report.hashes_dropped},
          {"raw_events_deleted", report.raw_events_deleted},
          {"rejected_lines_deleted", report.rejected_lines_deleted},
          {"facts_deleted", report.facts_deleted},
          {"comments_blanked", report.comments_blanked},
          {"alert_notes_blanked", report.alert_notes_blanked},
          {"replies_anonymised", report.replies_anonymised},
          {"conversations_deleted", report.conversations_deleted}};
}

namespace pg {

// The parts the three walks of finished surveys share ($1 now).
#define SURVEYD_ERASE_NUMBER \
  "phone_enc = NULL, phone_e164 = NULL, phone_erased_at = $1::timestamptz"
#define SURVEYD_NUMBER_HELD "(s.phone_enc IS NOT NULL OR s.phone_e164 IS NOT NULL)"
// Nor while an alert of it that may need the person called back is open or acknowledged (a
// safeguarding disclosure, a complaint): the hub reveals the number to call them (a review saw a
// late "he's back" text's number put back for the help text, then erased by the next pass while
// its urgent alert was open, and the reveal refused). Resolved, it goes at the next pass.
#define SURVEYD_NUMBER_NOT_NEEDED                                    \
  "NOT EXISTS (SELECT 1 FROM outbox p WHERE p.survey_id = s.id "     \
  "AND p.state IN ('pending', 'claimed', 'sending')) "               \
  "AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.survey_id = s.id " \
  "AND a.kind IN ('safeguarding', 'complaint') AND a.status IN ('open', 'acknowledged'))"

const Statements& PrivacyStatements() {
  static const Statements kStatements = {
      {"retention_lock", "SELECT pg_try_advisory_lock($1::bigint)"},
      {"retention_unlock", "SELECT pg_advisory_unlock($1::bigint)"},
      // A survey's number is erased once the survey is finished and `number_grace` has passed:
      // answered, its text will never be delivered, or closed; never while a text of it may still
      // go out. One walk per reason, each through its own index (migration 0014): the earliest
      // of the three times, which no index gives, read every survey holding a number.
      // $1 now, $2 the cutoff, $3 batch.
      {"erase_answered_numbers",
       "UPDATE surveys SET " SURVEYD_ERASE_NUMBER " WHERE id IN (SELECT s.id FROM surveys s "
       "WHERE " SURVEYD_NUMBER_HELD " AND s.responded_at < $2::timestamptz "
       "AND " SURVEYD_NUMBER_NOT_NEEDED " LIMIT $3::int)"},
      {"erase_closed_numbers",
       "UPDATE surveys SET " SURVEYD_ERASE_NUMBER " WHERE id IN (SELECT s.id FROM surveys s "
       "WHERE " SURVEYD_NUMBER_HELD " AND s.closes_at < $2::timestamptz "
       "AND " SURVEYD_NUMBER_NOT_NEEDED " LIMIT $3::int)"},
      // The survey texts that will never be delivered, $3 of them in (updated_at, id) order after
      // ($4, $5), up to the cutoff $2: how many were read, the numbers erased, and the last read.
      {"erase_undelivered_numbers",
       "WITH walked AS (SELECT o.survey_id, o.updated_at, o.id FROM outbox o "
       "WHERE o.kind = 'survey' AND o.state IN ('failed', 'undeliverable', 'delivery_expired', "
       "'expired', 'cancelled') AND (o.updated_at, o.id) > ($4::timestamptz, $5::bigint) "
       "AND o.updated_at < $2::timestamptz ORDER BY o.updated_at, o.id LIMIT $3::int), "
       "erased AS (UPDATE surveys SET " SURVEYD_ERASE_NUMBER " WHERE id IN (SELECT s.id "
       "FROM walked w JOIN surveys s ON s.id = w.survey_id WHERE " SURVEYD_NUMBER_HELD
       " AND " SURVEYD_NUMBER_NOT_NEEDED ") RETURNING 1), "
       "last AS (SELECT updated_at, id FROM walked ORDER BY updated_at DESC, id DESC LIMIT 1) "
       "SELECT (SELECT count(*) FROM walked), (SELECT count(*) FROM erased), "
       "(SELECT surveyd_epoch_us(updated_at) FROM last), (SELECT id FROM last)"},
      // Where the last pass stopped walking those texts.
      {"failed_texts_through",
       "SELECT surveyd_epoch_us(failed_texts_through) FROM retention_runs "
       "WHERE failed_texts_through IS NOT NULL ORDER BY id DESC LIMIT 1"},
      {"drop_survey_hashes",
       "UPDATE surveys SET phone_hash = NULL WHERE id IN (SELECT id FROM surveys "
       "WHERE phone_hash IS NOT NULL AND contact_at < $1::timestamptz "
       "AND phone_enc IS NULL AND phone_e164 IS NULL LIMIT $2::int)"},
      {"drop_event_hashes",
       "UPDATE events SET phone_hash = NULL WHERE event_id IN (SELECT event_id FROM events "
       "WHERE phone_hash IS NOT NULL AND occurred_at < $1::timestamptz LIMIT $2::int)"},
      // An event stamped later than it arrived (a mistyped year in the log, a clock ahead) keeps
      // its number's hash phone_hash_days after it arrived, not after the date it gives (which
      // may be 9999); the few such events are in an index of their own (migration 0043). A
      // number's newest event for a finding (number_findings) that was one of them is replaced
      // by the newest event still holding the number and the finding, or goes if there is none:
      // a row that names no event of the number would hide nothing, but keep the hash.
      {"drop_event_hashes_stamped_ahead",
       "WITH old AS (SELECT event_id, phone_hash FROM events WHERE phone_hash IS NOT NULL "
       "AND occurred_at > received_at AND received_at < $1::timestamptz LIMIT $2::int "
       "FOR UPDATE), "
       "stale AS (SELECT f.phone_hash, f.screened_with, f.finding, n.occurred_at, n.event_id "
       "FROM number_findings f JOIN old ON f.phone_hash = old.phone_hash "
       "AND f.event_id = old.event_id LEFT JOIN LATERAL (SELECT e.occurred_at, e.event_id "
       "FROM events e WHERE e.phone_hash = f.phone_hash AND e.screened_with = f.screened_with "
       "AND f.finding = ANY (e.screen_findings) AND e.event_id NOT IN (SELECT event_id FROM old) "
       "ORDER BY e.occurred_at DESC, e.event_id COLLATE \"C\" DESC LIMIT 1) n ON true), "
       "moved AS (UPDATE number_findings f SET occurred_at = s.occurred_at, event_id = s.event_id "
       "FROM stale s WHERE s.event_id IS NOT NULL AND f.phone_hash = s.phone_hash "
       "AND f.screened_with = s.screened_with AND f.finding = s.finding), "
       "gone AS (DELETE FROM number_findings f USING stale s WHERE s.event_id IS NULL "
       "AND f.phone_hash = s.phone_hash AND f.screened_with = s.screened_with "
       "AND f.finding = s.finding) "
       "UPDATE events e SET phone_hash = NULL FROM old WHERE e.event_id = old.event_id"},
      // Each number's newest event for a finding (migration 0023), where even that is older:
      // its number's every event with the finding has lost its hash, or is about to.
      {"drop_number_findings",
       "DELETE FROM number_findings WHERE (phone_hash, screened_with, finding) IN "
       "(SELECT phone_hash, screened_with, finding FROM number_findings "
       "WHERE occurred_at < $1::timestamptz LIMIT $2::int)"},
      {"drop_rejected_hashes",
       "UPDATE rejected_events SET phone_hash = NULL WHERE id IN (SELECT id FROM rejected_events "
       "WHERE phone_hash IS NOT NULL AND received_at < $1::timestamptz LIMIT $2::int)"},
      {"delete_raw_events",
       "DELETE FROM raw_events WHERE event_id IN (SELECT event_id FROM raw_events "
       "WHERE received_at < $1::timestamptz LIMIT $2::int)"},
      {"delete_rejected_lines",
       "UPDATE rejected_events SET raw = NULL WHERE id IN (SELECT id FROM rejected_events "
       "WHERE raw IS NOT NULL AND received_at < $1::timestamptz LIMIT $2::int)"},
      {"delete_facts",
       "UPDATE events SET facts = NULL WHERE event_id IN (SELECT event_id FROM events "
       "WHERE facts IS NOT NULL AND received_at < $1::timestamptz LIMIT $2::int)"},
      {"blank_comments",
       "UPDATE responses SET comment = '' WHERE survey_id IN (SELECT survey_id FROM responses "
       "WHERE comment <> '' AND submitted_at < $1::timestamptz LIMIT $2::int)"},
      // Staff notes on alerts (a resolution, a reveal's reason): free text about the citizen,
      // kept as long as comments, from when each was written (migration 0040).
      {"blank_alert_status_notes",
       "UPDATE alerts SET status_note = NULL WHERE id IN (SELECT id FROM alerts "
       "WHERE status_note IS NOT NULL AND status_at < $1::timestamptz LIMIT $2::int)"},
      {"blank_alert_event_notes",
       "UPDATE alert_events SET note = NULL WHERE id IN (SELECT id FROM alert_events "
       "WHERE note IS NOT NULL AND at < $1::timestamptz LIMIT $2::int)"},
      {"anonymise_replies",
       "UPDATE inbound_messages SET body = '', phone_hash = NULL WHERE id IN (SELECT id "
       "FROM inbound_messages WHERE (body <> '' OR phone_hash IS NOT NULL) "
       "AND received_at < $1::timestamptz LIMIT $2::int)"},
      // Whatever its state: one the citizen left open holds the hash as long as one finished.
      // A conversation lasts hours (the rules' two_way lasts), so one still open this long
      // after it started is over: a text that still finds its survey (two_way_context) reads a
      // conversation without its row as begun with the survey's text, and over once `lasts`
      // has passed since, as the row would have said.
      {"delete_conversations",
       "DELETE FROM conversations WHERE survey_id IN (SELECT survey_id FROM conversations "
       "WHERE started_at < $1::timestamptz LIMIT $2::int)"},
      {"retention_record",
       "INSERT INTO retention_runs (started_at, finished_at, worker, done, failed_texts_through) "
       "VALUES ($1::timestamptz, $2::timestamptz, $3, $4::jsonb, $5::timestamptz)"},

      // Re-keying, $2 rows at a time. While a hash key rotates ($4), every held number is looked
      // at, in id order from $1 (each hash has to be made again); $3: 'v1:<active key>:%'.
      {"rekey_surveys",
       "SELECT id, COALESCE(phone_enc, phone_e164), phone_hash FROM surveys "
       "WHERE id > $1::bigint AND (phone_enc IS NOT NULL OR phone_e164 IS NOT NULL) "
       "AND ($4::boolean OR phone_e164 IS NOT NULL OR phone_enc NOT LIKE $3) "
       "ORDER BY id LIMIT $2::int"},
      // Otherwise only the numbers to seal again: those in clear, in id order from $1; and those
      // sealed under another key than the active one ($3), in (key, id) order after ($1, $4),
      // on either side of the active key's range (migration 0021). Each range is read from its
      // start: what the walk left behind in it (values no key opens) is passed over again, the
      // rest has moved under the active key. (A start at the cursor would read all the active
      // key's index entries to find none.)
      {"rekey_surveys_clear",
       "SELECT id, phone_e164, phone_hash FROM surveys WHERE phone_e164 IS NOT NULL "
       "AND id > $1::bigint ORDER BY id LIMIT $2::int"},
      {"rekey_surveys_sealed",
       "SELECT id, phone_enc, phone_hash, k FROM ("
       "(SELECT id, phone_enc, phone_hash, split_part(phone_enc, ':', 2) AS k FROM surveys "
       "WHERE phone_enc IS NOT NULL AND split_part(phone_enc, ':', 2) < $3 "
       "AND (split_part(phone_enc, ':', 2) > $1 "
       "OR (split_part(phone_enc, ':', 2) = $1 AND id > $4::bigint)) "
       "ORDER BY split_part(phone_enc, ':', 2), id LIMIT $2::int) UNION ALL "
       "(SELECT id, phone_enc, phone_hash, split_part(phone_enc, ':', 2) FROM surveys "
       "WHERE phone_enc IS NOT NULL AND split_part(phone_enc, ':', 2) > $3 "
       "AND (split_part(phone_enc, ':', 2) > $1 "
       "OR (split_part(phone_enc, ':', 2) = $1 AND id > $4::bigint)) "
       "ORDER BY split_part(phone_enc, ':', 2), id LIMIT $2::int)) AS w "
       "ORDER BY k, id LIMIT $2::int"},
      {"rekey_survey_update",
       "UPDATE surveys SET phone_enc = $2, phone_e164 = NULL, "
       "phone_hash = CASE WHEN phone_hash IS NULL THEN NULL ELSE $3 END WHERE id = $1::bigint"},
      // A conversation holds its survey's hash (conversation_upsert): it follows the survey's,
      // re-made above, $1 rows at a time.
      {"rekey_conversations",
       "UPDATE conversations c SET phone_hash = s.phone_hash FROM surveys s "
       "WHERE s.id = c.survey_id AND c.survey_id IN (SELECT c2.survey_id FROM conversations c2 "
       "JOIN surveys s2 ON s2.id = c2.survey_id WHERE c2.phone_hash <> s2.phone_hash "
       "LIMIT $1::int)"},
      {"rekey_opt_outs",
       "SELECT phone_hash, phone_enc FROM opt_outs WHERE phone_hash > $1 "
       "AND phone_enc IS NOT NULL AND ($4::boolean OR phone_enc NOT LIKE $3) "
       "ORDER BY phone_hash LIMIT $2::int"},
      // A number opted out under both keys keeps one row, under the active key.
      {"rekey_opt_out_update",
       "WITH moved AS (DELETE FROM opt_outs WHERE phone_hash = $1 RETURNING source, at) "
       "INSERT INTO opt_outs (phone_hash, source, at, phone_enc) "
       "SELECT $2, source, at, $3 FROM moved ON CONFLICT (phone_hash) DO UPDATE "
       "SET phone_enc = excluded.phone_enc"},
      // The raw events (migration 0022) with their events' hashes.
      {"rekey_events",
       "SELECT r.event_id, r.raw, e.phone_hash FROM raw_events r "
       "JOIN events e ON e.event_id = r.event_id WHERE r.event_id > $1 "
       "AND ($4::boolean OR r.raw NOT LIKE $3) ORDER BY r.event_id LIMIT $2::int"},
      // Otherwise the raw events sealed under another key than the active one, as the surveys'
      // numbers are walked (rekey_surveys_sealed).
      {"rekey_events_sealed",
       "SELECT w.event_id, w.raw, e.phone_hash, w.k FROM ("
       "(SELECT event_id, raw, split_part(raw, ':', 2) AS k FROM raw_events "
       "WHERE split_part(raw, ':', 2) < $3 "
       "AND (split_part(raw, ':', 2) > $1 OR (split_part(raw, ':', 2) = $1 AND event_id > $4)) "
       "ORDER BY split_part(raw, ':', 2), event_id LIMIT $2::int) UNION ALL "
       "(SELECT event_id, raw, split_part(raw, ':', 2) FROM raw_events "
       "WHERE split_part(raw, ':', 2) > $3 "
       "AND (split_part(raw, ':', 2) > $1 OR (split_part(raw, ':', 2) = $1 AND event_id > $4)) "
       "ORDER BY split_part(raw, ':', 2), event_id LIMIT $2::int)) AS w "
       "JOIN events e ON e.event_id = w.event_id ORDER BY w.k, w.event_id LIMIT $2::int"},
      // The event's hash is made again only when the hash key is rotated ($3 not NULL), and
      // with it those of its incident's events filed under the same number for want of their
      // own (FileNumberlessUnderIncidents), whose lines have no number to make it from.
      {"rekey_event_update",
       "WITH line AS (UPDATE raw_events SET raw = $2 WHERE event_id = $1), "
       "own AS (SELECT incident_id, phone_hash FROM events WHERE event_id = $1 "
       "AND phone_hash IS NOT NULL AND $3::text IS NOT NULL) "
       "UPDATE events e SET phone_hash = $3 FROM own WHERE e.phone_hash = own.phone_hash "
       "AND (e.event_id = $1 OR e.incident_id = own.incident_id)"},
      {"rekey_rejected",
       "SELECT id, raw, phone_hash FROM rejected_events WHERE id > $1::bigint "
       "AND raw IS NOT NULL AND (raw NOT LIKE $3 OR ($4::boolean AND phone_hash IS NOT NULL)) "
       "ORDER BY id LIMIT $2::int"},
      {"rekey_rejected_update",
       "UPDATE rejected_events SET raw = $2, phone_hash = CASE WHEN phone_hash IS NULL THEN NULL "
       "ELSE COALESCE($3, phone_hash) END WHERE id = $1::bigint"},
      {"hashes_without_number",
       "SELECT (SELECT count(*) FROM surveys WHERE phone_hash IS NOT NULL "
       "AND phone_enc IS NULL AND phone_e164 IS NULL) + "
       "(SELECT count(*) FROM events e WHERE phone_hash IS NOT NULL "
       "AND NOT EXISTS (SELECT 1 FROM raw_events r WHERE r.event_id = e.event_id)) + "
       "(SELECT count(*) FROM rejected_events WHERE phone_hash IS NOT NULL AND raw IS NULL) + "
       "(SELECT count(*) FROM conversations c JOIN surveys s ON s.id = c.survey_id "
       "WHERE s.phone_hash IS NULL) + "
       "(SELECT count(*) FROM opt_outs WHERE phone_enc IS NULL)"},

      // Erasure. $1: the number's hashes under every key.
      {"erase_lock", "SELECT pg_advisory_xact_lock($1::bigint)"},
      {"erase_cancel_texts",
       "UPDATE outbox o SET state = CASE WHEN o.maybe_sent THEN 'in_doubt' ELSE 'cancelled' END, "
       "cancel_reason = 'erased', "
       "cancelled_by = 'erasure', claim_token = NULL, claimed_by = NULL, lease_until = NULL, "
       "updated_at = $2::timestamptz FROM surveys s WHERE s.id = o.survey_id "
       "AND s.phone_hash = ANY($1::text[]) AND o.state IN ('pending', 'claimed')"},
      {"erase_comments",
       "UPDATE responses r SET comment = '' FROM surveys s WHERE s.id = r.survey_id "
       "AND s.phone_hash = ANY($1::text[]) AND r.comment <> ''"},
      // The notes staff wrote on the alerts of the number's surveys, found before the surveys
      // lose the hash: how many (an alert's status note and each note in its history).
      {"erase_alert_notes",
       "WITH a AS (SELECT a.id FROM alerts a JOIN surveys s ON s.id = a.survey_id "
       "WHERE s.phone_hash = ANY($1::text[])), "
       "st AS (UPDATE alerts SET status_note = NULL WHERE id IN (SELECT id FROM a) "
       "AND status_note IS NOT NULL RETURNING 1), "
       "ev AS (UPDATE alert_events SET note = NULL WHERE alert_id IN (SELECT id FROM a) "
       "AND note IS NOT NULL RETURNING 1) "
       "SELECT (SELECT count(*) FROM st) + (SELECT count(*) FROM ev)"},
      {"erase_surveys",
       "UPDATE surveys SET phone_enc = NULL, phone_e164 = NULL, phone_hash = NULL, "
       "incident_id = NULL, phone_erased_at = COALESCE(phone_erased_at, $2::timestamptz) "
       "WHERE phone_hash = ANY($1::text[])"},
      {"erase_events",
       "WITH lines AS (DELETE FROM raw_events WHERE event_id IN (SELECT event_id FROM events "
       "WHERE phone_hash = ANY($1::text[]))), "
       "findings AS (DELETE FROM number_findings WHERE phone_hash = ANY($1::text[])) "
       "UPDATE events SET facts = NULL, phone_hash = NULL, incident_id = NULL "
       "WHERE phone_hash = ANY($1::text[])"},
      {"erase_replies",
       "UPDATE inbound_messages SET body = '', phone_hash = NULL "
       "WHERE phone_hash = ANY($1::text[])"},
      {"erase_conversations", "DELETE FROM conversations WHERE phone_hash = ANY($1::text[])"},
      // Lines that name the number (kept to hold its texts, migration 0019), then those whose
      // line, still held, writes it.
      {"erase_rejected_by_hash", "DELETE FROM rejected_events WHERE phone_hash = ANY($1::text[])"},
      {"erase_rejected_candidates", "SELECT id, raw FROM rejected_events WHERE raw IS NOT NULL"},
      {"erase_rejected_line", "DELETE FROM rejected_events WHERE id = $1::bigint"},
      {"erase_opt_out_forget", "DELETE FROM opt_outs WHERE phone_hash = ANY($1::text[])"},
      {"erase_opt_out_keep",
       "UPDATE opt_outs SET phone_enc = NULL WHERE phone_hash = ANY($1::text[])"},
      {"erase_opt_out_count", "SELECT count(*) FROM opt_outs WHERE phone_hash = ANY($1::text[])"},
      {"erase_record",
       "INSERT INTO erasures (at, reference, removed) VALUES ($1::timestamptz, $2, $3::jsonb)"},
  };
  return kStatements;
}

#undef SURVEYD_ERASE_NUMBER
#undef SURVEYD_NUMBER_HELD
#undef SURVEYD_NUMBER_NOT_NEEDED

}  // namespace pg

namespace {

// Runs `statement` until it changes fewer rows than a batch; the total.
template <typename With>
std::int64_t InBatches(With&& with, const char* statement, const Params& params, int batch) {
  std::int64_t total = 0;
  for (;;) {
    const auto changed = with([&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      const auto rows = Exec(txn, statement, params).affected_rows();
      txn.commit();
      return static_cast<std::int64_t>(rows);
    });
    total += changed;
    if (changed < batch) return total;
  }
}

// The walk of survey texts that will never be delivered starts where the previous pass stopped,
// less this: their times come from each instance's clock, and a row written by one a little
// behind would otherwise be passed over (it would still be erased when its survey closes).
constexpr auto kClockSlack = std::chrono::hours(1);

struct UndeliveredErased {
  std::int64_t numbers = 0;
  // How far the texts have been walked now, for the next pass: this pass's cutoff, or the
  // previous pass's when that was later (a pass by hand with a longer grace, or under another
  // clock, must not send the next pass back over texts already walked).
  TimePoint through;
};

// Erases the numbers of the surveys whose text will never be delivered before `cutoff`, reading
// those texts `batch` at a time in (updated_at, id) order, each batch its own transaction.
template <typename With>
UndeliveredErased EraseUndeliveredNumbers(With&& with, TimePoint now, TimePoint cutoff, int batch) {
  const auto through = with([](pqxx::connection& connection) {
    pqxx::read_transaction txn(connection);
    const auto rows = Exec(txn, "failed_texts_through", {});
    return rows.empty() ? std::optional<TimePoint>()
                        : FromEpochMicros(rows[0][0].as<std::int64_t>());
  });
  struct Walked {
    std::int64_t read = 0, erased = 0, last_id = 0;
    TimePoint last_at;
  };
  TimePoint after_at = through ? *through - kClockSlack : TimePoint();
  std::int64_t after_id = 0;
  std::int64_t total = 0;
  for (;;) {
    const auto walked = with([&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      const auto rows = Exec(txn, "erase_undelivered_numbers",
                             {Time(now), Time(cutoff), Int(batch), Time(after_at), Int(after_id)});
      txn.commit();
      Walked w;
      w.read = rows[0][0].as<std::int64_t>();
      w.erased = rows[0][1].as<std::int64_t>();
      if (w.read > 0) {
        w.last_at = FromEpochMicros(rows[0][2].as<std::int64_t>());
        w.last_id = rows[0][3].as<std::int64_t>();
      }
      return w;
    });
    total += walked.erased;
    if (walked.read < batch) return {total, through ? std::max(*through, cutoff) : cutoff};
    after_at = walked.last_at;
    after_id = walked.last_id;
  }
}

nlohmann::json ToJson(const RekeyReport& r) {
  return {{"numbers_resealed", r.numbers_resealed},
          {"raw_resealed", r.raw_resealed},
          {"hashes_rekeyed", r.hashes_rekeyed},
          {"unreadable", r.unreadable},
          {"hashes_without_number", r.hashes_without_number}};
}

}  // namespace

RetentionReport PgStore::RunRetention(const RetentionPolicy& policy, TimePoint now,
                                      const std::string& worker) {
  auto lease = pool_.Acquire();
  return RetentionLocked(lease, &policy, now, worker);
}

RekeyReport PgStore::Rekey(TimePoint now) {
  auto lease = pool_.Acquire();
  auto report = RetentionLocked(lease, nullptr, now, "surveyd keys rotate");
  if (!report.ran) throw Unavailable("another instance is running retention now; try again");
  if (!report.failures.empty()) throw Unavailable(report.failures.front());  // its one step
  return report.rekey;
}

// Everything on the one session that holds the advisory lock, from the lock to the unlock (or
// until that connection breaks, which frees the lock). `policy` null: re-keying only.
RetentionReport PgStore::RetentionLocked(ConnectionPool::Lease& lease,
                                         const RetentionPolicy* policy, TimePoint now,
                                         const std::string& worker) {
  RetentionReport report;
  const TimePoint started = pg::WallClock();
  auto with = [this, &lease](auto&& work) { return WithLease(lease, "retention", work); };
  const bool locked = with([](pqxx::connection& connection) {
    pqxx::nontransaction txn(connection);
    return Exec(txn, "retention_lock", {Int(kRetentionLock)})[0][0].as<bool>();
  });
  if (!locked) return report;
  const struct Unlock {
    ConnectionPool::Lease& lease;
    ~Unlock() {
      try {
        pqxx::nontransaction txn(lease.connection());
        Exec(txn, "retention_unlock", {Int(kRetentionLock)});
      } catch (...) {
        lease.Discard();  // closing the session frees the lock
      }
    }
  } unlock{lease};
  report.ran = true;

  const int batch = policy != nullptr ? policy->batch : RetentionPolicy().batch;
  std::optional<TimePoint> failed_texts_through;  // none for re-keying alone
  // Each step apart: one that fails (a statement timeout on a large table) must not keep what
  // the later ones remove past its time. Its failure is reported and the pass goes on, unless the
  // session itself was lost, and the advisory lock with it: then the pass stops there.
  auto step = [&report, &lease](const char* what, auto&& work) {
    try {
      work();
    } catch (const Unavailable& e) {
      report.failures.push_back(std::string(what) + ": " + e.what());
      if (lease.discarded()) {
        std::string all;
        for (const auto& failure : report.failures) all += (all.empty() ? "" : "; ") + failure;
        throw Unavailable(all + " (the pass stopped there)");
      }
    }
  };
  if (policy != nullptr) {
    const auto& p = *policy;
    const Params hash_cutoff = {Time(now - p.phone_hash), Int(batch)};
    step("erasing the numbers of finished surveys", [&] {
      const TimePoint finished_before = now - p.number_grace;
      const Params finished = {Time(now), Time(finished_before), Int(batch)};
      const auto undelivered = EraseUndeliveredNumbers(with, now, finished_before, batch);
      failed_texts_through = undelivered.through;
      report.numbers_erased = undelivered.numbers +
                              InBatches(with, "erase_answered_numbers", finished, batch) +
                              InBatches(with, "erase_closed_numbers", finished, batch);
    });
    step("dropping number hashes", [&] {
      for (const char* statement : {"drop_survey_hashes", "drop_event_hashes",
                                    "drop_event_hashes_stamped_ahead", "drop_rejected_hashes"}) {
        report.hashes_dropped += InBatches(with, statement, hash_cutoff, batch);
      }
      InBatches(with, "drop_number_findings", hash_cutoff, batch);
    });
    step("deleting raw events", [&] {
      report.raw_events_deleted =
          InBatches(with, "delete_raw_events", {Time(now - p.raw), Int(batch)}, batch);
    });
    step("deleting rejected lines", [&] {
      report.rejected_lines_deleted =
          InBatches(with, "delete_rejected_lines", {Time(now - p.rejected), Int(batch)}, batch);
    });
    step("deleting events' facts", [&] {
      report.facts_deleted =
          InBatches(with, "delete_facts", {Time(now - p.facts), Int(batch)}, batch);
    });
    step("blanking comments", [&] {
      report.comments_blanked =
          InBatches(with, "blank_comments", {Time(now - p.comment), Int(batch)}, batch);
    });
    step("blanking staff notes on alerts", [&] {
      const Params cutoff = {Time(now - p.comment), Int(batch)};
      report.alert_notes_blanked = InBatches(with, "blank_alert_status_notes", cutoff, batch) +
                                   InBatches(with, "blank_alert_event_notes", cutoff, batch);
    });
    step("blanking citizens' texts", [&] {
      report.replies_anonymised =
          InBatches(with, "anonymise_replies", {Time(now - p.reply), Int(batch)}, batch);
    });
    step("deleting two-way conversations", [&] {
      report.conversations_deleted = InBatches(with, "delete_conversations", hash_cutoff, batch);
    });
  }
  step("re-keying", [&] { report.rekey = RekeyLocked(lease, batch); });

  nlohmann::json done = {{"rekey", ToJson(report.rekey)}};
  for (const auto& [what, count] : RemovedCounts(report)) done[what] = count;
  if (!report.failures.empty()) done["failures"] = report.failures;
  with([&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "retention_record",
         {Time(started), Time(pg::WallClock()), Text(worker), Text(done.dump()),
          Time(failed_texts_through)});
    txn.commit();
    return 0;
  });
  return report;
}

RekeyReport PgStore::RekeyLocked(ConnectionPool::Lease& lease, int batch) {
  RekeyReport report;
  const std::string active_pattern = "v1:" + vault_.keys().active_id() + ":%";
  const bool rehash = vault_.rotating_hash_key();
  auto with = [this, &lease](auto&& work) { return WithLease(lease, "re-key", work); };

  // Reads `statement` a batch at a time, its parameters from `params` (the cursor as `each`
  // moved it on), and hands each row to `each`, until a batch comes back short.
  auto walk = [&](const char* statement, auto params, auto each) {
    for (;;) {
      const auto rows = with([&](pqxx::connection& connection) {
        pqxx::read_transaction txn(connection);
        return Exec(txn, statement, params());
      });
      for (const auto& row : rows) each(row);
      if (static_cast<int>(rows.size()) < batch) break;
    }
  };

  // Surveys' numbers: sealed again under the active key (plain ones from before encryption
  // too), and their hash made with the active hash key.
  auto rekey_survey = [&](const pqxx::row& row) {
    const std::int64_t id = row[0].as<std::int64_t>();
    const std::string stored = row[1].as<std::string>();
    const auto number = vault_.Open(stored, kSurveyPhone);
    if (!number) {
      ++report.unreadable;
      return;
    }
    const std::string hash = vault_.Hash(*number);
    const bool reseal = vault_.NeedsReseal(stored);
    const bool new_hash = !row[2].is_null() && row[2].as<std::string>() != hash;
    if (!reseal && !new_hash) return;
    with([&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Exec(txn, "rekey_survey_update",
           {Int(id), reseal ? vault_.Seal(*number, kSurveyPhone) : stored, hash});
      txn.commit();
      return 0;
    });
    if (reseal) ++report.numbers_resealed;
    if (new_hash) ++report.hashes_rekeyed;
  };
  std::int64_t after = 0;
  if (rehash) {
    walk(
        "rekey_surveys",
        [&] {
          return Params{Int(after), Int(batch), Text(active_pattern), Text("t")};
        },
        [&](const pqxx::row& row) {
          after = row[0].as<std::int64_t>();
          rekey_survey(row);
        });
  } else {
    walk(
        "rekey_surveys_clear",
        [&] {
          return Params{Int(after), Int(batch)};
        },
        [&](const pqxx::row& row) {
          after = row[0].as<std::int64_t>();
          rekey_survey(row);
        });
    std::string key_after;
    after = 0;
    walk(
        "rekey_surveys_sealed",
        [&] {
          return Params{Text(key_after), Int(batch), Text(vault_.keys().active_id()), Int(after)};
        },
        [&](const pqxx::row& row) {
          after = row[0].as<std::int64_t>();
          key_after = row[3].as<std::string>();
          rekey_survey(row);
        });
  }

  // Two-way conversations: the hash of their survey, which holds the number.
  if (rehash) {
    report.hashes_rekeyed += InBatches(with, "rekey_conversations", {Int(batch)}, batch);
  }

  // Opt-outs: the number sealed again, the row moved under the active hash.
  std::string hash_after;
  walk(
      "rekey_opt_outs",
      [&] {
        return Params{Text(hash_after), Int(batch), Text(active_pattern), Text(rehash ? "t" : "f")};
      },
      [&](const pqxx::row& row) {
        hash_after = row[0].as<std::string>();
        const std::string stored = row[1].as<std::string>();
        const auto number = vault_.Open(stored, kOptOutPhone);
        if (!number) {
          ++report.unreadable;
          return;
        }
        const std::string hash = vault_.Hash(*number);
        const bool reseal = vault_.NeedsReseal(stored);
        if (!reseal && hash == hash_after) return;
        with([&](pqxx::connection& connection) {
          pqxx::work txn(connection);
          Exec(
              txn, "rekey_opt_out_update",
              {Text(hash_after), Text(hash), reseal ? vault_.Seal(*number, kOptOutPhone) : stored});
          txn.commit();
          return 0;
        });
        if (reseal) ++report.numbers_resealed;
        if (hash != hash_after) ++report.hashes_rekeyed;
      });

  // Raw events and rejected lines: sealed again; while a hash key rotates, the hash of the number
  // each holds is re-made from the text (cursor: the id or key to walk on from, as text).
  // `by_key`: the select walks in (key, id) order (its fourth column the key), from the active
  // key's id, not in id order under the active key's pattern.
  auto rekey_raw = [&](const char* select, bool by_key, const char* update,
                       std::string_view purpose, std::string cursor,
                       std::string (*number_in)(const std::string&)) {
    std::string key_after;
    walk(
        select,
        [&] {
          return by_key ? Params{Text(key_after), Int(batch), Text(vault_.keys().active_id()),
                                 Text(cursor)}
                        : Params{Text(cursor), Int(batch), Text(active_pattern),
                                 Text(rehash ? "t" : "f")};
        },
        [&](const pqxx::row& row) {
          cursor = row[0].as<std::string>();
          if (by_key) key_after = row[3].as<std::string>();
          const std::string stored = row[1].as<std::string>();
          const auto raw = vault_.Open(stored, purpose);
          if (!raw) {
            ++report.unreadable;
            return;
          }
          std::optional<std::string> hash;
          if (rehash && !row[2].is_null()) {
            const std::string number = number_in(*raw);
            if (!number.empty()) hash = vault_.Hash(number);
          }
          const bool reseal = vault_.NeedsReseal(stored);
          const bool new_hash = hash && *hash != row[2].as<std::string>();
          if (!reseal && !new_hash) return;
          with([&](pqxx::connection& connection) {
            pqxx::work txn(connection);
            Exec(txn, update, {Text(cursor), reseal ? vault_.Seal(*raw, purpose) : stored, hash});
            txn.commit();
            return 0;
          });
          if (reseal) ++report.raw_resealed;
          if (new_hash) ++report.hashes_rekeyed;
        });
  };
  rekey_raw(rehash ? "rekey_events" : "rekey_events_sealed", !rehash, "rekey_event_update",
            kEventRaw, "", NumberInRaw);
  rekey_raw("rekey_rejected", false, "rekey_rejected_update", kRejectedRaw, "0",
            NumberInRejectedLine);

  if (rehash) {
    report.hashes_without_number = with([&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      return Exec(txn, "hashes_without_number", {})[0][0].as<std::int64_t>();
    });
  }
  if (report.unreadable > 0) {
    spdlog::error("re-key: {} value(s) do not open with any key of privacy.phone_keys",
                  report.unreadable);
  }
  return report;
}

ErasureReport PgStore::Erase(const std::string& e164, const std::string& reference,
                             bool forget_opt_out, bool dry_run, TimePoint now) {
  const auto hashes = vault_.Hashes(e164);
  ArrayLiteral all;
  for (const auto& hash : hashes) all.Add(hash);
  const std::string digits = SignificantDigits(e164);
  return WithConnection("erase", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // The number's ingest lock: nothing decides for it while it is being erased.
    Exec(txn, "erase_lock", {Int(LockKey(hashes.front()))});
    ErasureReport report;
    report.texts_cancelled = static_cast<std::int64_t>(
        Exec(txn, "erase_cancel_texts", {all.Text(), Time(now)}).affected_rows());
    report.comments =
        static_cast<std::int64_t>(Exec(txn, "erase_comments", {all.Text()}).affected_rows());
    report.alert_notes = Exec(txn, "erase_alert_notes", {all.Text()})[0][0].as<std::int64_t>();
    report.surveys = static_cast<std::int64_t>(
        Exec(txn, "erase_surveys", {all.Text(), Time(now)}).affected_rows());
    report.events =
        static_cast<std::int64_t>(Exec(txn, "erase_events", {all.Text()}).affected_rows());
    report.replies =
        static_cast<std::int64_t>(Exec(txn, "erase_replies", {all.Text()}).affected_rows());
    report.conversations =
        static_cast<std::int64_t>(Exec(txn, "erase_conversations", {all.Text()}).affected_rows());
    // Unreadable lines have no hash: each is opened and searched for the number's digits, in
    // any spelling. They are few, and kept only for retention.rejected_days.
    report.rejected_lines += Exec(txn, "erase_rejected_by_hash", {all.Text()}).affected_rows();
    for (const auto& row : Exec(txn, "erase_rejected_candidates", {})) {
      const auto raw = vault_.Open(row[1].as<std::string>(), kRejectedRaw);
      if (!raw || digits.empty() || OnlyDigits(*raw).find(digits) == std::string::npos) continue;
      Exec(txn, "erase_rejected_line", {Int(row[0].as<std::int64_t>())});
      ++report.rejected_lines;
    }
    report.opt_outs = Exec(txn, "erase_opt_out_count", {all.Text()})[0][0].as<std::int64_t>();
    if (forget_opt_out) {
      Exec(txn, "erase_opt_out_forget", {all.Text()});
    } else {
      Exec(txn, "erase_opt_out_keep", {all.Text()});
      report.opt_out_kept = report.opt_outs > 0;
    }
    const nlohmann::json removed = {{"surveys", report.surveys},
                                    {"texts_cancelled", report.texts_cancelled},
                                    {"comments", report.comments},
                                    {"events", report.events},
                                    {"rejected_lines", report.rejected_lines},
                                    {"replies", report.replies},
                                    {"conversations", report.conversations},
                                    {"opt_outs", report.opt_outs},
                                    {"opt_out_kept", report.opt_out_kept},
                                    {"alert_notes", report.alert_notes}};
    if (dry_run) return report;  // rolled back: nothing changed, nothing recorded
    Exec(txn, "erase_record", {Time(now), Text(reference), Text(removed.dump())});
    txn.commit();
    return report;
  });
}

}  // namespace surveyd::store
