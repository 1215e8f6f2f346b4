// AlertStore: alerts raised by answers (written by SubmitResponse through InsertAlerts), what
// people do to them, their notices, recognition and the weekly digests. A store of its own on a
// small pool, like the analysts'; only InsertAlerts runs on the survey store's connections.
#include "surveyd/store/pg_alerts.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "store/pg_store_impl.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace pg {

const Statements& AlertInsertStatements() {
  static const Statements kStatements = {
      // Once per survey and kind: the answer's own transaction already holds the survey row,
      // and the unique key settles anything else. A two-way answer is read again after each
      // text: a kind raised by an earlier text stays the one alert, brought up to what the
      // answer as it stands raises (the rules that fired, what matched, their severity: more
      // of the answer only fires more rules), and is not "created" again (xmax = 0 only for a
      // row inserted here).
      {"alert_insert",
       "WITH a AS (INSERT INTO alerts (survey_id, kind, severity, rules, matched, created_at, "
       "next_round_at) VALUES ($1::bigint, $2, $3, $4::jsonb, $5::jsonb, $6::timestamptz, "
       "$6::timestamptz) ON CONFLICT (survey_id, kind) DO UPDATE SET rules = excluded.rules, "
       "matched = excluded.matched, severity = excluded.severity "
       "WHERE (alerts.rules, alerts.matched, alerts.severity) IS DISTINCT FROM "
       "(excluded.rules, excluded.matched, excluded.severity) RETURNING id, xmax = 0 AS created) "
       "INSERT INTO alert_events (alert_id, at, action) SELECT id, $6::timestamptz, 'created' "
       "FROM a WHERE created RETURNING alert_id"},
      // The same for a citizen's text outside an answer: what it matched joins the alert's,
      // and the higher severity stays (the texts themselves are in its view and reveal).
      {"alert_insert_new",
       "WITH a AS (INSERT INTO alerts (survey_id, kind, severity, rules, matched, created_at, "
       "next_round_at) VALUES ($1::bigint, $2, $3, $4::jsonb, $5::jsonb, $6::timestamptz, "
       "$6::timestamptz) ON CONFLICT (survey_id, kind) DO UPDATE SET "
       "rules = (SELECT COALESCE(jsonb_agg(DISTINCT x), '[]') FROM "
       "jsonb_array_elements(alerts.rules || excluded.rules) x), "
       "matched = (SELECT COALESCE(jsonb_agg(DISTINCT x), '[]') FROM "
       "jsonb_array_elements(alerts.matched || excluded.matched) x), "
       "severity = CASE WHEN 'urgent' IN (alerts.severity, excluded.severity) THEN 'urgent' "
       "WHEN 'high' IN (alerts.severity, excluded.severity) THEN 'high' ELSE 'normal' END "
       "RETURNING id, xmax = 0 AS created) "
       "INSERT INTO alert_events (alert_id, at, action) SELECT id, $6::timestamptz, 'created' "
       "FROM a WHERE created RETURNING alert_id"},
      // An alert acknowledged or resolved opens again when the citizen writes again and the
      // text raises its kind ($6), or when an answer growing by text discloses more than it
      // did (what it matches now is not all in the alert's): a supervisor who closed it
      // knew only what was there then. Its next notice goes at once and says it was reopened
      // (reopened_round); run before the alert takes the new text's rules and words.
      {"alert_reopen",
       "WITH r AS (UPDATE alerts SET status = 'open', status_at = $3::timestamptz, "
       "status_by = NULL, status_note = NULL, reopened_at = $3::timestamptz, "
       "reopened_round = rounds, next_round_at = $3::timestamptz "
       "WHERE survey_id = $1::bigint AND kind = $2 AND status <> 'open' "
       "AND ($6::boolean OR NOT (rules @> $4::jsonb AND matched @> $5::jsonb)) RETURNING id) "
       "INSERT INTO alert_events (alert_id, at, action, note) SELECT id, $3::timestamptz, "
       "'reopened', $7 FROM r RETURNING alert_id"},
      // An alert still open whose reminders have all gone (nobody acknowledged it): a citizen
      // who writes again and raises its kind ("he's outside now") gets it a round now, reminder
      // and escalation, where it would otherwise take the text in silence.
      {"alert_remind_again",
       "UPDATE alerts SET next_round_at = $3::timestamptz WHERE survey_id = $1::bigint "
       "AND kind = $2 AND status = 'open' AND next_round_at IS NULL RETURNING id"},
  };
  return kStatements;
}

