// IngestStore: events stored once each with their decisions, surveys and outbox rows, one
// transaction per batch (or per part of a feed batch, IngestNow).
#include <algorithm>
#include <exception>
#include <future>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "store/pg_store_impl.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/event_json.hpp"
#include "surveyd/core/failpoint.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/analytics_store.hpp"
#include "surveyd/store/ingest_parts.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace {

// A feed batch smaller than this is written in one transaction (IngestNow).
constexpr std::size_t kSplitFrom = 64;
// Into how many parts at most a feed batch is split, each written at once by a thread and a
// connection of its own (IngestNow). Three wrote no faster than two on two cores (bench/ingest.sh,
// docs/benchmark-history.md).
constexpr std::size_t kParts = 2;

// A line's feed sequence number: the feed's, else the one in the event.
std::optional<std::int64_t> LineSeq(const IngestItem& item) {
  return item.seq ? item.seq : (item.event ? item.event->seq : std::nullopt);
}

// The feed's place after these items: the highest sequence number among them.
std::optional<std::int64_t> MaxSeq(const std::vector<IngestItem>& items) {
  std::optional<std::int64_t> max_seq;
  for (const IngestItem& item : items) {
    const auto seq = LineSeq(item);
    if (seq) max_seq = std::max(max_seq.value_or(*seq), *seq);
  }
  return max_seq;
}

// The columns of a survey that ingest writes, but created_at, in the order of SurveyColumns.
#define SURVEYD_SURVEY_COLUMNS                                                                     \
  "event_id, group_id, language, phone_enc, phone_hash, event_type, channel, incident_type_code, " \
  "incident_category, incident_grade, npu, beat, postcode_district, handler_id, handler_team, "    \
  "officer_id, department, caller_role, caller_age_band, caller_gender, caller_ethnicity, "        \
  "contact_at, send_at, expires_at, sms_template, token_nonce, closes_at, incident_id, mode"

// The columns of the surveys decided in one batch, as arrays for unnest().
struct SurveyColumns {
  ArrayLiteral event_id, group_id, language, phone_enc, phone_hash, event_type, channel, type_code,
      category, grade, npu, beat, postcode_district, handler_id, handler_team, officer_id,
      department, caller_role, caller_age_band, caller_gender, caller_ethnicity, contact_at,
      send_at, expires_at, sms_template, token_nonce, closes_at, incident_id, mode;

  // `sealed_e164`: the number as the store keeps it, encrypted.
  void Add(const Event& event, const Decision& decision, const std::string& sealed_e164,
           const std::string& hash) {
    event_id.Add(event.event_id);
    group_id.Add(decision.group);
    language.Add(decision.language.empty() ? std::string("en") : decision.language);
    phone_enc.Add(sealed_e164);
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
    token_nonce.Add(token::NewNonce());
    // The page never closes before the last moment the text may go out.
    closes_at.AddTime(std::max(decision.survey_closes_at, decision.expires_at));
    incident_id.Add(NonEmpty(event.incident.id));
    mode.Add(decision.two_way ? "two_way" : "link");
  }

  // Appended as the parameters for SURVEYD_SURVEY_COLUMNS, in its order.
  void AppendTo(Params& params) const {
    params.insert(params.end(), {event_id.Text(),
                                 group_id.Text(),
                                 language.Text(),
                                 phone_enc.Text(),
                                 phone_hash.Text(),
                                 event_type.Text(),
                                 channel.Text(),
                                 type_code.Text(),
                                 category.Text(),
                                 grade.Text(),
                                 npu.Text(),
                                 beat.Text(),
                                 postcode_district.Text(),
                                 handler_id.Text(),
                                 handler_team.Text(),
                                 officer_id.Text(),
                                 department.Text(),
                                 caller_role.Text(),
                                 caller_age_band.Text(),
                                 caller_gender.Text(),
                                 caller_ethnicity.Text(),
                                 contact_at.Text(),
                                 send_at.Text(),
                                 expires_at.Text(),
                                 sms_template.Text(),
                                 token_nonce.Text(),
                                 closes_at.Text(),
                                 incident_id.Text(),
                                 mode.Text()});
  }
};

// A value the database refused for one event (an impossible time, a number out of range, a
// string too long for an index): a retry cannot fix it, so the event is rejected on its own. Any
// other failure (connection, resources, deadlock) is the database's, and the batch is retried.
bool IsDataError(const std::string& sqlstate) {
  const std::string_view sqlclass = std::string_view(sqlstate).substr(0, 2);
  return sqlclass == "22" || sqlclass == "23" || sqlclass == "54";
}

// Why storing a batch failed, when the failure may be one of its events' own: the database
// refused one of its values, or deciding one of them failed (a bug in the rules, say, that
// throws). Then the batch is stored again one event at a time, and that event alone is
// rejected with this reason, so that it cannot hold the feed for ever. Nothing for the rest:
// the database unavailable, a deadlock to retry, a statement timeout (the load, not an
// event), out of memory.
std::optional<std::string> OneEventsFault(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    if (!IsDataError(sql->sqlstate())) return std::nullopt;
    return "the database refused a value (SQLSTATE " + sql->sqlstate() + ")";
  }
  if (dynamic_cast<const pqxx::failure*>(&e) != nullptr ||
      dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return std::nullopt;
  }
  // Its text may quote the event: only that it happened goes into the reason and the log.
  return "could not be decided (an internal error)";
}

// An advisory lock key for an incident, in the same key space as the phone locks (collisions
// only serialise two unrelated batches).
std::int64_t IncidentLockKey(const std::string& incident_id) {
  return LockKey(crypto::Sha256Hex("incident:" + incident_id));
}

// A stored event as the rules see it again: its facts (normalised, without the number).
std::optional<Event> ReadFacts(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return std::nullopt;
  return EventFromJson(json).event;
}

// A text[] as PostgreSQL writes it ("{a,b}", quoted where needed): a stored event's screen
// findings, say.
std::vector<std::string> ReadTextArray(const std::string& text) {
  std::vector<std::string> values;
  pqxx::array_parser parser(text.c_str());
  for (auto step = parser.get_next(); step.first != pqxx::array_parser::done;
       step = parser.get_next()) {
    if (step.first == pqxx::array_parser::string_value) values.push_back(std::move(step.second));
  }
  return values;
}

// What a screen found on an event (EventScreen::findings), sorted and each once; nothing without
// a screen.
std::vector<std::string> Findings(const EventScreen& screen, const Event& event) {
  if (screen.version.empty()) return {};
  std::vector<std::string> findings = screen.findings(event);
  std::sort(findings.begin(), findings.end());
  findings.erase(std::unique(findings.begin(), findings.end()), findings.end());
  return findings;
}

// Findings as the array literal stored in events.screen_findings; nullopt when there are none.
std::optional<std::string> FindingsLiteral(const std::vector<std::string>& findings) {
  if (findings.empty()) return std::nullopt;
  ArrayLiteral literal;
  for (const std::string& finding : findings) literal.Add(finding);
  return literal.Text();
}

// What a stored event is screened again as (events.screen_findings). One whose facts cannot be
// read is read back as before, and says so then: screening it as one that could rule a contact
// out, by a finding of its own, keeps it that way.
std::optional<std::string> StoredFindingsLiteral(const EventScreen& screen,
                                                 const std::string& event_id,
                                                 const std::optional<Event>& event) {
  if (event) return FindingsLiteral(Findings(screen, *event));
  return FindingsLiteral({"unreadable:" + event_id});
}

// Stored events screened again, in one statement (screen_set).
struct Rescreened {
  ArrayLiteral ids, findings;
  int count = 0;
  void Add(const EventScreen& screen, const std::string& event_id,
           const std::optional<Event>& event) {
    ++count;
    ids.Add(event_id);
    findings.Add(StoredFindingsLiteral(screen, event_id, event));
  }
  void Store(pqxx::transaction_base& txn, const EventScreen& screen) const {
    if (!ids.empty()) Exec(txn, "screen_set", {Text(screen.version), ids.Text(), findings.Text()});
  }
};

// The events that bear on the decisions of one batch: those stored before it (found by incident
// and number) and the batch's own, in delivery order, so that each decision sees exactly what
// was known before it.
class RelatedPool {
 public:
  struct Entry {
    std::string event_id;
    TimePoint occurred_at;
    // Its facts; none for a number's event read back by what the screen found alone
    // (ScreenedEvent), which is never one of the batch's incidents' (their events come whole).
    std::optional<Event> event;
    std::string incident_id, phone_hash;
    int order = -1;  // -1: stored before this batch; else the position in the batch
    std::vector<std::string> findings = {};  // under the screen, when there is one (Findings)
    // Filed under `phone_hash` by a later event of its incident, from that event's position in
    // the batch (FileBack); -1: under its own number, or its incident's, from the start.
    int filed_from = -1;
  };

  // Under a screen, a number's events are given as the newest for each rule they could rule a
  // contact out by (EventScreen), as the store reads them back: so a decision, and its trace,
  // are the same whether the events came in one batch or many, by the feed, a push or a replay.
  explicit RelatedPool(const EventScreen& screen) : screen_(screen) {}

  void Add(Entry entry) {
    const std::size_t index = entries_.size();
    if (!entry.incident_id.empty() && entry.event) {
      by_incident_[entry.incident_id].push_back(index);
      if (entry.phone_hash.empty()) numberless_[entry.incident_id].push_back(index);
    }
    // A number an incident's event names is in the incident from that event on: the
    // incident's events are the number's too (as the store files them: migration 0046).
    if (!entry.incident_id.empty() && !entry.phone_hash.empty()) {
      incidents_of_[entry.phone_hash].push_back({entry.incident_id, entry.order});
      numbers_of_[entry.incident_id].insert(entry.phone_hash);
    }
    if (!entry.phone_hash.empty()) by_hash_[entry.phone_hash].push_back(index);
    entries_.push_back(std::move(entry));
  }

  // The incident's events without a number, stored or earlier in the batch, are filed under
  // `phone_hash`, a number of the incident's that has come at batch position `position`: the
  // number's contacts decided after it see them, as they see the incident's own. Returns them.
  std::vector<const Entry*> FileBack(const std::string& incident_id, const std::string& phone_hash,
                                     int position) {
    std::vector<const Entry*> filed;
    const auto it = numberless_.find(incident_id);
    if (it == numberless_.end() || phone_hash.empty()) return filed;
    for (const std::size_t index : it->second) {
      Entry& entry = entries_[index];
      entry.phone_hash = phone_hash;
      entry.filed_from = position;
      by_hash_[phone_hash].push_back(index);
      filed.push_back(&entry);
    }
    numberless_.erase(it);
    return filed;
  }

