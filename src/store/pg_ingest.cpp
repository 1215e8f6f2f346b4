// IngestStore: events stored once each with their decisions, surveys and outbox rows, one
// transaction per batch.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "store/pg_store_impl.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/survey/token.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace {

std::optional<std::string> AgeBand(const std::optional<int>& age) {
  if (!age || *age < 0 || *age > 130) return std::nullopt;
  if (*age < 18) return "under_18";
  if (*age < 25) return "18-24";
  if (*age < 35) return "25-34";
  if (*age < 45) return "35-44";
  if (*age < 55) return "45-54";
  if (*age < 65) return "55-64";
  if (*age < 75) return "65-74";
  return "75+";
}

// The columns of the surveys decided in one batch, as arrays for unnest().
struct SurveyColumns {
  ArrayLiteral event_id, group_id, language, phone_e164, phone_hash, event_type, channel, type_code,
      category, grade, npu, beat, postcode_district, handler_id, handler_team, officer_id,
      department, caller_role, caller_age_band, caller_gender, caller_ethnicity, contact_at,
      send_at, expires_at, sms_template, token_nonce, closes_at;

  void Add(const Event& event, const Decision& decision, const std::string& e164,
           const std::string& hash) {
    event_id.Add(event.event_id);
    group_id.Add(decision.group);
    language.Add(decision.language.empty() ? std::string("en") : decision.language);
    phone_e164.Add(e164);
    phone_hash.Add(hash);
    event_type.Add(EventTypeName(event.type));
    channel.Add(event.call ? event.call->channel : std::nullopt);
    type_code.Add(event.incident.type_code);
    category.Add(event.incident.category);
    grade.Add(event.incident.grade);
    npu.Add(event.incident.location.npu);
    beat.Add(event.incident.location.beat);
    postcode_district.Add(event.incident.location.postcode_district);
    handler_id.Add(event.call ? event.call->handler_id : std::nullopt);
    handler_team.Add(event.call ? event.call->handler_team : std::nullopt);
    officer_id.Add(event.resource ? event.resource->officer_id : std::nullopt);
    department.Add(event.resource ? event.resource->department : std::nullopt);
    caller_role.Add(event.caller ? event.caller->role : std::nullopt);
    caller_age_band.Add(event.caller ? AgeBand(event.caller->age) : std::nullopt);
    caller_gender.Add(event.caller ? event.caller->gender : std::nullopt);
    caller_ethnicity.Add(event.caller ? event.caller->ethnicity : std::nullopt);
    contact_at.AddTime(event.occurred_at);
    send_at.AddTime(decision.send_at);
    expires_at.AddTime(decision.expires_at);
    sms_template.Add(decision.sms_template);
    token_nonce.Add(survey::NewNonce());
    // The page never closes before the last moment the text may go out.
    closes_at.AddTime(std::max(decision.survey_closes_at, decision.expires_at));
  }

  Params ToParams(TimePoint created_at) const {
    return {
        Time(created_at),     event_id.Text(),          group_id.Text(),    language.Text(),
        phone_e164.Text(),    phone_hash.Text(),        event_type.Text(),  channel.Text(),
        type_code.Text(),     category.Text(),          grade.Text(),       npu.Text(),
        beat.Text(),          postcode_district.Text(), handler_id.Text(),  handler_team.Text(),
        officer_id.Text(),    department.Text(),        caller_role.Text(), caller_age_band.Text(),
        caller_gender.Text(), caller_ethnicity.Text(),  contact_at.Text(),  send_at.Text(),
        expires_at.Text(),    sms_template.Text(),      token_nonce.Text(), closes_at.Text()};
  }
};

}  // namespace