int InsertAlerts(pqxx::transaction_base& txn, std::int64_t survey_id,
                 const std::vector<NewAlert>& alerts, TimePoint now, bool only_new,
                 const std::vector<NewAlert>& written_again) {
  int raised = 0;
  for (const NewAlert& alert : alerts) {
    const auto rules = Text(nlohmann::json(alert.rules).dump());
    const auto matched = Text(nlohmann::json(alert.matched).dump());
    const auto kind = Text(AlertKindName(alert.kind));
    const bool again =
        only_new || std::any_of(written_again.begin(), written_again.end(),
                                [&](const NewAlert& a) { return a.kind == alert.kind; });
    raised += static_cast<int>(
        Exec(txn, "alert_reopen",
             {Int(survey_id), kind, Time(now), rules, matched, again ? "true" : "false",
              Text(again ? "the citizen wrote again" : "the answer disclosed more")})
            .size());
    if (again) {
      raised += static_cast<int>(
          Exec(txn, "alert_remind_again", {Int(survey_id), kind, Time(now)}).size());
    }
    raised += static_cast<int>(Exec(txn, only_new ? "alert_insert_new" : "alert_insert",
                                    {Int(survey_id), kind, Text(AlertSeverityName(alert.severity)),
                                     rules, matched, Time(now)})
                                   .size());
  }
  return raised;
}

}  // namespace pg

namespace {

// The alert columns every view reads, then the survey's.
constexpr const char* kAlertColumns =
    "a.id, a.survey_id, a.kind, a.severity, a.rules::text, a.matched::text, "
    "surveyd_epoch_us(a.created_at), a.status, surveyd_epoch_us(a.status_at), "
    "COALESCE(a.status_by, ''), surveyd_mask_contact_details(COALESCE(a.status_note, '')), "
    "a.rounds, s.group_id, s.event_type, "
    "s.language, s.channel, s.incident_type_code, s.incident_category, s.incident_grade, s.npu, "
    "s.beat, s.handler_id, s.handler_team, s.officer_id, s.department, "
    "surveyd_epoch_us(s.contact_at), surveyd_epoch_us(a.reopened_at), a.reopened_round, "
    "s.incident_id";
constexpr int kAlertColumnCount = 29;

std::string Joined(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& part : parts) out += part;
  return out;
}

// The answers in [$1, $2) by `dated` (s.contact_at or r.submitted_at), each with who the contact
// was with: the operator for calls, the officer otherwise. `flagged`: the survey raised an
// alert, by its answer or by a text after it, whatever became of the alert (resolved, it was a
// complaint all the same): a low-scores one too ("thanks for nothing", every score 0, was listed
// as the officer's praise). Praise must not reach anyone for such a
// contact: its 10s are not counted as top scores and its comment is never praise; it is still
// an answer (respondents), as /api/v1/stats counts it, so that the cells hidden stay the same.
std::string RecognitionCte(const std::string& dated) {
  return Joined(
      {"WITH x AS (SELECT s.id AS survey_id, s.contact_at, r.q1, r.q2, r.q3, r.q4, r.q5, "
       "r.comment_masked AS comment, EXISTS (SELECT 1 FROM alerts a WHERE a.survey_id = s.id) "
       "AS flagged, "
       "CASE WHEN s.event_type = 'call.ended' THEN s.handler_id ELSE s.officer_id END AS person, "
       "CASE WHEN s.event_type = 'call.ended' THEN 'operator' ELSE 'officer' END AS role, "
       "CASE WHEN s.event_type = 'call.ended' THEN s.handler_team ELSE s.department END AS team "
       "FROM responses r JOIN surveys s ON s.id = r.survey_id WHERE ",
       dated, " >= $1::timestamptz AND ", dated, " < $2::timestamptz) "});
}

