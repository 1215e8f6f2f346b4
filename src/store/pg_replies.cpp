// SurveyStore, citizens' texts: each stored and counted once, opt-outs, and the steps of two-way
// conversations, in one transaction per text under the number's lock.
#include "store/pg_store_impl.hpp"
#include "surveyd/core/phone.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace pg {

// Whether a text back to survey `s` was already answered outside its questions (help, or the
// notice that it takes no answer): the notice goes once per survey, and never after help.
#define SURVEYD_ANSWERED_LATE                                \
  "EXISTS (SELECT 1 FROM outbox n WHERE n.survey_id = s.id " \
  "AND n.kind IN ('help', 'closed', 'link_reply'))"

const Statements& ReplyStatements() {
  static const Statements kStatements = {
      {"inbound_seen",
       "SELECT 1 FROM inbound_messages WHERE gateway = $1 AND gateway_message_id = $2"},
      // A text without the gateway's id delivered before: the number's ($2, under every key),
      // the same words, and the same gateway time ($4), or none and received since $5. Found by
      // the number's index: a number has few texts.
      {"inbound_seen_without_id",
       "SELECT 1 FROM inbound_messages WHERE phone_hash = ANY($2::text[]) AND gateway = $1 "
       "AND gateway_message_id IS NULL AND body = $3 AND CASE WHEN $4::timestamptz IS NULL "
       "THEN received_at >= $5::timestamptz ELSE gateway_time = $4::timestamptz END LIMIT 1"},
      // The number's newest survey that we texted (a confirmation goes in its language), and
      // when it was last answered with where to get help.
      {"reply_context",
       "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone_hash = ANY($1::text[])), "
       "EXISTS (SELECT 1 FROM opt_outs WHERE phone_hash = ANY($1::text[]) "
       "AND confirmed_at IS NOT NULL), "
       "s.id, s.language, (SELECT surveyd_epoch_us(max(m.stored_at)) FROM inbound_messages m "
       "WHERE m.phone_hash = ANY($1::text[]) AND m.helped), "
       "s.mode = 'two_way', " SURVEYD_ANSWERED_LATE " "
       "FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT s.id, s.language, s.mode "
       "FROM surveys s JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' "
       "WHERE s.phone_hash = ANY($1::text[]) AND o.begun_at IS NOT NULL "
       "ORDER BY o.begun_at DESC, s.id DESC LIMIT 1) AS s ON true"},
      // The conversation waiting for an answer from the number: a two-way survey texted to it
      // whose conversation is open (none yet: open) and not past its end. Most numbers have
      // at most one. A number surveyed again within a conversation's life may have two: the
      // newest is chosen, since its question is the last text the citizen received, so a bare
      // "8" most likely answers it (the older one runs out on its own). A text is matched the
      // same with or without the gateway's message id.
      {"two_way_context",
       "SELECT s.id, s.language, surveyd_epoch_us(o.begun_at), COALESCE(c.state, 'open'), "
       "COALESCE(c.question, 1), COALESCE(c.asked_again, false), " SURVEYD_ANSWERED_LATE ", "
       // Word for word a text kept in this conversation in the last ten minutes: a phone's
       // auto-reply, which answers each text within seconds (a citizen who writes the same
       // complaint again an hour later is heard again).
       "EXISTS (SELECT 1 FROM inbound_messages m WHERE m.survey_id = s.id AND m.body = $3 "
       "AND m.disposition IN ('asked_again', 'comment') "
       "AND m.stored_at > $2::timestamptz - interval '10 minutes') "
       "FROM surveys s "
       "JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' "
       "LEFT JOIN conversations c ON c.survey_id = s.id "
       "WHERE s.phone_hash = ANY($1::text[]) AND s.mode = 'two_way' AND o.begun_at IS NOT NULL "
       "AND COALESCE(c.state, 'open') = 'open' "
       "AND (c.expires_at IS NULL OR c.expires_at > $2::timestamptz) "
       "ORDER BY o.begun_at DESC, s.id DESC LIMIT 1"},
      {"inbound_insert",
       "INSERT INTO inbound_messages (gateway, gateway_message_id, phone_hash, body, "
       "received_at, stored_at, survey_id, question, disposition, helped, gateway_time) VALUES "
       "($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7::bigint, $8::smallint, $9, "
       "$10::boolean, $11::timestamptz)"},
      {"conversation_upsert",
       "INSERT INTO conversations (survey_id, phone_hash, language, state, question, "
       "asked_again, started_at, expires_at, updated_at) SELECT s.id, s.phone_hash, s.language, "
       "$2, $3::smallint, $4::boolean, o.begun_at, $5::timestamptz, $6::timestamptz "
       "FROM surveys s JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' "
       "WHERE s.id = $1::bigint ON CONFLICT (survey_id) DO UPDATE SET state = excluded.state, "
       "question = excluded.question, asked_again = excluded.asked_again, "
       "updated_at = excluded.updated_at"},
      {"conversations_opted_out",
       "UPDATE conversations SET state = 'opted_out', updated_at = $2::timestamptz "
       "WHERE phone_hash = ANY($1::text[]) AND state = 'open'"},
      // An answer fills its question; free text is added to the comment (at most 2,000
      // characters, as the page's). The response as it now stands comes back, for the alert
      // rules.
      {"response_upsert",
       "INSERT INTO responses (survey_id, q1, q2, q3, q4, q5, comment, language, submitted_at) "
       "SELECT $1::bigint, $2::smallint, $3::smallint, $4::smallint, $5::smallint, "
       "$6::smallint, left($7, 2000), s.language, $8::timestamptz FROM surveys s "
       "WHERE s.id = $1::bigint ON CONFLICT (survey_id) DO UPDATE SET "
       "q1 = COALESCE(excluded.q1, responses.q1), q2 = COALESCE(excluded.q2, responses.q2), "
       "q3 = COALESCE(excluded.q3, responses.q3), q4 = COALESCE(excluded.q4, responses.q4), "
       "q5 = COALESCE(excluded.q5, responses.q5), comment = left(CASE "
       "WHEN responses.comment = '' THEN excluded.comment "
       "WHEN excluded.comment = '' THEN responses.comment "
       "ELSE responses.comment || E'\\n' || excluded.comment END, 2000), "
       "submitted_at = excluded.submitted_at "
       "RETURNING q1, q2, q3, q4, q5, comment, language"},
      {"response_mark",
       "UPDATE surveys SET responded_at = COALESCE(responded_at, $2::timestamptz) "
       "WHERE id = $1::bigint"},
      {"confirm_once",
       "UPDATE opt_outs SET confirmed_at = $2::timestamptz WHERE phone_hash = ANY($1::text[]) "
       "AND confirmed_at IS NULL AND NOT EXISTS (SELECT 1 FROM opt_outs c "
       "WHERE c.phone_hash = ANY($1::text[]) AND c.confirmed_at IS NOT NULL) RETURNING 1"},
      // A text owed to a number whose survey no longer holds it (retention erased it once the
      // survey was finished): the number that just wrote is sealed back on the survey, where
      // the dispatcher reads it, until the text is sent. The next retention pass erases it
      // again (the survey is long finished), as soon as no text of it is left to go.
      {"survey_number_again",
       "UPDATE surveys SET phone_enc = $2 WHERE id = $1::bigint AND phone_enc IS NULL "
       "AND phone_e164 IS NULL"},
      // A text to the number, due now; the insert wakes the dispatchers.
      {"queue_text",
       "INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at, kind, "
       "body, expires_at) VALUES ($1::bigint, $2::text || '-' || $1::bigint || '-' || "
       "substr(md5(random()::text || clock_timestamp()::text), 1, 10), 'pending', "
       "$3::timestamptz, $3::timestamptz, $2::text, $4, $5::timestamptz)"},
  };
  return kStatements;
}

}  // namespace pg