  // Whether the number appears in the incident before batch position `up_to` (exclusive).
  bool InIncident(const std::string& phone_hash, const std::string& incident_id, int up_to) const {
    const auto it = incidents_of_.find(phone_hash);
    if (phone_hash.empty() || incident_id.empty() || it == incidents_of_.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](const auto& in) {
      return in.first == incident_id && in.second < up_to;
    });
  }

  // The numbers the incident's events name (as far as the pool knows them: the batch's
  // incidents' come whole).
  const std::set<std::string>& NumbersOf(const std::string& incident_id) const {
    static const std::set<std::string> kNone;
    const auto it = numbers_of_.find(incident_id);
    return it == numbers_of_.end() ? kNone : it->second;
  }

  // Something of this incident or number cannot be decided against: a stored event that cannot
  // be read, or a rejected line that names them. `reason` excludes their contacts delivered
  // after the batch's item `from` (-1: all of them, for what was stored before this batch) and
  // before its item `until`: a good delivery of the line's own event_id, which stands for the
  // line from there on (kToTheEnd: none in this batch).
  void MarkUnreadable(const std::string& incident_id, const std::string& phone_hash,
                      const std::string& reason, std::ptrdiff_t from = -1,
                      std::size_t until = kToTheEnd) {
    const Mark mark{from, until, reason};
    if (!incident_id.empty()) unreadable_["i:" + incident_id].push_back(mark);
    if (!phone_hash.empty()) unreadable_["n:" + phone_hash].push_back(mark);
  }
  // Why a contact of this incident or number, the batch's item `item`, cannot be decided, if it
  // cannot: the reason of the earliest mark that covers it.
  std::optional<std::string> Unreadable(const std::string& incident_id,
                                        const std::string& phone_hash, std::size_t item) const {
    const Mark* earliest = nullptr;
    const auto consider = [&](const std::string& key) {
      const auto it = unreadable_.find(key);
      if (it == unreadable_.end()) return;
      for (const Mark& mark : it->second) {
        const bool covers = mark.from < static_cast<std::ptrdiff_t>(item) && item < mark.until;
        if (covers && (earliest == nullptr || mark.from < earliest->from)) earliest = &mark;
      }
    };
    if (!incident_id.empty()) consider("i:" + incident_id);
    if (!phone_hash.empty()) consider("n:" + phone_hash);
    if (earliest == nullptr) return std::nullopt;
    return earliest->reason;
  }

  // Everything related to an event of `incident_id` from `phone_hash`, but itself, known up to
  // batch position `up_to` (exclusive).
  RelatedEvents For(const std::string& event_id, const std::string& incident_id,
                    const std::string& phone_hash, int up_to) const {
    RelatedEvents related;
    auto visible = [&](const Entry& e) { return e.event_id != event_id && e.order < up_to; };
    auto give = [&related, &phone_hash](const Entry& e) {
      if (e.event && !e.phone_hash.empty() && e.phone_hash != phone_hash) {
        related.number_incidents_others.push_back(*e.event);
      } else if (e.event) {
        related.same_number.push_back(*e.event);
      } else {
        related.same_number_screened.push_back({e.event_id, e.occurred_at, e.findings});
      }
    };
    if (auto it = by_incident_.find(incident_id);
        !incident_id.empty() && it != by_incident_.end()) {
      for (std::size_t i : it->second) {
        if (visible(entries_[i])) related.same_incident.push_back(*entries_[i].event);
      }
    }
    if (!phone_hash.empty()) {
      // The number's events, and those of every incident it appears in (from the batch
      // position where it came to appear there), each with the position it is the number's
      // from.
      std::vector<std::pair<const Entry*, int>> of_number;
      if (auto it = by_hash_.find(phone_hash); it != by_hash_.end()) {
        for (std::size_t i : it->second) {
          const Entry& e = entries_[i];
          of_number.emplace_back(&e, std::max(e.order, e.filed_from));
        }
      }
      if (auto it = incidents_of_.find(phone_hash); it != incidents_of_.end()) {
        for (const auto& [incident, from] : it->second) {
          const auto events = by_incident_.find(incident);
          if (events == by_incident_.end()) continue;
          for (std::size_t i : events->second) {
            const Entry& e = entries_[i];
            if (e.phone_hash != phone_hash) of_number.emplace_back(&e, std::max(e.order, from));
          }
        }
      }
      // Picked among every event of the number known then, the event itself and its
      // incident's included, as the read-back picks them; those are then left out.
      std::map<const Entry*, int> known;  // each event once, from the earliest position
      for (const auto& [e, from] : of_number) {
        if (e->order >= up_to || from >= up_to) continue;
        const auto [at, fresh] = known.emplace(e, from);
        if (!fresh) at->second = std::min(at->second, from);
      }
      auto counts = [&](const Entry& e) {
        return visible(e) && (incident_id.empty() || e.incident_id != incident_id);
      };
      std::map<std::string_view, const Entry*> newest;  // finding -> its newest event
      std::vector<const Entry*> given;
      for (const auto& [e, from] : known) {
        if (screen_.version.empty()) {
          if (counts(*e)) given.push_back(e);
          continue;
        }
        // Another number's event of an incident this number is in counts for what concerns
        // the incident, not for its caller's own findings (rules::IsCallersOwn), which must
        // not hide an older event of this number that holds them.
        const bool another_number = !e->phone_hash.empty() && e->phone_hash != phone_hash;
        for (const std::string& finding : e->findings) {
          if (another_number && rules::IsCallersOwn(finding)) continue;
          const Entry*& best = newest[finding];
          if (best == nullptr || Newer(*e, *best)) best = e;
        }
      }
      std::set<const Entry*> chosen;
      for (const auto& [finding, e] : newest) {
        if (counts(*e) && chosen.insert(e).second) given.push_back(e);
      }
      for (const Entry* e : given) give(*e);
    }
    SortByTime(related);
    return related;
  }

 private:
  // The order the store's read-back picks by: occurred_at, then event_id byte by byte.
  static bool Newer(const Entry& a, const Entry& b) {
    if (a.occurred_at != b.occurred_at) return a.occurred_at > b.occurred_at;
    return a.event_id > b.event_id;
  }

  const EventScreen& screen_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::vector<std::size_t>> by_incident_, by_hash_;
  std::unordered_map<std::string, std::vector<std::size_t>> numberless_;  // incident -> not filed
  // number -> the incidents it appears in, each from the batch position its first event there
  // has (-1: stored before), among the incidents whose events the pool holds whole.
  std::unordered_map<std::string, std::vector<std::pair<std::string, int>>> incidents_of_;
  std::unordered_map<std::string, std::set<std::string>> numbers_of_;  // incident -> numbers
  struct Mark {
    std::ptrdiff_t from;
    std::size_t until;
    std::string reason;
  };
  std::unordered_map<std::string, std::vector<Mark>> unreadable_;  // "i:"/"n:" key -> its marks
};

// JSON text that jsonb accepts: jsonb refuses the \u0000 escape (SQLSTATE 22P05), which a NUL
// inside a feed string dumps to; it becomes U+FFFD, as NUL does in text columns (pg::CleanText).
std::string JsonbText(const nlohmann::json& value) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.find("\\u0000") == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out.push_back(text[i]);
      continue;
    }
    // An escape is taken whole, so that an escaped backslash followed by "u0000" stays as it is.
    const bool nul = text.compare(i, 6, "\\u0000") == 0;
    out += nul ? std::string("\\ufffd") : text.substr(i, 2);
    i += nul ? 5 : 1;
  }
  return out;
}

std::string TraceJson(const std::vector<std::string>& trace) {
  return JsonbText(nlohmann::json(trace));
}

}  // namespace