// The people and comments statements of recognition, for answers dated by `dated`.
std::vector<std::string> RecognitionStatements(const std::string& dated) {
  const std::string cte = RecognitionCte(dated);
  return {
      Joined(
          {cte,
           "SELECT person, role, COALESCE(team, ''), count(*), "
           "count(*) FILTER (WHERE q1 = 10 AND NOT flagged), "
           "count(*) FILTER (WHERE q2 = 10 AND NOT flagged), "
           "count(*) FILTER (WHERE q3 = 10 AND NOT flagged), "
           "count(*) FILTER (WHERE q4 = 10 AND NOT flagged), "
           "count(*) FILTER (WHERE q5 = 10 AND NOT flagged), "
           "count(*) FILTER (WHERE NOT flagged AND num_nonnulls(q1, q2, q3, q4, q5) > 0 "
           "AND COALESCE(q1, 10) = 10 AND COALESCE(q2, 10) = 10 AND COALESCE(q3, 10) = 10 "
           "AND COALESCE(q4, 10) = 10 AND COALESCE(q5, 10) = 10), "
           "COALESCE(($3::text IS NULL OR team = $3) AND ($4::text IS NULL OR person = $4), false) "
           "FROM x WHERE person IS NOT NULL GROUP BY person, role, team "
           "ORDER BY team, person, role"}),
      Joined({cte,
              "SELECT survey_id, person, role, COALESCE(team, ''), surveyd_epoch_us(contact_at), "
              "q1, q2, q3, q4, q5, comment FROM x WHERE person IS NOT NULL AND comment <> '' "
              "AND NOT flagged "
              "AND ($3::text IS NULL OR team = $3) AND ($4::text IS NULL OR person = $4) "
              "ORDER BY contact_at DESC, survey_id DESC LIMIT $5::int"}),
  };
}