namespace pg {

const Statements& IngestStatements() {
  static const Statements kStatements = {
      {"ingest_rejected",
       "INSERT INTO rejected_events (event_id, source, seq, reject_reason, raw, received_at) "
       "SELECT t.*, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::bigint[], "
       "$5::text[], $6::text[]) AS t"},
      // Events go in with their decisions (NULL for those already stored), so that no row is
      // written twice. A later delivery of a stored event only counts itself; (xmax = 0) tells
      // a fresh insert from a conflict.
      {"ingest_events",
       "INSERT INTO events (event_id, source, seq, type, occurred_at, duplicates, raw, "
       "decision, decision_reason, decision_group, decision_trace, received_at) "
       "SELECT t.id, t.source, t.seq, t.type, t.occurred_at, t.duplicates, t.raw, t.decision, "
       "t.reason, t.grp, t.trace::jsonb, $1::timestamptz FROM unnest($2::text[], $3::text[], "
       "$4::bigint[], $5::text[], $6::timestamptz[], $7::int[], $8::text[], $9::text[], "
       "$10::text[], $11::text[], $12::text[]) "
       "AS t(id, source, seq, type, occurred_at, duplicates, raw, decision, reason, grp, trace) "
       "ON CONFLICT (event_id) DO UPDATE "
       "SET duplicates = events.duplicates + excluded.duplicates + 1 "
       "RETURNING event_id, (xmax = 0) AS inserted"},
      {"events_stored", "SELECT event_id FROM events WHERE event_id = ANY($1::text[])"},
      // The subquery's ORDER BY fixes the order in which the locks are taken, so that two
      // batches sharing numbers cannot deadlock.
      {"lock_phones",
       "SELECT count(pg_advisory_xact_lock(k)) FROM "
       "(SELECT DISTINCT k FROM unnest($1::bigint[]) AS t(k) ORDER BY k) AS sorted"},
      {"phone_history",
       "SELECT h, EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone_hash = h), "
       "(SELECT surveyd_epoch_us(max(s.contact_at)) FROM surveys s WHERE s.phone_hash = h) "
       "FROM unnest($1::text[]) AS t(h)"},
      {"ingest_surveys",
       "WITH s AS (INSERT INTO surveys (event_id, group_id, language, phone_e164, phone_hash, "
       "event_type, channel, incident_type_code, incident_category, incident_grade, npu, beat, "
       "postcode_district, handler_id, handler_team, officer_id, department, caller_role, "
       "caller_age_band, caller_gender, caller_ethnicity, contact_at, send_at, expires_at, "
       "sms_template, token_nonce, closes_at, created_at) "
       "SELECT t.*, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], "
       "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
       "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], "
       "$19::text[], $20::text[], $21::text[], $22::text[], $23::timestamptz[], "
       "$24::timestamptz[], $25::timestamptz[], $26::text[], $27::text[], $28::timestamptz[]) AS t "
       "RETURNING id, send_at) "
       "INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at) "
       "SELECT id, 'svy-' || id || '-' || substr(md5(random()::text), 1, 8), 'pending', "
       "send_at, $1::timestamptz FROM s"},
      {"feed_cursor_set",
       "INSERT INTO feed_cursors (feed, seq, updated_at) VALUES ($1, $2::bigint, $3) "
       "ON CONFLICT (feed) DO UPDATE SET seq = GREATEST(feed_cursors.seq, excluded.seq), "
       "updated_at = excluded.updated_at"},
      {"feed_cursor_get", "SELECT seq FROM feed_cursors WHERE feed = $1"},
  };
  return kStatements;
}

}  // namespace pg

std::vector<IngestResult> PgStore::IngestBatch(const std::vector<IngestItem>& items,
                                               const DecideFn& decide, const std::string& feed) {
  return WithConnection("ingest", [&](pqxx::connection& connection) {
    // Two instances storing overlapping batches can still deadlock on each other's new rows
    // in rare interleavings; deciding is pure, so the batch is simply run again.
    for (int attempt = 1;; ++attempt) {
      try {
        return Ingest(connection, items, decide, feed);
      } catch (const pqxx::sql_error& e) {
        const bool retryable = e.sqlstate() == "40P01" || e.sqlstate() == "40001";
        if (!retryable || attempt == 3) throw;
        spdlog::info("store: ingest retried after SQLSTATE {}", e.sqlstate());
      }
    }
  });
}

std::optional<std::int64_t> PgStore::FeedCursor(const std::string& feed) {
  return WithConnection("feed cursor", [&](pqxx::connection& connection) {
    pqxx::read_transaction txn(connection);
    auto rows = Exec(txn, "feed_cursor_get", {Text(feed)});
    if (rows.empty()) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(rows[0][0].as<std::int64_t>());
  });
}

