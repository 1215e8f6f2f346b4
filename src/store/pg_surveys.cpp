// SurveyStore: the citizen's side (look-up by token hash, first open, answers) and opt-outs.
#include <stdexcept>

#include "store/pg_store_impl.hpp"
#include "surveyd/core/phone.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace pg {

// A survey as its page and its replies see it (ReadSurveyView reads them in this order).
#define SURVEYD_SURVEY_VIEW_COLUMNS                                       \
  "s.id, s.group_id, s.language, s.event_type, s.channel, "               \
  "surveyd_epoch_us(s.contact_at), surveyd_epoch_us(s.closes_at), "       \
  "s.responded_at IS NOT NULL, surveyd_epoch_us(s.opened_at), "           \
  "EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone_hash = s.phone_hash), " \
  "s.phone_hash IS NOT NULL "

const Statements& SurveyStatements() {
  static const Statements kStatements = {
      {"lock_phone", "SELECT pg_advisory_xact_lock($1::bigint)"},
      // The number goes in encrypted, so that a new hash key can be applied to it later.
      {"opt_out_insert",
       "INSERT INTO opt_outs (phone_hash, source, at, phone_enc) "
       "VALUES ($1, $2, $3::timestamptz, $4) "
       "ON CONFLICT (phone_hash) DO UPDATE SET phone_enc = COALESCE(opt_outs.phone_enc, "
       "excluded.phone_enc)"},
      // $1: the number's hashes under every key (the active one first).
      {"opt_out_cancel",
       "UPDATE outbox o SET state = CASE WHEN o.maybe_sent THEN 'in_doubt' ELSE 'cancelled' END, "
       "cancel_reason = 'opted_out', "
       "cancelled_by = $3, claim_token = NULL, claimed_by = NULL, lease_until = NULL, "
       "updated_at = $2::timestamptz FROM surveys s WHERE s.id = o.survey_id "
       "AND s.phone_hash = ANY($1::text[]) AND o.state IN ('pending', 'claimed') "
       "AND o.kind IN " SURVEYD_SURVEY_TEXT_KINDS},
      {"survey_phone_hash",
       "SELECT phone_hash, COALESCE(phone_enc, phone_e164) FROM surveys WHERE id = $1::bigint"},
      {"survey_by_token",
       "SELECT " SURVEYD_SURVEY_VIEW_COLUMNS
       "FROM survey_links l JOIN surveys s ON s.id = l.survey_id WHERE l.token_hash = $1"},
      {"survey_by_id",
       "SELECT " SURVEYD_SURVEY_VIEW_COLUMNS "FROM surveys s WHERE s.id = $1::bigint"},
      {"mark_opened",
       "UPDATE surveys SET opened_at = $2::timestamptz WHERE id = $1::bigint "
       "AND opened_at IS NULL"},
      // One survey twice in a batch is updated once (with either time: both are first opens
      // within a flush interval).
      {"mark_opened_batch",
       "UPDATE surveys s SET opened_at = t.at FROM unnest($1::bigint[], $2::timestamptz[]) "
       "AS t(id, at) WHERE s.id = t.id AND s.opened_at IS NULL"},
      {"submit_check",
       "SELECT surveyd_epoch_us(closes_at), responded_at IS NOT NULL FROM surveys "
       "WHERE id = $1::bigint FOR UPDATE"},
      {"submit_insert",
       "INSERT INTO responses (survey_id, q1, q2, q3, q4, q5, comment, language, submitted_at) "
       "VALUES ($1::bigint, $2::smallint, $3::smallint, $4::smallint, $5::smallint, "
       "$6::smallint, $7, $8, $9::timestamptz) ON CONFLICT (survey_id) DO NOTHING"},
      {"submit_mark", "UPDATE surveys SET responded_at = $2::timestamptz WHERE id = $1::bigint"},
      // A text written on a closed or answered survey's page, kept as a text back to it is
      // (gateway 'survey_link', migration 0036): once, and at most $4 of them per survey.
      {"late_text_insert",
       "INSERT INTO inbound_messages (gateway, phone_hash, body, received_at, stored_at, "
       "survey_id, disposition) SELECT 'survey_link', s.phone_hash, $2, $3::timestamptz, "
       "$3::timestamptz, s.id, 'reply' FROM surveys s WHERE s.id = $1::bigint "
       "AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = s.id AND r.comment = $2) "
       "AND NOT EXISTS (SELECT 1 FROM inbound_messages m WHERE m.survey_id = s.id "
       "AND m.body = $2) AND (SELECT count(*) FROM inbound_messages m WHERE m.survey_id = s.id "
       "AND m.gateway = 'survey_link') < $4::int RETURNING 1"},
  };
  return kStatements;
}

SurveyView ReadSurveyView(const pqxx::row& row) {
  SurveyView view;
  view.survey_id = row[0].as<std::int64_t>();
  view.group = row[1].as<std::string>();
  view.language = row[2].as<std::string>();
  view.event_type = ParseEventType(row[3].as<std::string>()).value_or(EventType::kCallEnded);
  if (!row[4].is_null()) view.channel = row[4].as<std::string>();
  view.contact_at = pg::FromEpochMicros(row[5].as<std::int64_t>());
  view.expires_at = pg::FromEpochMicros(row[6].as<std::int64_t>());
  view.responded = row[7].as<bool>();
  if (!row[8].is_null()) view.opened_at = pg::FromEpochMicros(row[8].as<std::int64_t>());
  view.opted_out = row[9].as<bool>();
  view.number_known = row[10].as<bool>();
  return view;
}

}  // namespace pg