const Statements& AlertStatements() {
  static const std::vector<std::string> kOwned = {
      Joined({"SELECT ", kAlertColumns,
              " FROM alerts a JOIN surveys s ON s.id = a.survey_id "
              "WHERE ($1::text IS NULL OR a.status = $1) AND ($2::text IS NULL OR a.kind = $2) "
              "AND ($3::timestamptz IS NULL OR (COALESCE(a.reopened_at, a.created_at), a.id) < "
              "($3::timestamptz, $4::bigint)) "
              "ORDER BY COALESCE(a.reopened_at, a.created_at) DESC, a.id DESC LIMIT $5::int"}),
      Joined({"SELECT ", kAlertColumns,
              ", r.q1, r.q2, r.q3, r.q4, r.q5, surveyd_mask_contact_details(concat_ws(E'\\n', "
              "NULLIF(r.comment, ''), (SELECT string_agg(m.body, E'\\n' ORDER BY m.id) "
              "FROM inbound_messages m WHERE m.survey_id = a.survey_id " SURVEYD_REPLY_TEXTS
              "))) FROM alerts a "
              "JOIN surveys s ON s.id = a.survey_id LEFT JOIN responses r ON r.survey_id = "
              "a.survey_id "
              "WHERE a.id = $1::bigint"}),
      Joined(
          {"SELECT ", kAlertColumns,
           " FROM alerts a JOIN surveys s ON s.id = a.survey_id WHERE a.id = ANY($1::bigint[])"}),
  };
  static const std::vector<std::string> kByContact = RecognitionStatements("s.contact_at");
  static const std::vector<std::string> kByAnswer = RecognitionStatements("r.submitted_at");
  // The digest's teams: those with answers given in the week.
  static const std::string kTeamsByAnswer =
      Joined({RecognitionCte("r.submitted_at"),
              "SELECT DISTINCT team FROM x WHERE team IS NOT NULL AND person IS NOT NULL "
              "ORDER BY team"});
  static const Statements kStatements = {
      {"alerts_list", kOwned[0].c_str()},
      {"alert_by_id", kOwned[1].c_str()},
      {"alerts_by_ids", kOwned[2].c_str()},
      {"recognition_people", kByContact[0].c_str()},
      {"recognition_comments", kByContact[1].c_str()},
      {"recognition_people_by_answer", kByAnswer[0].c_str()},
      {"recognition_comments_by_answer", kByAnswer[1].c_str()},
      {"recognition_teams_by_answer", kTeamsByAnswer.c_str()},
      {"alert_history",
       "SELECT surveyd_epoch_us(at), action, COALESCE(actor_id, ''), COALESCE(actor_name, ''), "
       "COALESCE(actor_role, ''), surveyd_mask_contact_details(COALESCE(note, '')) "
       "FROM alert_events WHERE alert_id = $1::bigint "
       "ORDER BY id"},
      {"alert_lock", "SELECT status, rounds FROM alerts WHERE id = $1::bigint FOR UPDATE"},
      // The first notice (or the one saying it was reopened) still goes out: it is the record
      // in the force's own channels. Only the re-notices stop.
      {"alert_set_status",
       "UPDATE alerts SET status = $2, status_at = $3::timestamptz, status_by = $4, "
       "status_note = $5, next_round_at = CASE WHEN rounds = COALESCE(reopened_round, 0) "
       "THEN next_round_at END WHERE id = $1::bigint"},
      {"alert_event",
       "INSERT INTO alert_events (alert_id, at, action, actor_id, actor_name, actor_role, note) "
       "VALUES ($1::bigint, $2::timestamptz, $3, $4, $5, $6, $7)"},
      {"alert_cancel_renotices",
       "UPDATE alert_notices SET state = 'cancelled', updated_at = $2::timestamptz "
       "WHERE alert_id = $1::bigint AND state = 'pending' AND round > (SELECT "
       "COALESCE(reopened_round, 0) FROM alerts WHERE id = $1::bigint)"},
      {"alert_number",
       "SELECT COALESCE(s.phone_enc, s.phone_e164), concat_ws(E'\\n', NULLIF(r.comment, ''), "
       "(SELECT string_agg(m.body, E'\\n' ORDER BY m.id) FROM inbound_messages m "
       "WHERE m.survey_id = a.survey_id " SURVEYD_REPLY_TEXTS ")) FROM alerts a "
       "JOIN surveys s ON s.id = a.survey_id LEFT JOIN responses r ON r.survey_id = a.survey_id "
       "WHERE a.id = $1::bigint FOR SHARE OF a"},
      {"rounds_due",
       "SELECT id, severity, rounds, status, surveyd_epoch_us(next_round_at), kind, "
       "COALESCE(reopened_round, 0) FROM alerts "
       "WHERE next_round_at <= $1::timestamptz ORDER BY next_round_at, id LIMIT $2::int "
       "FOR UPDATE SKIP LOCKED"},
      {"notice_insert",
       "INSERT INTO alert_notices (alert_id, channel, round, recipient, escalated, state, "
       "next_attempt_at, updated_at) VALUES ($1::bigint, $2, $3::int, $4, $5::boolean, 'pending', "
       "$6::timestamptz, $6::timestamptz) ON CONFLICT DO NOTHING"},
      {"round_done",
       "UPDATE alerts SET rounds = $2::int, next_round_at = $3::timestamptz WHERE id = $1::bigint"},
      // Leases on the database's clock, as the outbox's (pg_outbox.cpp).
      {"notices_claim",
       "WITH due AS (SELECT id FROM alert_notices WHERE ((state = 'pending' AND next_attempt_at <= "
       "$1::timestamptz) OR (state = 'claimed' AND lease_until < statement_timestamp())) "
       "AND ($5::text IS NULL OR channel = $5) "
       "ORDER BY next_attempt_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED) "
       "UPDATE alert_notices n SET state = 'claimed', claimed_by = $3, lease_until = "
       "statement_timestamp() + make_interval(secs => $4::int), claim_token = "
       "nextval('alert_notice_claim_token'), attempts = "
       "attempts + 1, updated_at = $1::timestamptz FROM due WHERE n.id = due.id "
       "RETURNING n.id, n.claim_token, n.channel, n.recipient, n.round, n.escalated, n.attempts, "
       "n.alert_id, n.digest_id"},
      {"alerts_by_kind",
       "SELECT kind, count(*) FILTER (WHERE status = 'open'), "
       "count(*) FILTER (WHERE status = 'acknowledged'), "
       "count(*) FILTER (WHERE status = 'resolved') FROM alerts GROUP BY kind ORDER BY kind"},
      {"notices_by_state",
       "SELECT count(*) FILTER (WHERE alert_id IS NOT NULL AND state = 'sent'), "
       "count(*) FILTER (WHERE alert_id IS NOT NULL AND state IN ('pending', 'claimed')), "
       "count(*) FILTER (WHERE alert_id IS NOT NULL AND state = 'failed'), "
       "(SELECT count(*) FROM recognition_digests), "
       "count(*) FILTER (WHERE digest_id IS NOT NULL AND state = 'sent') FROM alert_notices"},
      {"digests_by_ids",
       "SELECT id, team, subject, body FROM recognition_digests WHERE id = ANY($1::bigint[])"},
      {"notice_attempt",
       "INSERT INTO alert_notice_attempts (notice_id, attempt, at, result, http_status, error) "
       "VALUES ($1::bigint, $2::int, $3::timestamptz, $4, $5::int, $6)"},
      {"notice_update",
       "UPDATE alert_notices SET state = $3, next_attempt_at = COALESCE($4::timestamptz, "
       "next_attempt_at), last_error = $5, sent_at = CASE WHEN $3 = 'sent' THEN $6::timestamptz "
       "END, claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = "
       "$6::timestamptz WHERE id = $1::bigint AND claim_token = $2::bigint"},
      {"digest_create",
       "WITH d AS (INSERT INTO recognition_digests (team, period_start, period_end, recipient, "
       "subject, body, created_at) VALUES ($1, $2::timestamptz, $3::timestamptz, $4, $5, $6, "
       "$7::timestamptz) ON CONFLICT (team, period_start) DO NOTHING RETURNING id) "
       "INSERT INTO alert_notices (digest_id, channel, round, recipient, state, next_attempt_at, "
       "updated_at) SELECT id, 'email', 0, $4, 'pending', $7::timestamptz, $7::timestamptz FROM d "
       "RETURNING id"},
  };
  return kStatements;
}

