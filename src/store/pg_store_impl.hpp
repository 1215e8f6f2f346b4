#pragma once
// The PostgreSQL store: one class implementing every store interface, its methods split by area
// (pg_ingest.cpp, pg_outbox.cpp, pg_surveys.cpp, pg_stats.cpp). Private to src/store, like
// everything that names pqxx.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/connection_pool.hpp"
#include "store/pg_guard.hpp"
#include "store/pg_text.hpp"
#include "store/phone_vault.hpp"
#include "surveyd/core/group_commit.hpp"
#include "surveyd/core/utf8.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::store {
namespace pg {

// Statement parameters go as text (NULL when absent) and are cast in SQL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

inline Param Text(const std::string& value) { return CleanText(value); }
inline Param NonEmpty(std::string_view value) {
  return value.empty() ? std::nullopt : Param(CleanText(value));
}
inline Param Int(std::int64_t value) { return std::to_string(value); }
inline Param Time(TimePoint value) { return FormatTimestamp(value); }
inline Param Time(const std::optional<TimePoint>& value) {
  return value ? Time(*value) : std::nullopt;
}

pqxx::result Exec(pqxx::transaction_base& txn, const char* statement, const Params& params);

// An index past every item of an ingest batch: a rejected line with no good delivery of its
// event later in the batch holds up to its end.
inline constexpr std::size_t kToTheEnd = std::numeric_limits<std::size_t>::max();

// A column read as text, absent when NULL.
inline std::optional<std::string> OptionalText(const pqxx::field& field) {
  return field.is_null() ? std::nullopt : std::optional<std::string>(field.as<std::string>());
}

// For the busy write paths (ingest, claims, records): their statements look rows up by keys
// through indexes whatever the parameters, so one plan made once serves every call. Left to
// itself PostgreSQL plans them afresh on every call (its estimate for a generic plan over
// arrays of keys is poor), which for the ingest statements cost ten times their execution.
// Sequential scans are ruled out in these transactions too: a plan made while a table was
// nearly empty (a fresh install, before autovacuum's first ANALYZE) would otherwise scan the
// whole table on every call as it grows, until the statistics catch up.
// Per transaction, not per connection: the analysts' statements on the same pool do depend
// on their parameters (a NULL filter means any).
void UseGenericPlans(pqxx::transaction_base& txn);

// An advisory lock key for a phone hash: its first 64 bits.
std::int64_t LockKey(const std::string& phone_hash);

TimePoint WallClock();

// Related events in the order they happened (then by event id): whatever order the database
// returns them in, a decision and its trace come out the same.
void SortByTime(RelatedEvents& related);

// A savepoint, rolled back when it goes out of scope unreleased, so that a statement the database
// refused can be undone without losing the transaction around it. Plain SQL rather than
// pqxx::subtransaction: in libpqxx 6.4 that issues its SAVEPOINT lazily, on the first plain
// exec(), so after prepared statements alone there is nothing to roll back to.
class Savepoint {
 public:
  Savepoint(pqxx::transaction_base& txn, std::string name);
  ~Savepoint();
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  void Release();