namespace pg {

// The statements reading related events back, in parts: an event's id, incident, number and
// facts, or, for a number's event screened under the rules deciding, its findings and when it
// happened instead of its facts (ScreenedEvent); then whether it was screened under other rules
// than those deciding, or none (`stale`: so the batch screens its incidents' again, below).
#define SURVEYD_RELATED_COLUMNS                                                         \
  "SELECT event_id, COALESCE(incident_id, ''), COALESCE(phone_hash, ''), facts::text, " \
  "NULL::text, NULL::bigint, false FROM events "
#define SURVEYD_RELATED_OF_INCIDENTS \
  SURVEYD_RELATED_COLUMNS "WHERE incident_id = ANY($1::text[]) AND facts IS NOT NULL"
// Screened under other rules than those of version `v`, or not at all.
#define SURVEYD_SCREENED_ELSEWHERE(v) \
  "(screened_with IS NULL OR screened_with < " v " OR screened_with > " v ")"
// An incident has a handful of events, found by its index: the screen is a filter on their
// facts. Those without a number come whatever they found, to be filed under a number that the
// batch brings the incident (RelatedPool::FileBack). The others the screen passes come as what
// they are, an event of their number in the incident and nothing more (no facts, no findings):
// so the incident's numbers are known, and a flag the batch brings is filed under them all.
#define SURVEYD_INCIDENT_EVENT_COUNTS(v)                                \
  "COALESCE(screen_hit OR screened_with IS NULL OR screened_with <> " v \
  " OR phone_hash IS NULL, true)"
#define SURVEYD_RELATED_OF_INCIDENTS_SCREENED(v) \
  "SELECT event_id, COALESCE(incident_id, ''), COALESCE(phone_hash, ''), "                   \
  "CASE WHEN " SURVEYD_INCIDENT_EVENT_COUNTS(v) " THEN facts::text END, "                    \
  "CASE WHEN NOT " SURVEYD_INCIDENT_EVENT_COUNTS(v) " THEN '{}' END, "                       \
  "CASE WHEN NOT " SURVEYD_INCIDENT_EVENT_COUNTS(v) " THEN surveyd_epoch_us(occurred_at) END, " \
  "COALESCE(screened_with <> " v ", true) "                                                     \
  "FROM events WHERE incident_id = ANY($1::text[]) AND facts IS NOT NULL"
// The numbers' events since $3.
#define SURVEYD_RELATED_OF_NUMBERS                            \
  SURVEYD_RELATED_COLUMNS                                     \
  "WHERE phone_hash = ANY($2::text[]) AND facts IS NOT NULL " \
  "AND occurred_at >= $3::timestamptz"
// The numbers' events screened under other rules, or none (SURVEYD_WHERE_SCREENED_ELSEWHERE), of
// any age, found by their ranges of the index on (phone_hash, screened_with), each saying whether
// it is within the look-back ($3, `recent`): those are given as the numbers'; all name the
// incidents the numbers are in (an event of a number, however old, puts it in its incident, as
// migration 0046 files an incident's flags). The look-back is a column, not a condition: as a
// range, a generic plan made on statistics of a few busy numbers takes the batch's numbers for a
// fifth of the table and walks every event of the look-back by date to find the few, or none,
// screened elsewhere (StoreTest.WhatADecisionReadsBack...: 2,208 pages a range for four numbers
// with an event each, of 1,101 in the table).
#define SURVEYD_RELATED_OF_NUMBERS_ELSEWHERE                                            \
  "SELECT event_id, COALESCE(incident_id, ''), COALESCE(phone_hash, ''), facts::text, " \
  "NULL::text, NULL::bigint, true, occurred_at >= $3::timestamptz FROM events "         \
  "WHERE phone_hash = ANY($2::text[]) AND facts IS NOT NULL"
// Those, read once as `elsewhere`: the statement gives them (within the look-back), and the
// incidents they are in.
#define SURVEYD_ELSEWHERE_AS_CTE                                                               \
  "WITH elsewhere (event_id, incident_id, phone_hash, facts, findings, at, stale, recent) AS " \
  "(" SURVEYD_WHERE_SCREENED_ELSEWHERE(SURVEYD_RELATED_OF_NUMBERS_ELSEWHERE, "$4") ") "
// Every event of the incidents that the numbers' events screened elsewhere are in (`elsewhere`,
// as above), but the batch's own incidents (they come whole). A flag on another number's event
// of such an incident is filed under these numbers only under the rules it was screened by
// (migration 0046), and those are not deciding. Which incidents a number is in are known only
// from its events, and those screened under the rules deciding cannot be walked for them (a busy
// number has thousands); but an incident's events are screened together (PgStore::ScreenEvents,
// and a batch screens its incidents' again: StoreEvents), so a number's event screened under
// the rules deciding is in an incident whose flags are filed under it under those rules too, and
// one screened elsewhere names an incident to read whole. For nearly every batch, `elsewhere` is
// empty: nothing more is read.
#define SURVEYD_RELATED_OF_INCIDENTS_OF_ELSEWHERE                                   \
  "SELECT m.event_id, COALESCE(m.incident_id, ''), COALESCE(m.phone_hash, ''), "    \
  "m.facts::text, NULL::text, NULL::bigint, COALESCE(m.screened_with <> $4, true) " \
  "FROM (SELECT DISTINCT incident_id FROM elsewhere WHERE incident_id <> '' "       \
  "AND incident_id NOT IN (SELECT unnest($1::text[]))) AS a "                       \
  "JOIN events m ON m.incident_id = a.incident_id AND m.facts IS NOT NULL"
// Of the numbers' events screened under the rules whose version is $4, those that could rule a
// contact out: the newest for each rule it could (EventScreen), found in number_findings (or,
// where a row there no longer holds, in the index: SURVEYD_NUMBER_NEWEST_EVENTS), but those of
// the batch's incidents, which come whole as the incidents' (and are given as the number's from
// there too). Each comes under the number it was found for: an incident's flag filed under every
// number of the incident (migration 0046) names an event of another number, or of none, and an
// event of another number comes without its caller's own findings (rules::IsCallersOwn,
// surveyd_incident_findings in migration 0046). The incidents are a hashed NOT IN: as `<> ALL ($1)`
// a generic plan compares each row with every incident of the batch.
#define SURVEYD_RELATED_OF_NUMBERS_FOUND \
  "SELECT x.event_id, COALESCE(x.incident_id, ''), n.hash, NULL::text, "                       \
  "CASE WHEN x.phone_hash IS DISTINCT FROM n.hash AND x.phone_hash IS NOT NULL "               \
  "THEN surveyd_incident_findings(x.screen_findings) "                                          \
  "ELSE x.screen_findings END::text, surveyd_epoch_us(x.occurred_at), false "                   \
  "FROM unnest($2::text[]) AS n(hash) "                                                         \
  "CROSS JOIN LATERAL (" SURVEYD_NUMBER_NEWEST_EVENTS(                                          \
      "n.hash", "$4", "$3::timestamptz",                                                        \
      "e.event_id, e.incident_id, e.phone_hash, e.screen_findings, e.occurred_at, "             \
      "e.facts IS NOT NULL AS has_facts") ") AS x "                                             \
  "WHERE x.has_facts AND x.screen_findings IS NOT NULL "                                        \
  "AND (x.incident_id IS NULL OR x.incident_id NOT IN (SELECT unnest($1::text[])))"
// Rejected lines naming the incidents or numbers ($3 on for a number, as its events), but those
// that a stored good delivery of the same event_id replaced: no facts, so read back as what
// cannot be decided against (migration 0019), up to a good delivery in this batch. A batch's own
// lines are stored after its events are decided: they count from their place in it (RelatedPool).
#define SURVEYD_RELATED_REJECTED                                               \
  " UNION ALL SELECT COALESCE(r.event_id, ''), COALESCE(r.incident_id, ''), "  \
  "COALESCE(r.phone_hash, ''), NULL::text, NULL::text, NULL::bigint, false "   \
  "FROM rejected_events r "                                                    \
  "WHERE (r.incident_id = ANY($1::text[]) "                                    \
  "OR (r.phone_hash = ANY($2::text[]) AND r.received_at >= $3::timestamptz)) " \
  "AND (r.event_id IS NULL "                                                   \
  "OR NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.event_id))"
const Statements& IngestStatements() {
  static const Statements kStatements = {
      {"ingest_rejected",
       "INSERT INTO rejected_events (event_id, source, seq, reject_reason, raw, incident_id, "
       "phone_hash, received_at) "
       "SELECT t.*, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::bigint[], "
       "$5::text[], $6::text[], $7::text[], $8::text[]) AS t"},
      // The texts still queued for the incidents ($2) and numbers ($3) that rejected lines name
      // are held: cancelled, or in doubt if a send of theirs may have gone (as cancel_texts).
      {"hold_texts",
       "UPDATE outbox o SET state = CASE WHEN o.maybe_sent THEN 'in_doubt' ELSE 'cancelled' END, "
       "cancel_reason = 'insufficient_data:rejected_event', cancelled_by = 'rejected_line', "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $1::timestamptz "
       "FROM surveys s WHERE s.id = o.survey_id AND o.state IN ('pending', 'claimed') "
       "AND o.kind IN " SURVEYD_SURVEY_TEXT_KINDS " "
       "AND (s.incident_id = ANY($2::text[]) OR s.phone_hash = ANY($3::text[])) "
       "AND s.event_id <> ALL($4::text[]) RETURNING s.event_id"},
      // Events go in with their decisions (NULL for those already stored), so that no row is
      // written twice. A later delivery of a stored event only counts itself; (xmax = 0) tells
      // a fresh insert from a conflict. An event keeps the highest feed sequence number of the
      // lines that delivered it: a line at or below it is one of those lines again (the feed
      // resumed from a cursor behind it, as after a crash between the parts of a batch and its
      // cursor), not a new delivery, and counts nothing. Lines come in sequence order, so every
      // line below the stored number has been taken already. Each line counts on its own: a
      // batch sent again can hold an event's line taken already and a new one (`delivered`). The
      // number stored before (read in the statement's snapshot, which does not see its own
      // update) comes back for a conflict, so that the service's counters tell such a line from
      // a duplicate too. A fresh event's sealed line goes into raw_events, which retention
      // empties long before the event goes (migration 0022). The surveys decided ($18 on, in
      // delivery order, which their ids keep) go in with their texts, in the same round trip,
      // for the events that went in: a concurrent delivery of one of them may have won (it holds
      // the same locks, so it decided the same).
      {"ingest_events",
       "WITH t AS (SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], "
       "$6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], "
       "$12::text[], $13::text[], $14::text[], $15::text[], $17::text[]) AS t(id, source, seq, "
       "type, occurred_at, duplicates, raw, decision, reason, grp, trace, incident, hash, facts, "
       "findings)), "
       "delivered AS (SELECT * FROM unnest($47::text[], $48::bigint[]) AS l(id, seq)), "
       "stored AS (INSERT INTO events (event_id, source, seq, type, occurred_at, duplicates, "
       "decision, decision_reason, decision_group, decision_trace, incident_id, phone_hash, "
       "facts, received_at, screened_with, screen_hit, screen_findings) "
       "SELECT t.id, t.source, t.seq, t.type, t.occurred_at, t.duplicates, t.decision, "
       "t.reason, t.grp, t.trace::jsonb, t.incident, t.hash, t.facts::jsonb, $1::timestamptz, "
       "$16::text, CASE WHEN $16::text IS NOT NULL THEN t.findings IS NOT NULL END, "
       "t.findings::text[] FROM t "
       "ON CONFLICT (event_id) DO UPDATE "
       "SET duplicates = events.duplicates + CASE WHEN excluded.duplicates = 0 "
       "THEN CASE WHEN excluded.seq <= events.seq THEN 0 ELSE 1 END "
       "ELSE (SELECT count(*) FROM delivered l WHERE l.id = excluded.event_id "
       "AND (l.seq > events.seq) IS NOT FALSE)::int END, "
       "seq = GREATEST(events.seq, excluded.seq) "
       "RETURNING event_id, (xmax = 0) AS inserted, CASE WHEN xmax <> 0 THEN (SELECT p.seq "
       "FROM events p WHERE p.event_id = events.event_id) END AS stored_seq), "
       "lines AS (INSERT INTO raw_events (event_id, received_at, raw) "
       "SELECT t.id, $1::timestamptz, t.raw FROM t JOIN stored ON stored.event_id = t.id "
       "WHERE stored.inserted AND t.raw IS NOT NULL), "
       "s AS (INSERT INTO surveys (" SURVEYD_SURVEY_COLUMNS ", created_at) "
       "SELECT " SURVEYD_SURVEY_COLUMNS ", $1::timestamptz FROM unnest($18::text[], "
       "$19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], "
       "$25::text[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], "
       "$31::text[], $32::text[], $33::text[], $34::text[], $35::text[], $36::text[], "
       "$37::text[], $38::text[], $39::timestamptz[], $40::timestamptz[], $41::timestamptz[], "
       "$42::text[], $43::text[], $44::timestamptz[], $45::text[], $46::text[]) "
       "WITH ORDINALITY AS u (" SURVEYD_SURVEY_COLUMNS ", n) "
       "WHERE u.event_id IN (SELECT stored.event_id FROM stored WHERE stored.inserted) "
       "ORDER BY u.n RETURNING id, send_at), "
       "texts AS (INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at) "
       "SELECT id, 'svy-' || id || '-' || substr(md5(random()::text), 1, 8), 'pending', "
       "send_at, $1::timestamptz FROM s) "
       "SELECT event_id, inserted, stored_seq FROM stored"},
      {"events_stored", "SELECT event_id FROM events WHERE event_id = ANY($1::text[])"},
      // What stored events could rule out under the screen $2 (NULL under another).
      {"stored_findings",
       "SELECT event_id, CASE WHEN screened_with = $2 THEN COALESCE(screen_findings, '{}') "
       "END::text "
       "FROM events WHERE event_id = ANY($1::text[])"},
      // Events without a number filed under one that came later for their incident
      // (RelatedPool::FileBack); number_findings follows by its trigger.
      {"file_back_numbers",
       "UPDATE events e SET phone_hash = t.hash FROM unnest($1::text[], $2::text[]) AS t(id, hash) "
       "WHERE e.event_id = t.id AND e.phone_hash IS NULL"},
      // Of each incident ($1), its first stored event with a number: an event without one is
      // filed under it (FileNumberlessUnderIncidents).
      {"incident_first_numbers",
       "SELECT DISTINCT ON (incident_id) incident_id, surveyd_epoch_us(occurred_at), event_id, "
       "phone_hash FROM events WHERE incident_id = ANY($1::text[]) AND phone_hash IS NOT NULL "
       "ORDER BY incident_id, occurred_at, event_id COLLATE \"C\""},
      {"rejected_lines_stored",
       "SELECT seq, raw FROM rejected_events WHERE source = 'tcp' AND seq = ANY($1::bigint[])"},
      // The subquery's ORDER BY fixes the order in which the locks are taken, so that two
      // batches sharing numbers or incidents cannot deadlock.
      {"lock_keys",
       "SELECT count(pg_advisory_xact_lock(k)) FROM "
       "(SELECT DISTINCT k FROM unnest($1::bigint[]) AS t(k) ORDER BY k) AS sorted"},
      // What a batch's deciding needs to know first, in one round trip (a group of pushes
      // spends more on its round trips than in its statements): which of its events ($1) are
      // stored already; whether any survey was stored for its incidents ($2); and for each
      // number ($3), whether it opted out and when it was last surveyed (so whether it ever
      // was). The first two are the same on every row; a batch without numbers still gets one
      // row, its number NULL. A number's surveys are found by its own index
      // (SURVEYD_LAST_SURVEYED): an EXISTS over all the numbers at once let a generic plan walk
      // a whole index by date instead, hoping to meet one early (5 ms a push group at 16,000
      // surveys, and growing).
      {"batch_known",
       "SELECT k.stored::text, k.surveyed, n.h, n.opted_out, n.last_us FROM (SELECT "
       "ARRAY(SELECT event_id FROM events WHERE event_id = ANY($1::text[])) AS stored, "
       "EXISTS (SELECT 1 FROM surveys WHERE incident_id = ANY($2::text[])) AS surveyed) AS k "
       "LEFT JOIN LATERAL (SELECT h, EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone_hash = h) "
       "AS opted_out, " SURVEYD_LAST_SURVEYED(
           "p.phone_hash = h") " AS last_us FROM unnest($3::text[]) AS t(h)) AS n ON true"},
      // Every stored event of the batch's incidents, and of its numbers since $3.
      {"related_events",
       SURVEYD_RELATED_OF_INCIDENTS " UNION " SURVEYD_RELATED_OF_NUMBERS SURVEYD_RELATED_REJECTED},
      // The same under a screen, whose version is $4: of the incidents' events, those that could
      // rule a contact out; of the numbers', the newest for each rule they could; of both, those
      // screened under other rules or none (EventScreen); and every event of the incidents that
      // those of the numbers are in.
      {"related_events_screened",
       SURVEYD_ELSEWHERE_AS_CTE SURVEYD_RELATED_OF_INCIDENTS_SCREENED(
           "$4") " UNION " SURVEYD_RELATED_OF_NUMBERS_FOUND
                 " UNION SELECT event_id, incident_id, phone_hash, facts, findings, at, stale "
                 "FROM elsewhere WHERE recent "
                 "UNION " SURVEYD_RELATED_OF_INCIDENTS_OF_ELSEWHERE SURVEYD_RELATED_REJECTED},
      // Stored events of numbers or incidents from $2 on not screened under
      // the rules whose version is $1, newest first from $3 on: for ScreenEvents.
      {"screen_pending",
       "SELECT event_id, facts::text, surveyd_epoch_us(occurred_at), COALESCE(incident_id, '') "
       "FROM events WHERE (phone_hash IS NOT NULL OR incident_id IS NOT NULL) "
       "AND facts IS NOT NULL "
       "AND occurred_at >= $2::timestamptz "
       "AND occurred_at <= $3::timestamptz AND " SURVEYD_SCREENED_ELSEWHERE(
           "$1") " ORDER BY occurred_at DESC LIMIT $4::int FOR UPDATE SKIP LOCKED"},
      // Of the keys $1, those whose advisory lock this transaction could take without waiting.
      {"try_lock_keys",
       "SELECT k FROM unnest($1::bigint[]) AS t(k) WHERE pg_try_advisory_xact_lock(k)"},
      // The other events of the incidents $1 not screened under the rules whose version is $3
      // (but $2), each with its facts if this transaction could lock it without waiting: for
      // ScreenEvents, which screens an incident's events together or not at all.
      {"screen_incident_mates",
       "WITH mates AS MATERIALIZED (SELECT event_id, incident_id FROM events "
       "WHERE incident_id = ANY($1::text[]) AND facts IS NOT NULL AND event_id <> ALL($2::text[]) "
       "AND " SURVEYD_SCREENED_ELSEWHERE(
           "$3") "), "
                 "got AS MATERIALIZED (SELECT e.event_id, e.facts::text AS facts FROM events e "
                 "WHERE e.event_id IN (SELECT event_id FROM mates) FOR UPDATE OF e SKIP LOCKED) "
                 "SELECT m.event_id, m.incident_id, g.facts FROM mates m LEFT JOIN got g USING "
                 "(event_id)"},
      {"screen_set",
       "UPDATE events e SET screened_with = $1, screen_hit = t.findings IS NOT NULL, "
       "screen_findings = t.findings::text[] "
       "FROM unnest($2::text[], $3::text[]) AS t(id, findings) WHERE e.event_id = t.id"},
      // Texts not yet begun for the batch's incidents or numbers, with what deciding them again
      // needs: their event's facts, the number, and the number's history without them. The
      // surveys are found first, by their indexes, and their texts from them (OFFSET 0 keeps the
      // planner from turning that into a join): a generic plan otherwise scans every queued
      // text, which during a gateway outage is every text since.
      {"queued_texts",
       "WITH found AS MATERIALIZED ("
       "SELECT id FROM surveys WHERE incident_id = ANY($1::text[]) "
       "UNION SELECT id FROM surveys WHERE phone_hash = ANY($2::text[])) "
       "SELECT o.id, s.id, s.event_id, COALESCE(s.incident_id, ''), s.phone_hash, "
       "COALESCE(s.phone_enc, s.phone_e164), "
       "e.facts::text, EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone_hash = "
       "s.phone_hash), " SURVEYD_LAST_SURVEYED_BEFORE_S
       " FROM found JOIN surveys s ON s.id = found.id "
       "CROSS JOIN LATERAL (SELECT x.id FROM outbox x WHERE x.survey_id = s.id "
       "AND x.state IN ('pending', 'claimed') AND x.kind IN " SURVEYD_SURVEY_TEXT_KINDS
       " OFFSET 0) AS o "
       "JOIN events e ON e.event_id = s.event_id ORDER BY o.id"},
      {"cancel_texts",
       "UPDATE outbox o SET state = CASE WHEN o.maybe_sent THEN 'in_doubt' ELSE 'cancelled' END, "
       "cancel_reason = t.reason, cancelled_by = t.by, "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $1::timestamptz "
       "FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(id, reason, by) "
       "WHERE o.id = t.id AND o.state IN ('pending', 'claimed')"},
      {"trace_append",
       "UPDATE events e SET decision_trace = COALESCE(e.decision_trace, '[]'::jsonb) || "
       "t.entries::jsonb FROM unnest($1::text[], $2::text[]) AS t(id, entries) "
       "WHERE e.event_id = t.id"},
      {"feed_cursor_set",
       "INSERT INTO feed_cursors (feed, seq, updated_at) VALUES ($1, $2::bigint, $3) "
       "ON CONFLICT (feed) DO UPDATE SET seq = GREATEST(feed_cursors.seq, excluded.seq), "
       "updated_at = excluded.updated_at"},
      // FOR SHARE: a batch whose commit was under way when its consumer died holds the row (the
      // cursor is its last write); the next consumer waits for that commit, and resumes after
      // what it stored instead of delivering the batch again (as duplicates). A batch written
      // in parts (IngestNow) holds it only while its cursor is written, after them.
      {"feed_cursor_get", "SELECT seq FROM feed_cursors WHERE feed = $1 FOR SHARE"},
  };
  return kStatements;
}

}  // namespace pg