std::vector<std::string> JsonStrings(const std::string& text) {
  std::vector<std::string> out;
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_array()) return out;
  for (const auto& item : json) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

AlertView ReadAlert(const pqxx::row& row) {
  AlertView view;
  view.id = row[0].as<std::int64_t>();
  view.survey_id = row[1].as<std::int64_t>();
  view.kind = ParseAlertKind(row[2].as<std::string>()).value_or(AlertKind::kSafeguarding);
  view.severity = ParseAlertSeverity(row[3].as<std::string>()).value_or(AlertSeverity::kUrgent);
  view.rules = JsonStrings(row[4].as<std::string>());
  view.matched = JsonStrings(row[5].as<std::string>());
  view.created_at = FromEpochMicros(row[6].as<std::int64_t>());
  view.status = ParseAlertStatus(row[7].as<std::string>()).value_or(AlertStatus::kOpen);
  if (!row[8].is_null()) view.status_at = FromEpochMicros(row[8].as<std::int64_t>());
  view.status_by = row[9].as<std::string>();
  view.status_note = row[10].as<std::string>();
  view.rounds = row[11].as<int>();
  AlertContext& c = view.context;
  c.group = row[12].as<std::string>();
  c.event_type = row[13].as<std::string>();
  c.language = row[14].as<std::string>();
  c.channel = OptionalText(row[15]);
  c.incident_type_code = OptionalText(row[16]);
  c.incident_category = OptionalText(row[17]);
  c.incident_grade = OptionalText(row[18]);
  c.npu = OptionalText(row[19]);
  c.beat = OptionalText(row[20]);
  c.handler_id = OptionalText(row[21]);
  c.handler_team = OptionalText(row[22]);
  c.officer_id = OptionalText(row[23]);
  c.department = OptionalText(row[24]);
  c.contact_at = FromEpochMicros(row[25].as<std::int64_t>());
  if (!row[26].is_null()) view.reopened_at = FromEpochMicros(row[26].as<std::int64_t>());
  if (!row[27].is_null()) view.reopened_round = row[27].as<int>();
  c.incident_id = OptionalText(row[28]);
  return view;
}

class PgAlertStore final : public AlertStore {
 public:
  PgAlertStore(std::string url, int pool_size, crypto::KeyRing phone_keys)
      : vault_(std::move(phone_keys), std::string(), {}),
        pool_(std::move(url), pool_size, [](pqxx::connection& connection) {
          for (const auto& [name, sql] : AlertStatements()) connection.prepare(name, sql);
        }) {}