 private:
  pqxx::transaction_base& txn_;
  const std::string name_;
  bool done_ = false;
};

// Every statement is prepared on each connection of the pool, each area listing its own.
// Parameters are passed as text and cast in SQL; timestamps are read back as surveyd_epoch_us()
// so that nothing is rounded.
// The events of `part` screened under other rules than those of version `v`, or none, as a
// union of three ranges of the index on (phone_hash, screened_with) (EventScreen): written as
// one OR, the planner reads every event of the number instead.
#define SURVEYD_WHERE_SCREENED_ELSEWHERE(part, v)                                        \
  part " AND screened_with IS NULL UNION " part " AND screened_with < " v " UNION " part \
       " AND screened_with > " v

// When a number was last surveyed (epoch microseconds; NULL if never), of the surveys p that meet
// `condition` (its hash, and perhaps surveys before one): the surveys are found by the number's
// index and the latest taken. Fenced (OFFSET 0): max() alone invites a plan that walks an index
// by date, newest first, hoping to meet one of the number's soon, which statistics of a few busy
// numbers promise and a new number never keeps: it read every survey, for every push group
// (StoreTest.WhatDecidingNeedsFirstReadsAFewPagesWhateverTheStatisticsSaid).
#define SURVEYD_LAST_SURVEYED(condition)                                                  \
  "(SELECT surveyd_epoch_us(max(p.contact_at)) FROM (SELECT p.contact_at FROM surveys p " \
  "WHERE " condition " OFFSET 0) AS p)"
// When the number of the survey s was last surveyed before s.
#define SURVEYD_LAST_SURVEYED_BEFORE_S \
  SURVEYD_LAST_SURVEYED("p.phone_hash = s.phone_hash AND p.id < s.id")

// Of the events of the number whose hash is `hash` screened under the rules of version `v`,
// since `since`, and of the events of every incident the number appears in (migration 0046: a
// flag on an incident concerns everyone it names, whichever event carried their number): the
// newest (then the greatest event id, byte by byte) for each finding
// (EventScreen): rows of `columns` (over events, as e), one per finding (an event newest for two
// findings comes twice), then columns `holds` and `filed` (an event of another number, or none,
// filed under this one through its incident). An own row holds while its event holds the number;
// a filed row while the number still appears in its event's incident. Kept in number_findings as
// events are written (migration 0023): one range of its key, each row's event fetched by its
// primary key. A row is never older than an event that holds its finding, but may be newer: its
// event deleted, or since stripped of its number or screened again. Then, for that number, the
// findings lists are walked in the index instead (SURVEYD_WALK_NEWEST_FINDINGS), as a row that no
// longer holds must not hide an older event; each branch reads whether to as a one-time filter, so
// the walk is not even started for a number whose rows hold. The fetch is fenced (OFFSET 0) so that
// it can only be by the key: as a join on the event's number too, a generic plan made on young
// statistics read every event of the number for each row (half the read-back of a feed's batch, and
// growing with the number's history). The walk reads the number's own events only; the rows filed
// through incidents that still hold come with it (one that stopped holding, its event deleted or
// screened again, or the number's event in that incident stripped of it, could hide an older one of
// another incident: rows stop holding that way only after retention or under other rules, which the
// screen sweep files again).
#define SURVEYD_NUMBER_NEWEST_EVENTS(hash, v, since, columns)                                \
  "WITH c AS MATERIALIZED (SELECT " columns                                                  \
  ", COALESCE(e.screened_with = f.screened_with AND f.finding = ANY (e.screen_findings) "    \
  "AND CASE WHEN e.phone_hash = f.phone_hash THEN true "                                     \
  "ELSE EXISTS (SELECT 1 FROM events m WHERE m.incident_id = e.incident_id "                 \
  "AND m.phone_hash = f.phone_hash) END, false) AS holds, "                                  \
  "e.phone_hash IS DISTINCT FROM f.phone_hash AS filed "                                     \
  "FROM number_findings f LEFT JOIN LATERAL (SELECT * FROM events e "                        \
  "WHERE e.event_id = f.event_id OFFSET 0) AS e ON true "                                    \
  "WHERE f.phone_hash = " hash " AND f.screened_with = " v " AND f.occurred_at >= " since    \
  ") "                                                                                       \
  "SELECT * FROM (SELECT * FROM c WHERE NOT EXISTS (SELECT 1 FROM c WHERE NOT holds) "       \
  "UNION ALL SELECT * FROM c WHERE holds AND filed "                                         \
  "AND EXISTS (SELECT 1 FROM c WHERE NOT holds)) AS k "                                      \
  "UNION ALL SELECT " columns                                                                \
  ", true, false FROM events e WHERE e.event_id = ANY (ARRAY(" SURVEYD_WALK_NEWEST_FINDINGS( \
      hash, v, since) ")) AND EXISTS (SELECT 1 FROM c WHERE NOT holds)"
// The same from the index on events alone. A number's events share a handful of findings lists
// however many there are (though a busy number gathers dozens: every combination of flags its
// calls carried), and the index orders each list's events as they are picked (migration 0015):
// so the lists are walked backwards, one index descent each (a recursive CTE, as the index has
// no skip scan), each landing on its list's newest event, and the newest for a finding is the
// newest of the lists that hold it. Sorted byte by byte: only equal values matter, and the
// database's collation compares far slower.
#define SURVEYD_WALK_NEWEST_FINDINGS(hash, v, since) \
  "SELECT DISTINCT ON (finding COLLATE \"C\") w.event_id FROM (WITH RECURSIVE "                  \
  "lists(findings, occurred_at, event_id) AS ((" SURVEYD_NEWEST_OF_LIST(hash, v, "IS NOT NULL") \
  ") UNION ALL SELECT p.* FROM lists l CROSS JOIN LATERAL ("                                     \
  SURVEYD_NEWEST_OF_LIST(hash, v, "< l.findings") ") p) "                                         \
  "SELECT * FROM lists WHERE occurred_at >= " since ") w "                                         \
  "CROSS JOIN LATERAL unnest(w.findings) AS finding "                                              \
  "ORDER BY finding COLLATE \"C\", w.occurred_at DESC, w.event_id COLLATE \"C\" DESC"
// The newest event of the greatest findings list that meets `condition`, from the index alone.
#define SURVEYD_NEWEST_OF_LIST(hash, v, condition)                                     \
  "SELECT screen_findings, occurred_at, event_id FROM events WHERE phone_hash = " hash \
  " AND screened_with = " v " AND screen_findings " condition                          \
  " ORDER BY screen_findings DESC, "                                                   \
  "occurred_at DESC, event_id COLLATE \"C\" DESC LIMIT 1"

struct Statement {
  const char* name;
  const char* sql;
};
using Statements = std::vector<Statement>;
const Statements& IngestStatements();
const Statements& OutboxStatements();
const Statements& SurveyStatements();
const Statements& StatsStatements();
const Statements& OpsStatements();
const Statements& PrivacyStatements();
// pg_alerts.cpp: what SubmitResponse needs to store the alerts an answer raised.
const Statements& AlertInsertStatements();
// Writes each alert (once per survey and kind) with its "created" event, in the answer's
// transaction, and opens again one acknowledged or resolved that learns something new (its
// "reopened" event): a kind `written_again` raises (the citizen's new text raises it by itself),
// or an answer that now matches more. Returns how many were raised, new or again. `only_new`: a
// citizen's text outside the answer, which adds to an alert of its kind (rather than giving it
// the answer's rules now).
int InsertAlerts(pqxx::transaction_base& txn, std::int64_t survey_id,
                 const std::vector<NewAlert>& alerts, TimePoint now, bool only_new = false,
                 const std::vector<NewAlert>& written_again = {});
// The outbox kinds that are texts about the survey (store::DecidedAgain): decided again before
// they go, held by an opt-out, a rejected line or ops cancelling what waits. The others, an
// opt-out's confirmation and where to get help, answer what the citizen just wrote.
#define SURVEYD_SURVEY_TEXT_KINDS "('survey', 'question', 'closed', 'link_reply')"
// The citizen's texts about a survey that are not part of its answer (an alert shows them).
#define SURVEYD_REPLY_TEXTS "AND m.disposition IN ('reply', 'opt_out') AND m.body <> ''"
const Statements& ReplyStatements();
// pg_surveys.cpp: a row of "survey_by_token" or "survey_by_id".
SurveyView ReadSurveyView(const pqxx::row& row);

}  // namespace pg