std::vector<IngestResult> PgStore::IngestBatch(const std::vector<IngestItem>& items,
                                               const DecideFn& decide, const std::string& feed) {
  // A feed's consumer batches its lines already, and each batch carries its cursor.
  if (!feed.empty()) return IngestNow(items, decide, feed);
  // Pushes from concurrent requests go in together. Every caller's `decide` is the rules in
  // force when it was called; the writer's stands for the group (they differ only across a
  // reload, by the milliseconds the group waited).
  return pushes_.Submit(
      items, [&](const std::vector<IngestItem>& group) { return IngestNow(group, decide, ""); });
}

std::vector<IngestResult> PgStore::IngestNow(const std::vector<IngestItem>& items,
                                             const DecideFn& decide, const std::string& feed) {
  // A feed's batch is written in parts at once, each in a transaction of its own, when its lines
  // fall into parts that share no event, incident or number (SplitByContact): written whole, one
  // batch after another, PostgreSQL works on one core while the other waits for the next batch.
  // The parts commit on their own, and the cursor after all of them: a crash between the commits
  // delivers the batch again, and what one part stored comes back as events already stored,
  // known by their sequence numbers as the same lines and counted as no new delivery
  // ("ingest_events"). A rejected line has no event to be found a duplicate of, and would be stored
  // twice: a batch with one is written whole, as are pushes (grouped already: GroupCommit) and
  // small batches. (An event the database refuses is rejected in its part, and could be stored
  // twice so; that takes a refused event and a crash within the milliseconds between two commits.)
  if (feed.empty() || items.size() < kSplitFrom ||
      !std::all_of(items.begin(), items.end(), [](const IngestItem& item) {
        return item.event && !item.event->event_id.empty();
      })) {
    return IngestTogether(items, decide, feed);
  }
  const auto parts = SplitByContact(items, kParts);
  if (parts.size() < 2) return IngestTogether(items, decide, feed);
  std::vector<std::vector<IngestItem>> picked(parts.size());
  for (std::size_t p = 0; p < parts.size(); ++p) {
    picked[p].reserve(parts[p].size());
    for (std::size_t i : parts[p]) picked[p].push_back(items[i]);
  }
  // The first part on this thread, the others each on one of their own.
  std::vector<std::future<std::vector<IngestResult>>> others;
  for (std::size_t p = 1; p < parts.size(); ++p) {
    others.push_back(std::async(std::launch::async, [this, &picked, &decide, p] {
      return IngestTogether(picked[p], decide, std::string());
    }));
  }
  std::vector<std::vector<IngestResult>> stored(parts.size());
  std::exception_ptr failed;
  try {
    stored[0] = IngestTogether(picked[0], decide, std::string());
  } catch (...) {
    failed = std::current_exception();
  }
  for (std::size_t p = 1; p < parts.size(); ++p) {
    try {
      stored[p] = others[p - 1].get();
    } catch (...) {
      if (!failed) failed = std::current_exception();
    }
  }
  if (failed) std::rethrow_exception(failed);
  // Once every part is stored, never before. Not flushed: a cursor lost in a crash of the
  // database only delivers the batch again, as above.
  const std::optional<std::int64_t> max_seq = MaxSeq(items);
  if (max_seq) {
    WithConnection("feed cursor", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      txn.exec0("SET LOCAL synchronous_commit TO off");
      Exec(txn, "feed_cursor_set", {Text(feed), Int(*max_seq), Time(WallClock())});
      txn.commit();
      return 0;
    });
  }
  std::vector<IngestResult> results(items.size());
  for (std::size_t p = 0; p < parts.size(); ++p) {
    for (std::size_t k = 0; k < parts[p].size(); ++k) {
      results[parts[p][k]] = std::move(stored[p][k]);
    }
  }
  return results;
}