namespace {

// A response row as "response_upsert" returns it.
SurveyAnswers ReadAnswers(const pqxx::row& row) {
  SurveyAnswers answers;
  for (int q = 0; q < 5; ++q) {
    if (!row[q].is_null()) answers.q[q] = row[q].as<int>();
  }
  answers.comment = row[5].as<std::string>();
  answers.language = row[6].as<std::string>();
  return answers;
}

// Whether `text`, read as a comment alone against the survey, calls for help now.
bool TextCallsForHelp(pqxx::work& txn, const AlertFn& raise_alerts, std::int64_t survey_id,
                      const std::string& text) {
  if (!raise_alerts) return false;
  const auto survey = Exec(txn, "survey_by_id", {Int(survey_id)});
  if (survey.empty()) return false;
  const SurveyView view = ReadSurveyView(survey[0]);
  return CallsForHelp(raise_alerts, view, TextAsComment(view, text));
}

// `hashes`: the number's hashes under every hash key (an array literal). `text` is read against
// the surveys it may be about, for whether it calls for help.
ReplyContext ReadContext(pqxx::work& txn, const std::string& hashes, const std::string& text,
                         const AlertFn& raise_alerts, TimePoint now) {
  ReplyContext context;
  const auto row = Exec(txn, "reply_context", {hashes})[0];
  context.opted_out = row[0].as<bool>();
  context.confirmed_before = row[1].as<bool>();
  if (!row[2].is_null()) {
    context.latest_survey_id = row[2].as<std::int64_t>();
    context.latest_language = row[3].as<std::string>();
    context.latest_calls_for_help =
        TextCallsForHelp(txn, raise_alerts, *context.latest_survey_id, text);
    context.latest_two_way = row[5].as<bool>();
    context.latest_answered_late = row[6].as<bool>();
  }
  if (!row[4].is_null()) context.helped_at = pg::FromEpochMicros(row[4].as<std::int64_t>());
  const auto two_way = Exec(txn, "two_way_context", {hashes, Time(now), Text(text)});
  if (!two_way.empty()) {
    const auto& r = two_way[0];
    ReplyContext::TwoWay conversation;
    conversation.survey_id = r[0].as<std::int64_t>();
    conversation.language = r[1].as<std::string>();
    conversation.begun_at = pg::FromEpochMicros(r[2].as<std::int64_t>());
    conversation.state = r[3].as<std::string>();
    conversation.question = r[4].as<int>();
    conversation.asked_again = r[5].as<bool>();
    conversation.answered_late = r[6].as<bool>();
    conversation.repeats_earlier = r[7].as<bool>();
    conversation.calls_for_help =
        conversation.survey_id == context.latest_survey_id
            ? context.latest_calls_for_help
            : TextCallsForHelp(txn, raise_alerts, conversation.survey_id, text);
    context.two_way = std::move(conversation);
  }
  return context;
}

// Whether this text was stored before: a gateway that lost our answer delivers it again. By the
// gateway's id; without one (Kannel's get-url without &id=%I), by the number, the words and the
// gateway's time of the text, or without that by coming again within kInboundRepeatWindow.
// `hashes`: the number's hashes under every key (none without a number).
bool DeliveredBefore(pqxx::work& txn, const InboundSms& sms, const ArrayLiteral& hashes) {
  if (!sms.gateway_message_id.empty()) {
    return !Exec(txn, "inbound_seen", {Text(sms.gateway), Text(sms.gateway_message_id)}).empty();
  }
  if (hashes.empty()) return false;
  return !Exec(txn, "inbound_seen_without_id",
               {Text(sms.gateway), hashes.Text(), Text(sms.body), Time(sms.gateway_time),
                Time(sms.received_at - kInboundRepeatWindow)})
              .empty();
}

}  // namespace