class PgStore final : public Store {
 public:
  explicit PgStore(const PgOptions& options);

  bool Ping() override;
  std::optional<std::string> PingFailure() override;
  std::optional<TimePoint> UnreachableSince() override;
  std::optional<TimePoint> DatabaseClock() override;

  // IngestStore (pg_ingest.cpp)
  std::vector<IngestResult> IngestBatch(const std::vector<IngestItem>& items,
                                        const DecideFn& decide, const std::string& feed) override;
  std::optional<std::int64_t> FeedCursor(const std::string& feed) override;
  ScreenPass ScreenEvents(const EventScreen& screen, TimePoint oldest, TimePoint from,
                          int limit) override;

  // OutboxStore (pg_outbox.cpp)
  std::vector<OutboxMessage> ClaimAndBegin(TimePoint now, int limit, const std::string& worker,
                                           std::chrono::seconds lease,
                                           std::chrono::seconds send_lease,
                                           const EventScreen& screen,
                                           const DecideClaimFn& decide) override;
  std::vector<OutboxMessage> ClaimDue(TimePoint now, int limit, const std::string& worker,
                                      std::chrono::seconds lease,
                                      const EventScreen& screen = {}) override;
  std::vector<int> BeginSends(const std::vector<SendStart>& starts, TimePoint now,
                              std::chrono::seconds send_lease) override;
  void RecordAttempts(const std::vector<Attempt>& attempts, TimePoint now) override;
  void Reschedule(const std::vector<OutboxMessage>& messages, TimePoint next_attempt_at) override;
  void Cancel(const std::vector<Cancellation>& cancellations, const std::string& by,
              TimePoint now) override;
  int RecoverStale(TimePoint now, bool resend_safe) override;
  int ExpireOverdue(TimePoint now) override;
  bool ApplyDeliveryReport(const DeliveryReport& report) override;
  std::vector<bool> ApplyDeliveryReports(const std::vector<DeliveryReport>& reports) override;
  int TakeSendSlots(const std::string& gateway, std::int64_t bucket, int wanted, int cap,
                    int span) override;
  void SettleSendSlots(const std::string& gateway, std::int64_t granted_bucket, int granted,
                       std::int64_t sent_bucket, int sent) override;
  void HoldGateway(const std::string& gateway, std::chrono::seconds wait) override;
  std::optional<GatewayWait> GatewayHold(const std::string& gateway) override;