std::vector<IngestResult> PgStore::IngestTogether(const std::vector<IngestItem>& items,
                                                  const DecideFn& decide, const std::string& feed) {
  const std::optional<std::int64_t> max_seq = MaxSeq(items);
  return WithConnection("ingest", [&](pqxx::connection& connection) {
    // When one of the batch's events is at fault (OneEventsFault), the batch is run again one
    // event at a time (IngestOneByOne). Again from the start of a new transaction rather than
    // rolled back to a savepoint taken before the batch: that savepoint would cost two round
    // trips on every batch (a group of pushes makes seven in all) for a fault that is rare.
    bool one_by_one = false;
    // Two instances storing overlapping batches can still deadlock on each other's new rows
    // in rare interleavings; deciding is pure, so the batch is simply run again.
    for (int deadlocks = 0;;) {
      try {
        const TimePoint received_at = WallClock();
        pqxx::work txn(connection);
        UseGenericPlans(txn);
        auto results = one_by_one ? IngestOneByOne(txn, items, decide, received_at)
                                  : Ingest(txn, items, decide, received_at);
        if (!feed.empty() && max_seq) {
          Exec(txn, "feed_cursor_set", {Text(feed), Int(*max_seq), Time(received_at)});
        }
        txn.commit();
        return results;
      } catch (const pqxx::transaction_rollback& e) {
        // libpqxx 6.4 throws these for SQLSTATE 40P01 and 40001, not sql_error (which a catch
        // of sql_error by SQLSTATE, as here before, never saw).
        const bool retryable = dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr ||
                               dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr;
        if (!retryable || ++deadlocks == 3) throw;
        spdlog::info("store: ingest retried after a {}",
                     dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr
                         ? "deadlock"
                         : "serialization failure");
      } catch (const std::exception& e) {
        const auto fault = one_by_one ? std::nullopt : OneEventsFault(e);
        if (!fault) throw;
        spdlog::warn("store: {} in a batch of {}; storing its events one at a time", *fault,
                     items.size());
        one_by_one = true;
      }
    }
  });
}

std::optional<std::int64_t> PgStore::FeedCursor(const std::string& feed) {
  return WithConnection("feed cursor", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);  // not read-only: the row is locked to be read (feed_cursor_get)
    auto rows = Exec(txn, "feed_cursor_get", {Text(feed)});
    if (rows.empty()) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(rows[0][0].as<std::int64_t>());
  });
}

IngestStore::ScreenPass PgStore::ScreenEvents(const EventScreen& screen, TimePoint oldest,
                                              TimePoint from, int limit) {
  if (screen.version.empty()) return {};
  return WithConnection("screen events", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    UseGenericPlans(txn);
    const auto rows =
        Exec(txn, "screen_pending", {Text(screen.version), Time(oldest), Time(from), Int(limit)});
    // An incident's events are screened together, or not at all: a flag on one of them is filed
    // under the incident's other numbers under the rules it was screened by (migration 0046),
    // and a number's events screened under the rules deciding are trusted to be in incidents
    // whose flags are filed so (SURVEYD_RELATED_OF_INCIDENTS_OF_ELSEWHERE). So each incident is
    // taken under the advisory lock ingest takes for it, and with every other event of it not
    // screened yet. The sweep never waits: an incident that a batch holds, or one of whose events
    // something else has locked, is left (`skipped`: the sweeper goes again a minute after), read
    // back whole meanwhile.
    std::map<std::int64_t, std::string> keys;  // of the incidents picked
    ArrayLiteral picked, key_list;
    for (const auto& row : rows) {
      picked.Add(row[0].as<std::string>());
      const std::string incident = row[3].as<std::string>();
      if (!incident.empty() && keys.emplace(IncidentLockKey(incident), incident).second) {
        key_list.AddInt(IncidentLockKey(incident));
      }
    }
    std::set<std::string> held;  // the incidents picked whose events can all be screened now
    if (!keys.empty()) {
      for (const auto& row : Exec(txn, "try_lock_keys", {key_list.Text()})) {
        held.insert(keys.at(row[0].as<std::int64_t>()));
      }
    }
    Rescreened screened;
    if (!held.empty()) {
      ArrayLiteral incidents;
      for (const std::string& incident : held) incidents.Add(incident);
      const auto mates = Exec(txn, "screen_incident_mates",
                              {incidents.Text(), picked.Text(), Text(screen.version)});
      for (const auto& row : mates) {
        if (row[2].is_null()) held.erase(row[1].as<std::string>());
      }
      for (const auto& row : mates) {
        if (held.count(row[1].as<std::string>()) == 0) continue;
        const std::string id = row[0].as<std::string>();
        screened.Add(screen, id, ReadFacts(row[2].as<std::string>()));
      }
    }
    ScreenPass pass;
    for (const auto& row : rows) {
      pass.next_from = pg::FromEpochMicros(row[2].as<std::int64_t>());
      const std::string incident = row[3].as<std::string>();
      if (!incident.empty() && held.count(incident) == 0) {
        ++pass.skipped;
        continue;
      }
      screened.Add(screen, row[0].as<std::string>(), ReadFacts(row[1].as<std::string>()));
    }
    screened.Store(txn, screen);
    txn.commit();
    pass.screened = screened.count;
    if (static_cast<int>(rows.size()) < limit) pass.next_from.reset();
    return pass;
  });
}

// Each item in a savepoint of its own, so that the one the database refuses, or that cannot be
// decided, is rejected alone and the rest go in.
std::vector<IngestResult> PgStore::IngestOneByOne(pqxx::transaction_base& txn,
                                                  const std::vector<IngestItem>& items,
                                                  const DecideFn& decide, TimePoint received_at) {
  std::vector<IngestResult> results;
  results.reserve(items.size());
  for (const IngestItem& item : items) {
    std::string fault;
    try {
      Savepoint single(txn, "item");
      results.push_back(Ingest(txn, {item}, decide, received_at).front());
      single.Release();
      continue;
    } catch (const std::exception& e) {
      auto found = OneEventsFault(e);
      if (!found) throw;
      fault = std::move(*found);
    }
    // Rejected alone, the rest go in; what it names is held (fail closed: it may be the event
    // that rules a contact out).
    IngestItem rejected = item;
    rejected.event.reset();
    rejected.reject_reason = fault;
    if (item.event) {
      rejected.event_id = item.event->event_id;
      rejected.incident_id = item.event->incident.id;
      if (item.event->caller && item.event->caller->phone) {
        rejected.phone = *item.event->caller->phone;
      }
      if (!rejected.event_id.empty()) {
        spdlog::error("store: event {} rejected: {}",
                      std::string_view(rejected.event_id).substr(0, 128), fault);
      }
    }
    try {
      Savepoint single(txn, "rejected");
      results.push_back(Ingest(txn, {rejected}, decide, received_at).front());
      single.Release();
      continue;
    } catch (const pqxx::sql_error& e) {
      if (!IsDataError(e.sqlstate())) throw;
    }
    // Even the line as received cannot be stored: keep that it came, and why.
    rejected.raw = "(not storable: " + std::to_string(item.raw.size()) + " bytes)";
    rejected.event_id.clear();
    rejected.incident_id.clear();  // perhaps what was refused; its number still holds
    results.push_back(Ingest(txn, {rejected}, decide, received_at).front());
  }
  return results;
}