std::vector<IngestResult> PgStore::Ingest(pqxx::connection& connection,
                                          const std::vector<IngestItem>& items,
                                          const DecideFn& decide, const std::string& feed) {
  const TimePoint received_at = WallClock();
  std::vector<IngestResult> results(items.size());
  std::unordered_map<std::string, std::size_t> first_index;  // event_id -> item
  std::vector<std::size_t> candidates;                       // first delivery in this batch
  std::vector<int> repeats(items.size(), 0);
  ArrayLiteral rejected_id, rejected_source, rejected_seq, rejected_reason, rejected_raw;
  std::optional<std::int64_t> max_seq;

  for (std::size_t i = 0; i < items.size(); ++i) {
    const IngestItem& item = items[i];
    const std::optional<std::int64_t> seq =
        item.seq ? item.seq : (item.event ? item.event->seq : std::nullopt);
    if (seq) max_seq = std::max(max_seq.value_or(*seq), *seq);
    if (!item.event || item.event->event_id.empty()) {
      std::string reason = item.event ? "missing event_id" : item.reject_reason;
      if (reason.empty()) reason = "rejected";
      const std::string& id = item.event_id;
      results[i] = {id, IngestOutcome::kRejected, reason};
      rejected_id.Add(id.empty() ? std::nullopt : std::optional<std::string_view>(id));
      rejected_source.Add(item.source);
      rejected_seq.AddInt(seq);
      rejected_reason.Add(reason);
      rejected_raw.Add(item.raw);
      continue;
    }
    const std::string& id = item.event->event_id;
    auto [it, fresh] = first_index.emplace(id, i);
    if (fresh) {
      candidates.push_back(i);
    } else {
      results[i] = {id, IngestOutcome::kDuplicate, "duplicate"};
      ++repeats[it->second];
    }
  }

  pqxx::work txn(connection);
  if (!rejected_id.empty()) {
    Exec(txn, "ingest_rejected",
         {Time(received_at), rejected_id.Text(), rejected_source.Text(), rejected_seq.Text(),
          rejected_reason.Text(), rejected_raw.Text()});
  }

  if (!candidates.empty()) {
    StoreEvents(txn, items, candidates, repeats, decide, received_at, results);
  }

  if (!feed.empty() && max_seq) {
    Exec(txn, "feed_cursor_set", {Text(feed), Int(*max_seq), Time(received_at)});
  }
  txn.commit();
  return results;
}