  // SurveyStore (pg_surveys.cpp)
  std::optional<SurveyView> FindSurveyByTokenHash(const std::string& token_hash) override;
  void MarkOpened(std::int64_t survey_id, TimePoint now) override;
  void MarkOpenedBatch(const std::vector<SurveyOpen>& opens) override;
  SubmitOutcome SubmitResponse(std::int64_t survey_id, const SurveyAnswers& answers,
                               TimePoint now) override;
  void OptOut(const std::string& e164, const std::string& source, TimePoint now) override;
  bool OptOutBySurvey(std::int64_t survey_id, const std::string& source, TimePoint now) override;
  bool KeepLateText(std::int64_t survey_id, const std::string& text,
                    const std::vector<NewAlert>& alerts, TimePoint now) override;

  // SurveyStore: citizens' texts (pg_replies.cpp)
  ReplyOutcome ReceiveReply(const InboundSms& sms, const ReplyFn& plan, const AlertFn& raise_alerts,
                            TimePoint now) override;

  // StatsStore (pg_stats.cpp)
  Funnel GetFunnel(const StatsFilter& filter) override;
  std::vector<QuestionStat> GetQuestionStats(const StatsFilter& filter) override;

  // OpsStore (pg_ops.cpp)
  QueueStats GetQueueStats(TimePoint now) override;
  std::optional<SendHold> ActiveSendHold() override;
  HoldOutcome HoldSends(const std::string& reason, const std::string& by) override;
  ReleaseOutcome ReleaseSends(const std::string& by, const std::string& note, bool cancel_waiting,
                              TimePoint now) override;

  // PrivacyStore (pg_privacy.cpp)
  RetentionReport RunRetention(const RetentionPolicy& policy, TimePoint now,
                               const std::string& worker) override;
  RekeyReport Rekey(TimePoint now) override;
  ErasureReport Erase(const std::string& e164, const std::string& reference, bool forget_opt_out,
                      bool dry_run, TimePoint now) override;

 private:
  // Runs `work` on a pooled connection and turns every libpqxx error into Unavailable. The
  // messages name the operation and the SQLSTATE only: server messages can quote row values,
  // which may be personal data.
  template <typename Work>
  auto WithConnection(const char* operation, Work&& work)
      -> decltype(work(std::declval<pqxx::connection&>())) {
    auto lease = pool_.Acquire();
    return WithLease(lease, operation, std::forward<Work>(work));
  }
  // The same on a connection the caller already holds (a session that keeps an advisory lock).
  template <typename Work>
  auto WithLease(ConnectionPool::Lease& lease, const char* operation, Work&& work)
      -> decltype(work(std::declval<pqxx::connection&>())) {
    return pg::WithLease(lease, operation, std::forward<Work>(work));
  }