  std::vector<AlertView> ListAlerts(const AlertFilter& filter) override {
    return WithConnection("list alerts", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      std::vector<AlertView> alerts;
      const auto rows =
          Exec(txn, "alerts_list",
               {filter.status ? Param(AlertStatusName(*filter.status)) : std::nullopt,
                filter.kind ? Param(AlertKindName(*filter.kind)) : std::nullopt,
                filter.before ? Time(filter.before->raised_or_reopened) : std::nullopt,
                filter.before ? Int(filter.before->id) : std::nullopt,
                Int(std::clamp(filter.limit, 1, 500))});
      for (const auto& row : rows) alerts.push_back(ReadAlert(row));
      return alerts;
    });
  }

  std::optional<AlertDetail> GetAlert(std::int64_t id) override {
    return WithConnection("get alert", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      const auto rows = Exec(txn, "alert_by_id", {Int(id)});
      if (rows.empty()) return std::optional<AlertDetail>();
      AlertDetail detail;
      detail.alert = ReadAlert(rows[0]);
      for (int q = 0; q < 5; ++q) {
        const auto& field = rows[0][kAlertColumnCount + q];
        if (!field.is_null()) detail.q[q] = field.as<int>();
      }
      detail.comment = rows[0][kAlertColumnCount + 5].as<std::string>();
      for (const auto& row : Exec(txn, "alert_history", {Int(id)})) {
        detail.history.push_back({FromEpochMicros(row[0].as<std::int64_t>()),
                                  row[1].as<std::string>(), row[2].as<std::string>(),
                                  row[3].as<std::string>(), row[4].as<std::string>(),
                                  row[5].as<std::string>()});
      }
      return std::optional<AlertDetail>(std::move(detail));
    });
  }

  AlertUpdate Acknowledge(std::int64_t id, const Actor& actor, const std::string& note,
                          TimePoint now) override {
    return SetStatus(id, AlertStatus::kAcknowledged, actor, note, now);
  }

  AlertUpdate Resolve(std::int64_t id, const Actor& actor, const std::string& note,
                      TimePoint now) override {
    return SetStatus(id, AlertStatus::kResolved, actor, note, now);
  }

  Reveal RevealNumber(std::int64_t id, const Actor& actor, const std::string& reason,
                      TimePoint now) override {
    return WithConnection("reveal number", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Reveal reveal;
      const auto rows = Exec(txn, "alert_number", {Int(id)});
      if (rows.empty()) return reveal;
      // Opened here, as the survey store opens it for sending. Erased by retention or on
      // request, or sealed under a key no longer in the ring: gone.
      const auto number = vault_.Open(
          rows[0][0].is_null() ? std::nullopt : std::optional(rows[0][0].as<std::string>()),
          kSurveyPhone);
      if (!number || number->empty()) {
        if (!rows[0][0].is_null()) {
          spdlog::error("alerts: the number of alert {} does not open with privacy.phone_keys", id);
        }
        reveal.outcome = Reveal::Outcome::kNumberGone;
        return reveal;
      }
      Exec(txn, "alert_event",
           {Int(id), Time(now), Text("revealed"), Text(actor.id), Text(actor.name),
            Text(actor.role), Text(TruncateCodePoints(reason, 1000))});
      // Committed before the number leaves this function: no reveal goes unrecorded.
      txn.commit();
      reveal.outcome = Reveal::Outcome::kRevealed;
      reveal.e164 = *number;
      reveal.comment = rows[0][1].as<std::string>();
      return reveal;
    });
  }

  int ScheduleNotices(TimePoint now, const NoticePolicy& policy, int limit) override {
    // Nowhere to send: keep them due.
    if (!policy.webhook && policy.email_to.empty() && policy.email_by_kind.empty()) return 0;
    return WithConnection("schedule notices", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      int rounds = 0;
      for (const auto& row : Exec(txn, "rounds_due", {Time(now), Int(limit)})) {
        const std::int64_t id = row[0].as<std::int64_t>();
        const auto severity =
            ParseAlertSeverity(row[1].as<std::string>()).value_or(AlertSeverity::kUrgent);
        const int round = row[2].as<int>();
        const bool open = row[3].as<std::string>() == "open";
        const TimePoint due = FromEpochMicros(row[4].as<std::int64_t>());
        // Reminders count from the first notice, or from the one saying it was reopened.
        const int first = row[6].as<int>();
        if (round > first && !open) {
          Exec(txn, "round_done", {Int(id), Int(round), std::nullopt});
          continue;
        }
        auto notice = [&](NoticeChannel channel, const std::string& recipient, bool escalated) {
          Exec(txn, "notice_insert",
               {Int(id), Text(NoticeChannelName(channel)), Int(round), Text(recipient),
                Text(escalated ? "true" : "false"), Time(now)});
        };
        if (policy.webhook) notice(NoticeChannel::kWebhook, "", false);
        for (const auto& address : policy.email_to) notice(NoticeChannel::kEmail, address, false);
        // An address in both lists is one notice (the unique key; notice_insert does nothing).
        if (const auto kind = policy.email_by_kind.find(row[5].as<std::string>());
            kind != policy.email_by_kind.end()) {
          for (const auto& address : kind->second) notice(NoticeChannel::kEmail, address, false);
        }
        if (round > first) {
          for (const auto& address : policy.escalate_to) {
            notice(NoticeChannel::kEmail, address, true);
          }
        }
        // The next round counts from when this one was due, so re-notices keep to the severity's
        // rhythm; after an outage, from now.
        std::optional<TimePoint> next;
        const auto interval = policy.renotify_after.find(severity);
        if (interval != policy.renotify_after.end() && round - first < policy.max_renotify) {
          next = due + interval->second;
          if (*next <= now) next = now + interval->second;
        }
        Exec(txn, "round_done", {Int(id), Int(round + 1), Time(next)});
        ++rounds;
      }
      txn.commit();
      return rounds;
    });
  }

  std::vector<Notice> ClaimNotices(TimePoint now, int limit, const std::string& worker,
                                   std::chrono::seconds lease,
                                   std::optional<NoticeChannel> channel) override {
    return WithConnection("claim notices", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      std::vector<Notice> notices;
      std::vector<std::int64_t> digest_of;  // per notice; 0: an alert's
      ArrayLiteral alert_ids, digest_ids;
      for (const auto& row : Exec(txn, "notices_claim",
                                  {Time(now), Int(limit), Text(worker), Int(lease.count()),
                                   channel ? Param(NoticeChannelName(*channel)) : std::nullopt})) {
        Notice notice;
        notice.id = row[0].as<std::int64_t>();
        notice.claim_token = row[1].as<std::int64_t>();
        notice.channel =
            row[2].as<std::string>() == "webhook" ? NoticeChannel::kWebhook : NoticeChannel::kEmail;
        notice.recipient = row[3].as<std::string>();
        notice.round = row[4].as<int>();
        notice.escalated = row[5].as<bool>();
        notice.attempts = row[6].as<int>();
        if (!row[7].is_null()) {
          alert_ids.AddInt(row[7].as<std::int64_t>());
          notice.alert = AlertView{};
          notice.alert->id = row[7].as<std::int64_t>();
        }
        digest_of.push_back(row[8].is_null() ? 0 : row[8].as<std::int64_t>());
        if (digest_of.back() != 0) digest_ids.AddInt(digest_of.back());
        notices.push_back(std::move(notice));
      }
      std::unordered_map<std::int64_t, AlertView> alerts;
      if (!alert_ids.empty()) {
        for (const auto& row : Exec(txn, "alerts_by_ids", {alert_ids.Text()})) {
          AlertView view = ReadAlert(row);
          alerts.emplace(view.id, std::move(view));
        }
      }
      std::unordered_map<std::int64_t, DigestMessage> digests;
      if (!digest_ids.empty()) {
        for (const auto& row : Exec(txn, "digests_by_ids", {digest_ids.Text()})) {
          digests[row[0].as<std::int64_t>()] = {row[1].as<std::string>(), row[2].as<std::string>(),
                                                row[3].as<std::string>()};
        }
      }
      for (std::size_t i = 0; i < notices.size(); ++i) {
        if (notices[i].alert) notices[i].alert = alerts.at(notices[i].alert->id);
        if (digest_of[i] != 0) notices[i].digest = digests.at(digest_of[i]);
      }
      txn.commit();
      return notices;
    });
  }

  void RecordNotice(const Notice& notice, const NoticeResult& result, TimePoint now) override {
    const char* state = result.state == NoticeResult::State::kSent    ? "sent"
                        : result.state == NoticeResult::State::kRetry ? "retry"
                                                                      : "failed";
    WithConnection("record notice", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Exec(txn, "notice_attempt",
           {Int(notice.id), Int(notice.attempts), Time(now), Text(state),
            result.status ? Int(result.status) : std::nullopt,
            result.error.empty() ? std::nullopt : Param(TruncateCodePoints(result.error, 500))});
      Exec(txn, "notice_update",
           {Int(notice.id), Int(notice.claim_token),
            Text(result.state == NoticeResult::State::kRetry ? "pending" : state),
            result.state == NoticeResult::State::kRetry ? Time(result.next_attempt_at)
                                                        : std::nullopt,
            result.error.empty() ? std::nullopt : Param(TruncateCodePoints(result.error, 500)),
            Time(now)});
      txn.commit();
      return 0;
    });
  }

  RecognitionData Recognition(const RecognitionFilter& filter) override {
    return WithConnection("recognition", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      RecognitionData data;
      const Params params{Time(filter.from), Time(filter.to),
                          filter.team ? Param(*filter.team) : std::nullopt,
                          filter.person ? Param(*filter.person) : std::nullopt};
      const bool by_answer = filter.dated == RecognitionFilter::Dated::kByAnswer;
      for (const auto& row :
           Exec(txn, by_answer ? "recognition_people_by_answer" : "recognition_people", params)) {
        PersonScores person;
        person.person = row[0].as<std::string>();
        person.role = row[1].as<std::string>();
        person.team = row[2].as<std::string>();
        person.respondents = row[3].as<std::int64_t>();
        for (int q = 0; q < 5; ++q) person.top[q] = row[4 + q].as<std::int64_t>();
        person.all_top = row[9].as<std::int64_t>();
        person.selected = row[10].as<bool>();
        data.people.push_back(std::move(person));
      }
      Params comment_params = params;
      // One more than asked for: whether there were more is known.
      comment_params.push_back(Int(std::max(filter.comment_limit, 0) + 1));
      for (const auto& row :
           Exec(txn, by_answer ? "recognition_comments_by_answer" : "recognition_comments",
                comment_params)) {
        RecognitionComment comment;
        comment.survey_id = row[0].as<std::int64_t>();
        comment.person = row[1].as<std::string>();
        comment.role = row[2].as<std::string>();
        comment.team = row[3].as<std::string>();
        comment.contact_at = FromEpochMicros(row[4].as<std::int64_t>());
        for (int q = 0; q < 5; ++q) {
          if (!row[5 + q].is_null()) comment.q[q] = row[5 + q].as<int>();
        }
        comment.comment = row[10].as<std::string>();
        data.comments.push_back(std::move(comment));
      }
      if (data.comments.size() > static_cast<std::size_t>(std::max(filter.comment_limit, 0))) {
        data.comments.pop_back();
        data.comments_complete = false;
      }
      return data;
    });
  }

  std::vector<std::string> TeamsWithAnswers(TimePoint from, TimePoint to) override {
    return WithConnection("recognition teams", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      std::vector<std::string> teams;
      for (const auto& row : Exec(txn, "recognition_teams_by_answer", {Time(from), Time(to)})) {
        teams.push_back(row[0].as<std::string>());
      }
      return teams;
    });
  }

  AlertSummary Summary() override {
    return WithConnection("alert summary", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      AlertSummary summary;
      for (const auto& row : Exec(txn, "alerts_by_kind", {})) {
        summary.kinds.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(),
                                 row[2].as<std::int64_t>(), row[3].as<std::int64_t>()});
      }
      const auto row = Exec(txn, "notices_by_state", {})[0];
      summary.notices_sent = row[0].as<std::int64_t>();
      summary.notices_waiting = row[1].as<std::int64_t>();
      summary.notices_failed = row[2].as<std::int64_t>();
      summary.digests = row[3].as<std::int64_t>();
      summary.digests_sent = row[4].as<std::int64_t>();
      return summary;
    });
  }

  bool CreateDigest(const NewDigest& digest, TimePoint now) override {
    return WithConnection("create digest", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      const auto rows =
          Exec(txn, "digest_create",
               {Text(digest.team), Time(digest.period_start), Time(digest.period_end),
                Text(digest.recipient), Text(digest.subject), Text(digest.body), Time(now)});
      txn.commit();
      return !rows.empty();
    });
  }

 private:
  AlertUpdate SetStatus(std::int64_t id, AlertStatus status, const Actor& actor,
                        const std::string& note, TimePoint now) {
    return WithConnection("update alert", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      const auto rows = Exec(txn, "alert_lock", {Int(id)});
      if (rows.empty()) return AlertUpdate::kNotFound;
      const std::string was = rows[0][0].as<std::string>();
      if (was == "resolved") return AlertUpdate::kAlreadyResolved;
      const std::string clean_note = TruncateCodePoints(note, 2000);
      // Acknowledged again (someone else looking, a note on progress): in the history, while
      // the alert keeps who acknowledged it first, and when.
      if (was != AlertStatusName(status)) {
        Exec(txn, "alert_set_status",
             {Int(id), Text(AlertStatusName(status)), Time(now), Text(actor.name),
              NonEmpty(clean_note)});
      }
      Exec(txn, "alert_event",
           {Int(id), Time(now), Text(AlertStatusName(status)), Text(actor.id), Text(actor.name),
            Text(actor.role), NonEmpty(clean_note)});
      Exec(txn, "alert_cancel_renotices", {Int(id), Time(now)});
      txn.commit();
      return AlertUpdate::kDone;
    });
  }

  // Runs `work` on a pooled connection; every libpqxx error becomes Unavailable, named by the
  // operation and the SQLSTATE only (server messages can quote row values).
  template <typename Work>
  auto WithConnection(const char* operation, Work&& work)
      -> decltype(work(std::declval<pqxx::connection&>())) {
    return pg::WithPooledConnection(pool_, operation, std::forward<Work>(work));
  }

  const PhoneVault vault_;  // opens numbers only (a revealed alert's); hashes nothing
  ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<AlertStore> MakePgAlertStore(const std::string& url, int pool_size,
                                             crypto::KeyRing phone_keys) {
  return std::make_unique<PgAlertStore>(url, pool_size, std::move(phone_keys));
}

}  // namespace surveyd::store