std::vector<IngestResult> PgStore::Ingest(pqxx::transaction_base& txn,
                                          const std::vector<IngestItem>& items,
                                          const DecideFn& decide, TimePoint received_at) {
  std::vector<IngestResult> results(items.size());
  FirstDeliveries first_index;
  std::vector<std::size_t> candidates;  // first delivery in this batch
  // Per first delivery; the highest sequence number (the TCP feed's; none for pushes) is stored
  // with its event: see "ingest_events".
  std::vector<Repeats> repeats(items.size());
  ArrayLiteral rejected_id, rejected_source, rejected_seq, rejected_reason, rejected_raw,
      rejected_incident, rejected_hash;
  // What rejected lines name: event_id, incident, number and its hash under the active key.
  struct Named {
    std::size_t item = 0;
    std::string id, incident, e164, hash;
  };
  std::vector<Named> named;

  // A rejected line the TCP feed sends again (the overlap some feeds replay after a reconnect, a
  // batch resent after a crash between its parts and its cursor) is the line stored already, or
  // earlier in this batch, known by its seq and its text: counted as replayed, not stored twice.
  // Its seq alone would not do: a feed whose numbering started again sends other lines at the
  // same seqs, and one of them dropped as replayed would hold nothing. (A stored line whose text
  // retention has erased is not known again: stored twice, it holds twice, never less.)
  const auto unreadable = [](const IngestItem& item) {
    return !item.event || item.event->event_id.empty();
  };
  std::unordered_map<std::int64_t, std::vector<std::string>> rejected_before;  // seq -> texts
  // A line stands for what its event said until a good delivery of its event_id replaces it.
  // One that comes after its event was stored (before, or earlier in this batch) is replaced by
  // nothing: it may name a flag the first delivery did not (a redelivery adding DOMESTIC with
  // one field unreadable), so it holds its incident's and number's texts, and is stored without
  // the id, which the stored event would otherwise stand in for (as HoldRedeliveriesThatRuleOut
  // does for a readable redelivery that adds a finding).
  std::unordered_set<std::string> stored_before;
  {
    ArrayLiteral seqs, line_ids;
    for (const IngestItem& item : items) {
      const auto seq = LineSeq(item);
      if (unreadable(item) && item.source == "tcp" && seq) seqs.AddInt(*seq);
      if (unreadable(item) && !item.event_id.empty()) line_ids.Add(item.event_id);
    }
    if (!seqs.empty()) {
      for (const auto& row : Exec(txn, "rejected_lines_stored", {seqs.Text()})) {
        const auto stored =
            row[1].is_null() ? std::nullopt : std::optional(row[1].as<std::string>());
        if (auto text = vault_.Open(stored, kRejectedRaw)) {
          rejected_before[row[0].as<std::int64_t>()].push_back(std::move(*text));
        }
      }
    }
    if (!line_ids.empty()) {
      for (const auto& row : Exec(txn, "events_stored", {line_ids.Text()})) {
        stored_before.insert(row[0].as<std::string>());
      }
    }
  }

  for (std::size_t i = 0; i < items.size(); ++i) {
    const IngestItem& item = items[i];
    const std::optional<std::int64_t> seq = LineSeq(item);
    if (unreadable(item)) {
      // The line as it is kept: what a replay of it is known by, and what is sealed.
      const std::string text = CleanText(item.raw);
      if (item.source == "tcp" && seq) {
        auto& sent = rejected_before[*seq];
        if (std::find(sent.begin(), sent.end(), text) != sent.end()) {
          results[i] = {item.event_id, IngestOutcome::kDuplicate, "duplicate"};
          results[i].replayed = true;
          continue;
        }
        sent.push_back(text);  // sent again in this batch
      }
      std::string reason = item.event ? "missing event_id" : item.reject_reason;
      if (reason.empty()) reason = "rejected";
      std::string id = item.event_id;
      results[i] = {id, IngestOutcome::kRejected, reason};
      if (!id.empty() && (stored_before.count(id) != 0 || first_index.count(id) != 0)) {
        reason += "; delivered again after event " + id +
                  " was stored: its incident's and number's texts are held";
        spdlog::warn(
            "ingest: event {} was delivered again unreadable ({}): its incident's and "
            "number's texts are held",
            id, results[i].reason);
        results[i].reason = reason;
        id.clear();
      }
      rejected_id.Add(id.empty() ? std::nullopt : std::optional<std::string_view>(id));
      rejected_source.Add(item.source);
      rejected_seq.AddInt(seq);
      rejected_reason.Add(reason);
      rejected_raw.Add(vault_.Seal(text, kRejectedRaw));
      // Read from the event when it was read but has no id, else from the line (IngestItem).
      const std::string& incident = item.event ? item.event->incident.id : item.incident_id;
      const std::string phone = item.event && item.event->caller && item.event->caller->phone
                                    ? *item.event->caller->phone
                                    : item.phone;
      const std::string e164 = phone.empty() ? std::string() : phone::Normalize(phone).e164;
      const std::string hash = e164.empty() ? std::string() : vault_.Hash(e164);
      rejected_incident.Add(NonEmpty(incident));
      rejected_hash.Add(NonEmpty(hash));
      if (!incident.empty() || !hash.empty()) named.push_back({i, id, incident, e164, hash});
      continue;
    }
    const std::string& id = item.event->event_id;
    auto [it, fresh] = first_index.emplace(id, i);
    Repeats& repeat = repeats[it->second];
    if (fresh) {
      candidates.push_back(i);
    } else {
      results[i] = {id, IngestOutcome::kDuplicate, "duplicate"};
      if (++repeat.count == 1) repeat.seqs.push_back(LineSeq(items[it->second]));
      repeat.seqs.push_back(seq);
    }
    if (seq) repeat.last_seq = std::max(repeat.last_seq.value_or(*seq), *seq);
  }

  // A good delivery later in this batch ends what a line rules out there, as the read-back of
  // later batches leaves a replaced line out: so a batch decides as one batch per line would.
  // (A line after its event's good delivery kept no id above: nothing replaces it.)
  HeldContacts held;
  for (const Named& line : named) {
    std::size_t until = kToTheEnd;
    if (!line.id.empty()) {
      if (const auto good = first_index.find(line.id); good != first_index.end()) {
        until = good->second;
      }
    }
    held.lines.push_back({line.item, until, line.incident, line.hash});
    if (!line.incident.empty()) {
      held.lock_keys.push_back(IncidentLockKey(line.incident));
      held.incidents.Add(line.incident);
    }
    if (!line.hash.empty()) {
      held.lock_keys.push_back(LockKey(line.hash));
      // Surveys made while a hash key is rotated out carry the old key's hash.
      for (const auto& hash : vault_.Hashes(line.e164)) held.hashes.Add(hash);
    }
  }
  ArrayLiteral unheld;  // the events of the batch's own texts that none of its lines came after
  if (!candidates.empty()) {
    unheld = StoreEvents(txn, items, candidates, first_index, repeats, decide, received_at, results,
                         held);
  } else if (!held.lock_keys.empty()) {
    ArrayLiteral keys;
    for (const std::int64_t key : held.lock_keys) keys.AddInt(key);
    Exec(txn, "lock_keys", {keys.Text()});
  }
  // Stored after the batch's events were decided, which saw them in their place in the batch
  // (StoreEvents), not in the read-back: a line rules out the contacts delivered after it (up to
  // its replacement), and holds the texts of those delivered before, whether they came in one
  // batch or several.
  if (!rejected_id.empty()) {
    Exec(txn, "ingest_rejected",
         {Time(received_at), rejected_id.Text(), rejected_source.Text(), rejected_seq.Text(),
          rejected_reason.Text(), rejected_raw.Text(), rejected_incident.Text(),
          rejected_hash.Text()});
  }
  if (!held.lock_keys.empty()) {
    // Under the locks ingest takes for these incidents and numbers, so a text queued
    // concurrently is either seen here or decided after this line is stored. (A text whose
    // send has begun cannot be called back, as with any event that rules one out.)
    const auto cancelled =
        Exec(txn, "hold_texts",
             {Time(received_at), held.incidents.Text(), held.hashes.Text(), unheld.Text()});
    if (!cancelled.empty()) {
      spdlog::warn("ingest: a rejected line held {} queued text(s) of its incident or number",
                   cancelled.size());
    }
  }
  return results;
}

void PgStore::FileNumberlessUnderIncidents(pqxx::transaction_base& txn,
                                           const std::vector<IngestItem>& items,
                                           const std::vector<std::size_t>& candidates,
                                           std::vector<std::string>& hashes) {
  // The incident's first event with a number (by when it occurred, then its id): stored, or
  // delivered earlier in this batch, so that one batch files an event as many batches would.
  struct First {
    TimePoint at;
    std::string event_id, hash;
    bool Before(TimePoint other_at, const std::string& other_id) const {
      return at < other_at || (at == other_at && event_id < other_id);
    }
  };
  std::unordered_set<std::string> numberless;  // their incidents
  ArrayLiteral asked;
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    if (hashes[i].empty() && !event.incident.id.empty() &&
        numberless.insert(event.incident.id).second) {
      asked.Add(event.incident.id);
    }
  }
  if (numberless.empty()) return;
  std::unordered_map<std::string, First> first;
  for (const auto& row : Exec(txn, "incident_first_numbers", {asked.Text()})) {
    first[row[0].as<std::string>()] = {pg::FromEpochMicros(row[1].as<std::int64_t>()),
                                       row[2].as<std::string>(), row[3].as<std::string>()};
  }
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    if (event.incident.id.empty()) continue;
    const auto it = first.find(event.incident.id);
    if (!hashes[i].empty()) {
      if (it == first.end() || !it->second.Before(event.occurred_at, event.event_id)) {
        first[event.incident.id] = {event.occurred_at, event.event_id, hashes[i]};
      }
    } else if (it != first.end()) {
      hashes[i] = it->second.hash;
    }
  }
}

void PgStore::HoldRedeliveriesThatRuleOut(
    pqxx::transaction_base& txn, const std::vector<IngestItem>& items, const EventScreen& screen,
    const std::unordered_map<std::string, std::vector<std::string>>& first_findings,
    TimePoint received_at, std::vector<IngestResult>& results) {
  ArrayLiteral ids, source, seq, reason, raw, incident, hash, incidents, hashes;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (results[i].outcome != IngestOutcome::kDuplicate || results[i].replayed) continue;
    const auto first = first_findings.find(results[i].event_id);
    if (first == first_findings.end()) continue;
    const Event& event = *items[i].event;
    std::string added;
    for (const std::string& finding : Findings(screen, event)) {
      if (std::find(first->second.begin(), first->second.end(), finding) == first->second.end()) {
        added += (added.empty() ? "" : ", ") + finding;
      }
    }
    if (added.empty()) continue;
    // The event id stays out of the line: with it, the stored delivery would replace the line.
    const std::string why = "delivered again naming " + added + ", which its first delivery " +
                            "did not: its incident's and number's texts are held";
    const std::string e164 = event.caller && event.caller->phone
                                 ? phone::Normalize(*event.caller->phone).e164
                                 : std::string();
    ids.AddNull();
    source.Add(items[i].source);
    seq.AddInt(LineSeq(items[i]));
    reason.Add(why);
    raw.Add(vault_.Seal(CleanText(items[i].raw), kRejectedRaw));
    incident.Add(NonEmpty(event.incident.id));
    hash.Add(NonEmpty(e164.empty() ? std::string() : vault_.Hash(e164)));
    if (!event.incident.id.empty()) incidents.Add(event.incident.id);
    if (!e164.empty()) {
      for (const auto& h : vault_.Hashes(e164)) hashes.Add(h);
    }
    results[i].reason = "duplicate: " + why;
    spdlog::warn("ingest: event {} was {}", event.event_id, why);
  }
  if (source.empty()) return;
  Exec(txn, "ingest_rejected",
       {Time(received_at), ids.Text(), source.Text(), seq.Text(), reason.Text(), raw.Text(),
        incident.Text(), hash.Text()});
  // Under the locks the batch holds on its incidents and numbers, as for a rejected line.
  Exec(txn, "hold_texts", {Time(received_at), incidents.Text(), hashes.Text(), "{}"});
}