  // pg_ingest.cpp
  std::vector<IngestResult> IngestNow(const std::vector<IngestItem>& items, const DecideFn& decide,
                                      const std::string& feed);
  std::vector<IngestResult> IngestTogether(const std::vector<IngestItem>& items,
                                           const DecideFn& decide, const std::string& feed);
  std::vector<IngestResult> IngestOneByOne(pqxx::transaction_base& txn,
                                           const std::vector<IngestItem>& items,
                                           const DecideFn& decide, TimePoint received_at);
  std::vector<IngestResult> Ingest(pqxx::transaction_base& txn,
                                   const std::vector<IngestItem>& items, const DecideFn& decide,
                                   TimePoint received_at);
  // The incidents and numbers (hashes under every key) whose texts a batch's rejected lines
  // hold, and their lock keys; and each such line with its place in the batch, for the events
  // delivered after it.
  struct HeldContacts {
    struct Line {
      std::size_t item = 0;  // its index in the batch
      // The index of a good delivery of its event_id later in the batch (kToTheEnd: none).
      std::size_t until = pg::kToTheEnd;
      std::string incident, hash;  // hash: under the active key
    };
    pg::ArrayLiteral incidents, hashes;
    std::vector<std::int64_t> lock_keys;
    std::vector<Line> lines;
  };
  // Each event_id of a batch's good events -> the index of its first delivery in the batch.
  using FirstDeliveries = std::unordered_map<std::string, std::size_t>;
  // What a first delivery's later lines in the same batch add to it.
  struct Repeats {
    int count = 0;                         // lines after the first
    std::optional<std::int64_t> last_seq;  // the highest feed sequence number of all its lines
    // Each line's sequence number, the first's included, once there is more than one: which of
    // them the feed sends again and which are new is decided line by line ("ingest_events").
    std::vector<std::optional<std::int64_t>> seqs;
  };
  pg::ArrayLiteral StoreEvents(pqxx::transaction_base& txn, const std::vector<IngestItem>& items,
                               std::vector<std::size_t> candidates,
                               const FirstDeliveries& first_index,
                               const std::vector<Repeats>& repeats, const DecideFn& decide,
                               TimePoint received_at, std::vector<IngestResult>& results,
                               const HeldContacts& held);
  // An event without a number is filed under its incident's (`hashes`, by item): the number of
  // the incident's first event that has one, stored or delivered earlier in the batch. A flag
  // on a closure that names no caller then reaches the caller's other contacts through the
  // number's look-back, as it reaches the incident's own. The event still decides as one without
  // a number (no text); only the hash is stored with it.
  void FileNumberlessUnderIncidents(pqxx::transaction_base& txn,
                                    const std::vector<IngestItem>& items,
                                    const std::vector<std::size_t>& candidates,
                                    std::vector<std::string>& hashes);
  // A second delivery of an event (stored before, or earlier in the batch) that could rule
  // contacts out where its first could not (`first_findings`: event_id -> the first delivery's
  // findings) is kept as a line that cannot be decided against and holds the texts of its
  // incident and number, as a rejected line does. Sets those results' reasons.
  void HoldRedeliveriesThatRuleOut(
      pqxx::transaction_base& txn, const std::vector<IngestItem>& items, const EventScreen& screen,
      const std::unordered_map<std::string, std::vector<std::string>>& first_findings,
      TimePoint received_at, std::vector<IngestResult>& results);
  // pg_outbox.cpp
  // The claimed messages of a claim's rows (claim_due's columns), each with what deciding it
  // again needs: its event, its incident's and its number's, read back under `screen`.
  std::vector<OutboxMessage> ReadClaimed(pqxx::transaction_base& txn, const pqxx::result& rows,
                                         const EventScreen& screen);
  std::vector<bool> ApplyDeliveryReportsNow(const std::vector<DeliveryReport>& reports);
  // A report's move of its message, applied only forward (outbox_state_rank).
  struct Advancement {
    std::int64_t outbox_id;
    DeliveryState state;
    pg::Param error_code;
    TimePoint at;
  };
  // Applies `advancements` as if one by one in their order.
  void AdvanceInOrder(pqxx::transaction_base& txn, const std::vector<Advancement>& advancements);
  // pg_privacy.cpp: under the retention lock, held by `lease`'s session.
  RetentionReport RetentionLocked(ConnectionPool::Lease& lease, const RetentionPolicy* policy,
                                  TimePoint now, const std::string& worker);
  RekeyReport RekeyLocked(ConnectionPool::Lease& lease, int batch);
  // pg_surveys.cpp
  void OptOutNumber(pqxx::work& txn, const std::string& e164, const std::string& hash,
                    const std::string& source, TimePoint now);

  const PhoneVault vault_;
  ConnectionPool pool_;
  // Concurrent pushes (one event per request, often) and delivery reports share transactions
  // rather than paying a commit each.
  GroupCommit<IngestItem, IngestResult> pushes_{500, &RequestMayBeAtFault};
  GroupCommit<DeliveryReport, bool> reports_{200, &RequestMayBeAtFault};
  // Unavailable (the database down, the pool exhausted) is never one request's fault.
  static bool RequestMayBeAtFault(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const Unavailable&) {
      return false;
    } catch (...) {
      return true;
    }
  }
};

}  // namespace surveyd::store