// Decides the first deliveries in the batch of events not stored yet, then stores them all with
// their decisions, and the surveys to send, in three statements.
void PgStore::StoreEvents(pqxx::work& txn, const std::vector<IngestItem>& items,
                          std::vector<std::size_t> candidates, const std::vector<int>& repeats,
                          const DecideFn& decide, TimePoint received_at,
                          std::vector<IngestResult>& results) {
  // Each number's history is read once for the batch, under a lock on that number held to
  // the end of the transaction, so two instances cannot both survey one number. Taken before
  // the events go in: a concurrent delivery of one of these events (which has the same number)
  // is then either committed and seen below, or waits for this transaction.
  std::vector<std::string> hashes(items.size());
  std::vector<std::string> numbers(items.size());
  ArrayLiteral lock_keys, lookup, ids;
  std::set<std::string> distinct;
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    ids.Add(event.event_id);
    if (!event.caller || !event.caller->phone) continue;
    numbers[i] = phone::Normalize(*event.caller->phone).e164;
    if (numbers[i].empty()) continue;
    hashes[i] = phone::KeyedHash(phone_hash_key_, numbers[i]);
    if (distinct.insert(hashes[i]).second) {
      lock_keys.AddInt(LockKey(hashes[i]));
      lookup.Add(hashes[i]);
    }
  }
  std::unordered_map<std::string, ContactHistory> history;
  if (!distinct.empty()) {
    Exec(txn, "lock_phones", {lock_keys.Text()});
    for (const auto& row : Exec(txn, "phone_history", {lookup.Text()})) {
      ContactHistory& entry = history[row[0].as<std::string>()];
      entry.opted_out = row[1].as<bool>();
      if (!row[2].is_null())
        entry.last_surveyed_at = pg::FromEpochMicros(row[2].as<std::int64_t>());
    }
  }
  std::unordered_set<std::string> stored;
  for (const auto& row : Exec(txn, "events_stored", {ids.Text()})) {
    stored.insert(row[0].as<std::string>());
  }

  // Decided in delivery order, so later events in the batch see the surveys of earlier ones.
  struct Decided {
    Decision decision;
    std::string e164, hash, reason, trace;
  };
  std::vector<std::optional<Decided>> decided(items.size());
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    if (stored.count(event.event_id) != 0) continue;
    const ContactHistory none;
    const auto found = hashes[i].empty() ? history.end() : history.find(hashes[i]);
    Decided& d = decided[i].emplace();
    d.decision = decide(event, found == history.end() ? none : found->second);
    Decision& decision = d.decision;
    d.e164 = decision.phone.e164.empty() ? numbers[i] : decision.phone.e164;
    d.hash = d.e164 == numbers[i] ? hashes[i] : phone::KeyedHash(phone_hash_key_, d.e164);
    if (decision.outcome == Decision::Outcome::kSurvey && d.e164.empty()) {
      // The rules should have excluded it; never queue a message without a number.
      decision.outcome = Decision::Outcome::kExcluded;
      decision.reason = "no_phone";
    }
    if (decision.outcome == Decision::Outcome::kSurvey) {
      auto& seen = history[d.hash].last_surveyed_at;
      if (!seen || *seen < event.occurred_at) seen = event.occurred_at;
    }
    d.reason = decision.reason.empty() ? OutcomeName(decision.outcome) : decision.reason;
    d.trace = nlohmann::json(decision.trace)
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // Rows are inserted in event_id order, so that two batches holding the same events lock
  // them in the same order.
  std::sort(candidates.begin(), candidates.end(), [&](std::size_t a, std::size_t b) {
    return items[a].event->event_id < items[b].event->event_id;
  });
  ArrayLiteral id, source, seq, type, occurred_at, duplicates, raw, outcomes, reasons, groups,
      traces;
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    id.Add(event.event_id);
    source.Add(items[i].source);
    seq.AddInt(items[i].seq ? items[i].seq : event.seq);
    type.Add(EventTypeName(event.type));
    occurred_at.AddTime(event.occurred_at);
    duplicates.AddInt(repeats[i]);
    raw.Add(items[i].raw);
    if (decided[i]) {
      outcomes.Add(OutcomeName(decided[i]->decision.outcome));
      reasons.Add(decided[i]->reason);
      groups.Add(NonEmpty(decided[i]->decision.group));
      traces.Add(decided[i]->trace);
    } else {
      outcomes.AddNull();
      reasons.AddNull();
      groups.AddNull();
      traces.AddNull();
    }
  }
  auto rows = Exec(txn, "ingest_events",
                   {Time(received_at), id.Text(), source.Text(), seq.Text(), type.Text(),
                    occurred_at.Text(), duplicates.Text(), raw.Text(), outcomes.Text(),
                    reasons.Text(), groups.Text(), traces.Text()});
  std::unordered_set<std::string> inserted;
  for (const auto& row : rows) {
    if (row[1].as<bool>()) inserted.insert(row[0].as<std::string>());
  }

  // A decision counts only if its row went in: an event with no number takes no lock, and a
  // concurrent delivery of it may have won (it could not have been surveyed anyway).
  std::sort(candidates.begin(), candidates.end());
  SurveyColumns surveys;
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    if (!decided[i] || inserted.count(event.event_id) == 0) {
      results[i] = {event.event_id, IngestOutcome::kDuplicate, "duplicate"};
      continue;
    }
    Decided& d = *decided[i];
    if (d.decision.outcome == Decision::Outcome::kSurvey) {
      surveys.Add(event, d.decision, d.e164, d.hash);
    }
    results[i] = {event.event_id, IngestOutcome::kAccepted, std::move(d.reason)};
  }
  if (!surveys.event_id.empty()) Exec(txn, "ingest_surveys", surveys.ToParams(received_at));
}

}  // namespace surveyd::store