// Decides the first deliveries in the batch of events not stored yet, with everything stored
// about their incidents and numbers; stores them with their decisions and the surveys to send;
// then decides again the texts still queued for those incidents and numbers, and cancels those
// that a new event rules out. Returns the events of the texts it queued that no rejected line of
// the batch (`held`) came after.
pg::ArrayLiteral PgStore::StoreEvents(pqxx::transaction_base& txn,
                                      const std::vector<IngestItem>& items,
                                      std::vector<std::size_t> candidates,
                                      const FirstDeliveries& first_index,
                                      const std::vector<Repeats>& repeats, const DecideFn& decide,
                                      TimePoint received_at, std::vector<IngestResult>& results,
                                      const HeldContacts& held) {
  // Each number and each incident is locked to the end of the transaction before anything is
  // read, so two instances cannot both survey one number, and an event of an incident is
  // decided either before another of the same incident (and then cancelled by it) or after it
  // (and then sees it). A concurrent delivery of one of these events (same number, same
  // incident) is then either committed and seen below, or waits for this transaction.
  std::vector<std::string> hashes(items.size());
  std::vector<std::string> numbers(items.size());
  std::unordered_map<std::string, std::string> alias;  // old-key hash -> active-key hash
  ArrayLiteral lock_keys, lookup, ids, incident_list;
  std::set<std::string> distinct_hashes, distinct_incidents;
  TimePoint oldest = received_at;
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    ids.Add(event.event_id);
    oldest = std::min(oldest, event.occurred_at);
    if (!event.incident.id.empty() && distinct_incidents.insert(event.incident.id).second) {
      lock_keys.AddInt(IncidentLockKey(event.incident.id));
      incident_list.Add(event.incident.id);
    }
    if (!event.caller || !event.caller->phone) continue;
    numbers[i] = phone::Normalize(*event.caller->phone).e164;
    if (numbers[i].empty()) continue;
    hashes[i] = vault_.Hash(numbers[i]);
    if (distinct_hashes.insert(hashes[i]).second) {
      lock_keys.AddInt(LockKey(hashes[i]));
      lookup.Add(hashes[i]);
      // While a hash key is being rotated out, rows made with it are looked up too, and read as
      // if made with the active key.
      for (const auto& old : vault_.Hashes(numbers[i])) {
        if (old != hashes[i] && alias.emplace(old, hashes[i]).second) lookup.Add(old);
      }
    }
  }
  FileNumberlessUnderIncidents(txn, items, candidates, hashes);
  for (std::size_t i : candidates) {
    if (numbers[i].empty() && !hashes[i].empty() && distinct_hashes.insert(hashes[i]).second) {
      lock_keys.AddInt(LockKey(hashes[i]));
      lookup.Add(hashes[i]);
    }
  }
  auto canonical = [&alias](std::string hash) {
    const auto it = alias.find(hash);
    return it == alias.end() ? hash : it->second;
  };
  // With the keys of what the batch's rejected lines hold, in the same sorted statement: two
  // statements could take one transaction's keys in another order than a concurrent one's.
  for (const std::int64_t key : held.lock_keys) lock_keys.AddInt(key);
  if (!lock_keys.empty()) Exec(txn, "lock_keys", {lock_keys.Text()});
  std::unordered_map<std::string, ContactHistory> history;
  std::unordered_set<std::string> stored;
  bool surveyed_before = false;  // any survey of these incidents or numbers
  {
    const auto rows = Exec(txn, "batch_known", {ids.Text(), incident_list.Text(), lookup.Text()});
    for (std::string& id : ReadTextArray(rows[0][0].as<std::string>()))
      stored.insert(std::move(id));
    surveyed_before = rows[0][1].as<bool>();
    for (const auto& row : rows) {
      if (row[2].is_null()) continue;
      ContactHistory& entry = history[canonical(row[2].as<std::string>())];
      entry.opted_out = entry.opted_out || row[3].as<bool>();
      if (!row[4].is_null()) {
        surveyed_before = true;
        const TimePoint last = pg::FromEpochMicros(row[4].as<std::int64_t>());
        if (!entry.last_surveyed_at || *entry.last_surveyed_at < last) {
          entry.last_surveyed_at = last;
        }
      }
    }
  }
  const EventScreen& screen = decide.screen;
  RelatedPool pool(screen);
  // The batch's incidents' events screened under other rules, or none, are screened again under
  // these with it, so that an incident's events are screened together (as ScreenEvents keeps
  // them): a flag on one of them is filed under every number of the incident under the rules
  // deciding from this batch on. Under the batch's locks on the incidents. Only while stored
  // events are swept after new rules: for nearly every batch, none.
  Rescreened rescreened;
  Params related_params = {incident_list.Text(), lookup.Text(), Time(oldest - kMaxNumberLookback)};
  if (!screen.version.empty()) related_params.push_back(Text(screen.version));
  for (const auto& row :
       Exec(txn, screen.version.empty() ? "related_events" : "related_events_screened",
            related_params)) {
    const std::string event_id = row[0].as<std::string>();
    const bool rescreen = row[6].as<bool>() && distinct_incidents.count(row[1].as<std::string>());
    if (!row[4].is_null()) {  // a number's, screened under these rules: its findings alone
      pool.Add({event_id, pg::FromEpochMicros(row[5].as<std::int64_t>()), std::nullopt,
                row[1].as<std::string>(), canonical(row[2].as<std::string>()), -1,
                ReadTextArray(row[4].as<std::string>())});
      continue;
    }
    if (row[3].is_null()) {  // a rejected line that names the incident or number
      // Up to a good delivery of its event_id in this batch, which replaces it from there on.
      const auto good = first_index.find(event_id);
      pool.MarkUnreadable(row[1].as<std::string>(), canonical(row[2].as<std::string>()),
                          "insufficient_data:rejected_event", -1,
                          good == first_index.end() ? kToTheEnd : good->second);
      continue;
    }
    auto event = ReadFacts(row[3].as<std::string>());
    if (rescreen) rescreened.Add(screen, event_id, event);
    if (!event) {
      // Written by this store from a parsed event, so never expected; but an event of the
      // incident or number that cannot be read may be the one that rules a text out.
      spdlog::error("store: stored event {} cannot be read", event_id);
      pool.MarkUnreadable(row[1].as<std::string>(), canonical(row[2].as<std::string>()),
                          "insufficient_data:related_event");
      continue;
    }
    auto found = Findings(screen, *event);
    const TimePoint occurred_at = event->occurred_at;
    pool.Add({event_id, occurred_at, std::move(event), row[1].as<std::string>(),
              canonical(row[2].as<std::string>()), -1, std::move(found)});
  }
  for (const HeldContacts::Line& line : held.lines) {
    pool.MarkUnreadable(line.incident, line.hash, "insufficient_data:rejected_event",
                        static_cast<std::ptrdiff_t>(line.item), line.until);
  }

  // Decided in delivery order, so later events in the batch see earlier ones and their surveys.
  struct Decided {
    Decision decision;
    std::string e164, hash, reason;
    std::vector<std::string> extra_trace;  // texts this event cancelled
  };
  std::vector<std::optional<Decided>> decided(items.size());
  std::vector<std::vector<std::string>> findings(items.size());  // of the decided events
  std::vector<int> order(items.size(), -1);
  std::vector<std::size_t> item_at;      // by position
  ArrayLiteral filed_ids, filed_hashes;  // stored events filed under a number that came since
  int position = 0;
  bool texts_to_decide_again_for_others = false;  // set below
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    if (stored.count(event.event_id) != 0) continue;
    order[i] = position;
    item_at.push_back(i);
    const ContactHistory none;
    const auto found = hashes[i].empty() ? history.end() : history.find(hashes[i]);
    Decided& d = decided[i].emplace();
    d.decision = decide(event, found == history.end() ? none : found->second,
                        pool.For(event.event_id, event.incident.id, hashes[i], position));
    findings[i] = Findings(screen, event);
    pool.Add({event.event_id, event.occurred_at, event, event.incident.id, hashes[i], position,
              findings[i]});
    // The incident's events that came without a number before it had one are filed under the
    // number now, so a flag on them reaches the number's other contacts from here on.
    for (const RelatedPool::Entry* filed : pool.FileBack(event.incident.id, hashes[i], position)) {
      if (filed->order < 0) {
        filed_ids.Add(filed->event_id);
        filed_hashes.Add(hashes[i]);
      } else {
        hashes[item_at[static_cast<std::size_t>(filed->order)]] = hashes[i];
      }
    }
    ++position;
    Decision& decision = d.decision;
    d.e164 = decision.phone.e164.empty() ? numbers[i] : decision.phone.e164;
    d.hash = d.e164 == numbers[i] ? hashes[i] : vault_.Hash(d.e164);
    if (decision.outcome == Decision::Outcome::kSurvey && d.e164.empty()) {
      // The rules should have excluded it; never queue a message without a number.
      decision.outcome = Decision::Outcome::kExcluded;
      decision.reason = "no_phone";
    }
    if (decision.outcome == Decision::Outcome::kSurvey) {
      // The number texted too, should the rules have picked another than the caller's.
      auto unreadable = pool.Unreadable(event.incident.id, hashes[i], i);
      if (!unreadable && d.hash != hashes[i]) unreadable = pool.Unreadable("", d.hash, i);
      if (unreadable) {
        decision.outcome = Decision::Outcome::kExcluded;
        decision.reason = *unreadable;
        decision.trace.push_back(decision.reason);
      }
    }
    if (decision.outcome == Decision::Outcome::kSurvey) {
      auto& seen = history[d.hash].last_surveyed_at;
      if (!seen || *seen < event.occurred_at) seen = event.occurred_at;
    }
    d.reason = decision.reason.empty() ? OutcomeName(decision.outcome) : decision.reason;
  }
  if (!filed_ids.empty()) Exec(txn, "file_back_numbers", {filed_ids.Text(), filed_hashes.Text()});
  rescreened.Store(txn, screen);

  // A flag the batch brings to an incident concerns every number the incident names, whichever
  // event carried it (or none): their texts still queued, in whatever incident, are decided again
  // below, as a flag's own number's are. Those numbers are locked first, as the batch's own are,
  // so that a contact of theirs decided concurrently is either seen below or sees the flag
  // (stored under them by migration 0046's trigger). Only for an incident a new event flags
  // (under no screen, any new event: what it could rule out is not known), and so, for nearly
  // every batch, never: then no statement more. Locked after the batch's own keys, in a second
  // statement: a concurrent batch locking these in the other order is a deadlock, retried.
  ArrayLiteral queued_lookup = lookup;
  {
    ArrayLiteral extra_keys;
    std::set<std::string> extra;
    for (std::size_t i : candidates) {
      if (!decided[i] || (!screen.version.empty() && findings[i].empty())) continue;
      for (const std::string& hash : pool.NumbersOf(items[i].event->incident.id)) {
        if (hash == hashes[i]) continue;
        texts_to_decide_again_for_others = true;
        if (distinct_hashes.count(hash) == 0 && alias.count(hash) == 0 &&
            extra.insert(hash).second) {
          extra_keys.AddInt(LockKey(hash));
          queued_lookup.Add(hash);
        }
      }
    }
    if (!extra.empty()) Exec(txn, "lock_keys", {extra_keys.Text()});
  }

  // Below, the texts still queued for these incidents and numbers are decided again with the
  // batch's new events. When none of those texts can exist, the look-up is spared (a push of one
  // event, the common case, would otherwise pay it for its own text alone): no survey was stored
  // before for these incidents and numbers (they are locked, so none can be meanwhile), and no
  // text of this batch shares an incident or a number with another of its events.
  bool texts_to_decide_again = surveyed_before || texts_to_decide_again_for_others;
  if (!texts_to_decide_again) {
    // As the loop below relates a text to a new event: same incident, or the text's number
    // hash the same as the event's.
    std::unordered_map<std::string, int> of_incident, of_hash;
    for (std::size_t i : candidates) {
      if (!decided[i]) continue;
      if (!items[i].event->incident.id.empty()) ++of_incident[items[i].event->incident.id];
      if (!hashes[i].empty()) ++of_hash[hashes[i]];
    }
    for (std::size_t i : candidates) {
      if (!decided[i] || decided[i]->decision.outcome != Decision::Outcome::kSurvey) continue;
      const std::string& incident = items[i].event->incident.id;
      const std::string& hash = decided[i]->hash;
      const auto same_number = of_hash.find(hash);
      const int others_of_number =
          same_number == of_hash.end() ? 0 : same_number->second - (hashes[i] == hash ? 1 : 0);
      if ((!incident.empty() && of_incident[incident] > 1) || others_of_number > 0) {
        texts_to_decide_again = true;
        break;
      }
    }
  }

  // The surveys decided, in delivery order (candidates are still in it).
  SurveyColumns surveys;
  for (std::size_t i : candidates) {
    if (!decided[i] || decided[i]->decision.outcome != Decision::Outcome::kSurvey) continue;
    const Decided& d = *decided[i];
    surveys.Add(*items[i].event, d.decision, vault_.Seal(d.e164, kSurveyPhone), d.hash);
  }
  // Events are inserted in event_id order, so that two batches holding the same events lock
  // them in the same order.
  std::sort(candidates.begin(), candidates.end(), [&](std::size_t a, std::size_t b) {
    return items[a].event->event_id < items[b].event->event_id;
  });
  ArrayLiteral id, source, seq, type, occurred_at, duplicates, raw, outcomes, reasons, groups,
      traces, incidents, phone_hashes, facts, screen_findings;
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    id.Add(event.event_id);
    source.Add(items[i].source);
    seq.AddInt(repeats[i].last_seq);
    type.Add(EventTypeName(event.type));
    occurred_at.AddTime(event.occurred_at);
    duplicates.AddInt(repeats[i].count);
    raw.Add(vault_.Seal(CleanText(items[i].raw), kEventRaw));
    incidents.Add(NonEmpty(event.incident.id));
    phone_hashes.Add(NonEmpty(hashes[i]));
    facts.Add(JsonbText(EventToJson(event, false)));
    // An event stored before only counts itself again: what it found then stays.
    screen_findings.Add(decided[i] ? FindingsLiteral(findings[i]) : std::nullopt);
    if (decided[i]) {
      outcomes.Add(OutcomeName(decided[i]->decision.outcome));
      reasons.Add(decided[i]->reason);
      groups.Add(NonEmpty(decided[i]->decision.group));
      traces.Add(TraceJson(decided[i]->decision.trace));
    } else {
      outcomes.AddNull();
      reasons.AddNull();
      groups.AddNull();
      traces.AddNull();
    }
  }
  Params params = {Time(received_at),     id.Text(),
                   source.Text(),         seq.Text(),
                   type.Text(),           occurred_at.Text(),
                   duplicates.Text(),     raw.Text(),
                   outcomes.Text(),       reasons.Text(),
                   groups.Text(),         traces.Text(),
                   incidents.Text(),      phone_hashes.Text(),
                   facts.Text(),          screen.version.empty() ? Param() : Text(screen.version),
                   screen_findings.Text()};
  surveys.AppendTo(params);
  // The lines of the events delivered more than once in this batch ($47, $48), for counting
  // which of them are new deliveries.
  ArrayLiteral line_ids, line_seqs;
  for (std::size_t i : candidates) {
    for (const auto& line : repeats[i].seqs) {
      line_ids.Add(items[i].event->event_id);
      line_seqs.AddInt(line);
    }
  }
  params.push_back(line_ids.Text());
  params.push_back(line_seqs.Text());
  const auto rows = Exec(txn, "ingest_events", params);
  // Events and their surveys in, the queued texts not yet decided again nor anything
  // committed: a crash here must take the whole transaction with it.
  SURVEYD_FAILPOINT("ingest.between_statements");
  std::unordered_set<std::string> inserted;
  std::unordered_map<std::string, std::int64_t> stored_seq;  // of the events stored before
  for (const auto& row : rows) {
    if (row[1].as<bool>()) {
      inserted.insert(row[0].as<std::string>());
    } else if (!row[2].is_null()) {
      stored_seq.emplace(row[0].as<std::string>(), row[2].as<std::int64_t>());
    }
  }

  // A decision counts only if its row went in (the statement stored its survey only then).
  std::sort(candidates.begin(), candidates.end());
  std::vector<std::size_t> fresh;  // inserted by this batch, in delivery order
  for (std::size_t i : candidates) {
    const Event& event = *items[i].event;
    if (!decided[i] || inserted.count(event.event_id) == 0) {
      results[i] = {event.event_id, IngestOutcome::kDuplicate, "duplicate"};
      continue;
    }
    fresh.push_back(i);
    const Decided& d = *decided[i];
    results[i] = {event.event_id, IngestOutcome::kAccepted, d.reason};
    if (d.decision.outcome == Decision::Outcome::kSurvey) results[i].send_at = d.decision.send_at;
  }
  // As the statement counts them: a line at or below its event's number stored before is one
  // taken already.
  for (std::size_t i = 0; i < items.size() && !stored_seq.empty(); ++i) {
    if (results[i].outcome != IngestOutcome::kDuplicate || results[i].replayed) continue;
    const auto before = stored_seq.find(results[i].event_id);
    const auto line = LineSeq(items[i]);
    results[i].replayed = before != stored_seq.end() && line && *line <= before->second;
  }

  // What the first delivery of each event delivered again could rule out: as stored, or as
  // decided in this batch.
  if (!screen.version.empty()) {
    std::unordered_map<std::string, std::vector<std::string>> first_findings;
    ArrayLiteral stored_ids;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (results[i].outcome != IngestOutcome::kDuplicate || results[i].replayed) continue;
      const std::string& again = results[i].event_id;
      const auto first = first_index.find(again);
      if (first != first_index.end() && inserted.count(again) != 0) {
        first_findings.emplace(again, findings[first->second]);
      } else if (first_findings.emplace(again, std::vector<std::string>{}).second) {
        stored_ids.Add(again);
      }
    }
    if (!stored_ids.empty()) {
      for (const auto& row : Exec(txn, "stored_findings", {stored_ids.Text(), screen.version})) {
        if (!row[1].is_null()) {
          first_findings[row[0].as<std::string>()] = ReadTextArray(row[1].as<std::string>());
        }
      }
    }
    if (!first_findings.empty()) {
      HoldRedeliveriesThatRuleOut(txn, items, screen, first_findings, received_at, results);
    }
  }

  // The batch's texts that a line of it holds are those of its incident or number delivered
  // before it (after it, up to its replacement, there are none: it ruled them out).
  ArrayLiteral unheld;
  if (!held.lines.empty()) {
    for (std::size_t i : fresh) {
      if (decided[i]->decision.outcome != Decision::Outcome::kSurvey) continue;
      const std::string& incident = items[i].event->incident.id;
      const bool held_by_a_line =
          std::any_of(held.lines.begin(), held.lines.end(), [&](const HeldContacts::Line& line) {
            return i < line.item && ((!line.incident.empty() && line.incident == incident) ||
                                     (!line.hash.empty() && line.hash == decided[i]->hash));
          });
      if (!held_by_a_line) unheld.Add(items[i].event->event_id);
    }
  }
  if (fresh.empty() || !texts_to_decide_again) return unheld;

  // The texts still queued for these incidents and numbers (this batch's own among them) are
  // decided again as each new event of theirs arrives; the first event that rules one out
  // cancels it, and its trace names the survey ("cancelled:survey_of:<its event>:<reason>").
  ArrayLiteral cancel_ids, cancel_reasons, cancel_by;
  std::unordered_map<std::size_t, std::vector<std::string>> cancelled_by_item;
  for (const auto& row : Exec(txn, "queued_texts", {incident_list.Text(), queued_lookup.Text()})) {
    const std::int64_t outbox_id = row[0].as<std::int64_t>();
    const std::string survey_event_id = row[2].as<std::string>();
    const std::string incident_id = row[3].as<std::string>();
    const std::string hash = row[4].is_null() ? std::string() : canonical(row[4].as<std::string>());
    auto event = ReadFacts(row[6].as<std::string>());
    ContactHistory queued_history;
    queued_history.opted_out = row[7].as<bool>();
    if (!row[8].is_null()) {
      queued_history.last_surveyed_at = pg::FromEpochMicros(row[8].as<std::int64_t>());
    }
    std::optional<std::string> reason;
    std::size_t by = 0;
    if (!event) {
      reason = "insufficient_data:stored_event";
      by = fresh.front();
    } else {
      if (!event->caller) event->caller = Caller{};
      // A number that does not open (its key left the ring) is no number: the rules rule it out.
      event->caller->phone =
          vault_
              .Open(row[5].is_null() ? std::nullopt : std::optional(row[5].as<std::string>()),
                    kSurveyPhone)
              .value_or("");
      for (std::size_t i : fresh) {
        const Event& arrived = *items[i].event;
        // Of its incident, of its number, or of an incident its number appears in.
        const bool related =
            arrived.event_id != survey_event_id &&
            ((!incident_id.empty() && arrived.incident.id == incident_id) ||
             (!hash.empty() && hashes[i] == hash) ||
             (!hash.empty() && pool.InIncident(hash, arrived.incident.id, order[i] + 1)));
        if (!related) continue;
        const Decision again = decide(*event, queued_history,
                                      pool.For(survey_event_id, incident_id, hash, order[i] + 1));
        if (ForbidsSending(again)) {
          reason = again.reason;
          by = i;
          break;
        }
      }
    }
    if (!reason) continue;
    cancel_ids.AddInt(outbox_id);
    cancel_reasons.Add(*reason);
    cancel_by.Add(items[by].event->event_id);
    // The survey is named by its event, so that a replay decides and traces alike.
    cancelled_by_item[by].push_back("cancelled:survey_of:" + survey_event_id + ":" + *reason);
  }
  if (cancel_ids.empty()) return unheld;
  Exec(txn, "cancel_texts",
       {Time(received_at), cancel_ids.Text(), cancel_reasons.Text(), cancel_by.Text()});
  ArrayLiteral trace_ids, trace_entries;
  for (auto& [i, entries] : cancelled_by_item) {
    trace_ids.Add(items[i].event->event_id);
    trace_entries.Add(TraceJson(entries));
    spdlog::info("event {} cancelled {} queued text(s): {}", items[i].event->event_id,
                 entries.size(), entries.front());
  }
  Exec(txn, "trace_append", {trace_ids.Text(), trace_entries.Text()});
  return unheld;
}

}  // namespace surveyd::store