void PgStore::OptOut(const std::string& e164, const std::string& source, TimePoint now) {
  const phone::Number number = phone::Normalize(e164);
  const std::string normalized = number.e164.empty() ? e164 : number.e164;
  WithConnection("opt-out", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    OptOutNumber(txn, normalized, vault_.Hash(normalized), source, now);
    txn.commit();
    return 0;
  });
}

bool PgStore::OptOutBySurvey(std::int64_t survey_id, const std::string& source, TimePoint now) {
  return WithConnection("opt-out", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto rows = Exec(txn, "survey_phone_hash", {Int(survey_id)});
    if (rows.empty() || rows[0][0].is_null()) return false;  // its number is long erased
    // The number itself, while the survey still holds it; else the hash alone (which a later
    // hash key rotation cannot carry over: docs/data-protection.md).
    const auto number = vault_.Open(
        rows[0][1].is_null() ? std::nullopt : std::optional(rows[0][1].as<std::string>()),
        kSurveyPhone);
    OptOutNumber(txn, number.value_or(""), rows[0][0].as<std::string>(), source, now);
    txn.commit();
    return true;
  });
}

std::optional<SurveyView> PgStore::FindSurveyByTokenHash(const std::string& token_hash) {
  return WithConnection("find survey", [&](pqxx::connection& connection) {
    pqxx::read_transaction txn(connection);
    auto rows = Exec(txn, "survey_by_token", {Text(token_hash)});
    if (rows.empty()) return std::optional<SurveyView>();
    return std::optional<SurveyView>(ReadSurveyView(rows[0]));
  });
}

void PgStore::MarkOpened(std::int64_t survey_id, TimePoint now) {
  WithConnection("mark opened", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "mark_opened", {Int(survey_id), Time(now)});
    txn.commit();
    return 0;
  });
}

void PgStore::MarkOpenedBatch(const std::vector<SurveyOpen>& opens) {
  if (opens.empty()) return;
  pg::ArrayLiteral ids, times;
  for (const auto& open : opens) {
    ids.AddInt(open.survey_id);
    times.AddTime(open.at);
  }
  WithConnection("mark opened", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "mark_opened_batch", {ids.Text(), times.Text()});
    txn.commit();
    return 0;
  });
}

SubmitOutcome PgStore::SubmitResponse(std::int64_t survey_id, const SurveyAnswers& answers,
                                      TimePoint now) {
  Params params{Int(survey_id)};
  for (const auto& q : answers.q) {
    if (q && (*q < 0 || *q > 10)) throw std::invalid_argument("answer out of range 0-10");
    params.push_back(q ? Int(*q) : std::nullopt);
  }
  params.push_back(Text(TruncateCodePoints(answers.comment, 2000)));
  params.push_back(Text(answers.language));
  params.push_back(Time(now));
  return WithConnection("submit", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto rows = Exec(txn, "submit_check", {Int(survey_id)});
    if (rows.empty()) return SubmitOutcome::kNotFound;
    if (rows[0][1].as<bool>()) return SubmitOutcome::kAlreadyAnswered;
    if (pg::FromEpochMicros(rows[0][0].as<std::int64_t>()) < now) return SubmitOutcome::kExpired;
    if (Exec(txn, "submit_insert", params).affected_rows() == 0) {
      return SubmitOutcome::kAlreadyAnswered;
    }
    Exec(txn, "submit_mark", {Int(survey_id), Time(now)});
    InsertAlerts(txn, survey_id, answers.alerts, now);  // with the answer, or not at all
    txn.commit();
    return SubmitOutcome::kStored;
  });
}

bool PgStore::KeepLateText(std::int64_t survey_id, const std::string& text,
                           const std::vector<NewAlert>& alerts, TimePoint now) {
  const std::string kept = TruncateCodePoints(text, 2000);
  if (kept.empty()) return false;
  return WithConnection("late text", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // The survey's row first: two posts of the same words at once are kept once.
    if (Exec(txn, "submit_check", {Int(survey_id)}).empty()) return false;
    if (Exec(txn, "late_text_insert", {Int(survey_id), Text(kept), Time(now), Int(kMaxLateTexts)})
            .empty()) {
      return false;
    }
    // As a text back by SMS: it adds to an alert of its kind, or opens one dealt with again.
    InsertAlerts(txn, survey_id, alerts, now, /*only_new=*/true);
    txn.commit();
    return true;
  });
}

// Serialised with ingest by the same advisory lock, so a survey decided concurrently for this
// number is either seen and cancelled here or sees the opt-out. `e164` may be empty (the hash is
// all that is left of it).
void PgStore::OptOutNumber(pqxx::work& txn, const std::string& e164, const std::string& hash,
                           const std::string& source, TimePoint now) {
  Exec(txn, "lock_phone", {Int(LockKey(hash))});
  Exec(txn, "opt_out_insert",
       {hash, Text(source), Time(now),
        e164.empty() ? std::nullopt : Param(vault_.Seal(e164, kOptOutPhone))});
  ArrayLiteral hashes;
  hashes.Add(hash);
  if (!e164.empty()) {
    for (const auto& other : vault_.Hashes(e164)) {
      if (other != hash) hashes.Add(other);
    }
  }
  Exec(txn, "opt_out_cancel", {hashes.Text(), Time(now), Text("opt_out:" + source)});
}

}  // namespace surveyd::store