ReplyOutcome PgStore::ReceiveReply(const InboundSms& sms, const ReplyFn& plan,
                                   const AlertFn& raise_alerts, TimePoint now) {
  const std::string e164 = phone::Normalize(sms.from_e164).e164;
  // The number itself is never stored with the text: only its hash under the active key, and
  // look-ups match it under every key (a hash key rotation under way).
  const std::string hash = e164.empty() ? std::string() : vault_.Hash(e164);
  ArrayLiteral hashes;
  if (!e164.empty()) {
    for (const auto& h : vault_.Hashes(e164)) hashes.Add(h);
  }
  return WithConnection("reply", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    ReplyOutcome outcome;
    // The number's lock, as ingest and opt-outs take it: a survey decided for this number at the
    // same time either sees the opt-out or is cancelled by it, and two texts from one number
    // are read in turn.
    if (!hash.empty()) Exec(txn, "lock_phone", {Int(LockKey(hash))});
    if (DeliveredBefore(txn, sms, hashes)) {
      outcome.duplicate = true;
      txn.commit();
      return outcome;
    }
    ReplyPlan decided;
    if (hash.empty()) {
      decided.disposition = "unknown_sender";
    } else {
      decided = plan(ReadContext(txn, hashes.Text(), sms.body, raise_alerts, now), sms.body);
    }
    // Answered with where to get help: recorded with the text, so that the next one within the
    // rules' help_now.at_most_every is not.
    const bool helped = decided.survey_id && std::any_of(decided.texts.begin(), decided.texts.end(),
                                                         [](const QueuedText& text) {
                                                           return text.kind == MessageKind::kHelp;
                                                         });
    Exec(txn, "inbound_insert",
         {Text(sms.gateway), NonEmpty(sms.gateway_message_id), NonEmpty(hash), Text(sms.body),
          Time(sms.received_at), Time(now),
          decided.survey_id ? Int(*decided.survey_id) : std::nullopt,
          decided.question > 0 ? Int(decided.question) : std::nullopt, Text(decided.disposition),
          helped ? "true" : "false", Time(sms.gateway_time)});
    outcome.disposition = decided.disposition;
    if (hash.empty()) {
      txn.commit();
      return outcome;
    }

    bool confirm = false;
    if (decided.opt_out) {
      OptOutNumber(txn, e164, hash, "sms_reply", now);
      Exec(txn, "conversations_opted_out", {hashes.Text(), Time(now)});
      // Marked confirmed only when a confirmation can go: through a survey of the number, which
      // keeps it. A number never texted gets none (and is never texted again either).
      if (decided.survey_id) {
        confirm = !Exec(txn, "confirm_once", {hashes.Text(), Time(now)}).empty();
      }
    }
    if (decided.survey_id && !decided.conversation_state.empty()) {
      Exec(txn, "conversation_upsert",
           {Int(*decided.survey_id), Text(decided.conversation_state), Int(decided.next_question),
            decided.next_asked_again ? "true" : "false", Time(decided.conversation_expires_at),
            Time(now)});
    }
    if (decided.survey_id && (decided.score || !decided.comment.empty())) {
      Params params{Int(*decided.survey_id)};
      for (int q = 1; q <= 5; ++q) {
        params.push_back(decided.score && decided.question == q ? Int(*decided.score)
                                                                : std::nullopt);
      }
      params.push_back(Text(TruncateCodePoints(decided.comment, 2000)));
      params.push_back(Time(now));
      const auto response = Exec(txn, "response_upsert", params);
      Exec(txn, "response_mark", {Int(*decided.survey_id), Time(now)});
      // The alerts the page would raise for the answer as it stands, stored with it: the first
      // text that discloses a risk raises it, and the answers after it do not raise it again
      // (one acknowledged or resolved opens again if they disclose more).
      // A kind's rules only ever fire on more as an answer grows (its comment grows, its scores
      // fill in), so the alerts at the end are those of the whole answer.
      if (raise_alerts && !response.empty()) {
        const auto survey = Exec(txn, "survey_by_id", {Int(*decided.survey_id)});
        const SurveyView view = ReadSurveyView(survey[0]);
        // What this text raises by itself: written again after its alert was dealt with, it
        // opens it again, even in words the answer had already.
        std::vector<NewAlert> written_again;
        if (!decided.comment.empty()) {
          written_again = raise_alerts(view, TextAsComment(view, decided.comment));
        }
        std::vector<NewAlert> alerts = raise_alerts(view, ReadAnswers(response[0]));
        // The stored comment keeps its first 2,000 characters: a disclosure in a text after
        // them is not in it, and raises its alert from the text itself.
        for (const NewAlert& text_alert : written_again) {
          const bool in_answer = std::any_of(alerts.begin(), alerts.end(), [&](const NewAlert& a) {
            return a.kind == text_alert.kind;
          });
          if (!in_answer) alerts.push_back(text_alert);
        }
        outcome.alerts_raised = InsertAlerts(txn, *decided.survey_id, alerts, now,
                                             /*only_new=*/false, written_again);
      }
    } else if (raise_alerts && decided.survey_id &&
               (decided.disposition == "reply" || decided.disposition == "opt_out")) {
      // A text back to a survey's link, outside any answer ("he's back, please help", or with a
      // STOP): read as a comment alone would be, so that a disclosure reaches a supervisor as
      // one on the page does. The alert shows the text (its view masked, its reveal as written).
      const auto survey = Exec(txn, "survey_by_id", {Int(*decided.survey_id)});
      if (!survey.empty()) {
        const SurveyView view = ReadSurveyView(survey[0]);
        outcome.alerts_raised = InsertAlerts(txn, *decided.survey_id,
                                             raise_alerts(view, TextAsComment(view, sms.body)), now,
                                             /*only_new=*/true);
      }
    }
    bool number_held = false;
    for (const QueuedText& text : decided.texts) {
      // A confirmation goes once per number, whatever the plan was told.
      if (text.kind == MessageKind::kConfirmation && !confirm) continue;
      // Every text belongs to a survey of the number: that is where its number is kept.
      if (!decided.survey_id) continue;
      if (!number_held) {
        Exec(txn, "survey_number_again",
             {Int(*decided.survey_id), Param(vault_.Seal(e164, kSurveyPhone))});
        number_held = true;
      }
      Exec(txn, "queue_text",
           {Int(*decided.survey_id), MessageKindName(text.kind), Time(now), Text(text.body),
            Time(text.expires_at)});
      ++outcome.texts_queued;
    }
    txn.commit();
    return outcome;
  });
}

}  // namespace surveyd::store
