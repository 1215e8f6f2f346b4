#pragma once
// What the rules decided for one event. Computed by rules::Decide (pure), persisted by the store
// with the rule that made it, so the funnel can say why each contact was or was not surveyed.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/event.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/time.hpp"

namespace surveyd {

// What the store knows about a number before deciding (looked up by phone::KeyedHash).
struct ContactHistory {
  bool opted_out = false;
  std::optional<TimePoint> last_surveyed_at;  // newest survey created for this number, any group
};

// Another event known by what the screen of the rules now deciding found on it (EventScreen),
// rather than by its facts: those rules could only find the same on it again. Reading a busy
// number's newest events back whole and parsing their facts for every batch was most of what
// deciding cost (ingest's own CPU, bench/ingest.sh).
struct ScreenedEvent {
  std::string event_id;
  TimePoint occurred_at;
  std::vector<std::string> findings;  // rules::RuleOutFindings under those rules, any order
};

// Other stored events that bear on one event's decision.
struct RelatedEvents {
  std::vector<Event> same_incident;  // other events of this incident, any type, any caller
  std::vector<Event> same_number;    // other events from this caller's number, other incidents
  // More of the number's, screened under the rules deciding: only by a store that holds their
  // findings under a screen made from those very rules (DecideFn, ScreenUnder).
  std::vector<ScreenedEvent> same_number_screened;
  // Other callers' events of the other incidents this caller's number is in (an incident's flag
  // concerns everyone it names: migration 0046), read whole: they count for what concerns the
  // incident, never for their own caller's age, consent or vulnerability (rules::IsCallersOwn),
  // which a stored event's facts, holding no number, could not tell apart from this caller's.
  std::vector<Event> number_incidents_others;
};

// The store hands the rules same_number events at most this much older than the event; the
// rules' policy.number_lookback may look back less, never more.
inline constexpr std::chrono::days kMaxNumberLookback{90};

// Which of a number's or an incident's stored events need reading back. A busy number (a
// switchboard, a repeat caller) has thousands of events within the look-back, and nearly all of
// them can never rule another contact out; an incident's events are few, but reading and
// parsing each again was most of the cost of deciding an event. The rules look at a related
// event only for what rules a contact out (an exclusion or a caller check that matches it), so
// each event is screened when it is stored, under the rules of the time: could it, as another
// event of its number or incident, rule a contact out (rules::MayRuleOutOthers)? The store then
// reads back only the events that could, and every event screened under other rules (or none):
// those it reads as before, so a reload never lets a text through on an old screen: a number's
// events screened so, and every event of the incidents they are in (an incident's flag concerns
// every number it names). A sweep screens the stored events again under new rules
// (PgStore::ScreenEvents), an incident's together, as a batch screens its incidents' again
// with it: so a number's event screened under the rules deciding is in an incident whose flags
// are filed under the number under those rules too. The screen is made
// from the event as it was stored, so an event screened harmless is not read back even if its
// stored facts could no longer be read; without a screen, such an event excludes the contact.
//
// A screen also names what the event could rule a contact out by (rules::RuleOutFindings), and
// of a number's events screened under the rules in force the store reads back only the newest
// for each name: the others could only find the same rules again. So a busy number costs a read
// per rule it matches, not one per event, however many it has.
struct EventScreen {
  // The screen's form, in its version: screens made before they named their findings (stored
  // without them), before flags were read whatever their spelling ("2"), before a flag no one
  // names could rule a contact out ("3", policy.unknown_qualifiers), or before type codes and
  // flags were read through Unicode's dashes, spaces and invisible characters and a pattern's '-'
  // could be missing from a code ("4": SELF_HARM, SELF\u2013HARM, RTCKSI were found harmless),
  // or before a type code that cannot be compared could rule a contact out ("5": \u0405ELF-HARM),
  // or before an incident's events were screened together ("6": a number's event screened under
  // the rules deciding could be in an incident whose flags were filed under it under others
  // alone), count as made under other rules, read back whole until swept again.
  static constexpr const char* kFormat = "/findings6";

  // Of the rules (RuleSet::screen_version, a hash of their policy and exclusions) and kFormat;
  // empty: no screening.
  std::string version;
  // What the event could rule a contact out by; empty: nothing.
  std::function<std::vector<std::string>(const Event&)> findings;
};

struct Decision {
  enum class Outcome {
    kSurvey,    // text this person
    kExcluded,  // a rule said no; `reason` names it
    kIgnored,   // no survey group takes this event type/channel
  };
  Outcome outcome = Outcome::kIgnored;
  std::string group;   // survey group id ("force_contact"); empty when none matched
  std::string reason;  // deciding rule: "exclusion:domestic", "opted_out", "frequency_cap",
                       // "not_mobile", "insufficient_data", "not_sampled", "no_group", "survey"
  // Every rule evaluated that matched, in order (for explain). A rule matched by a related event
  // names it: "exclusion:domestic_abuse@incident:<event_id>", "vulnerable@number:<event_id>".
  std::vector<std::string> trace;
  // The event's qualifiers that neither the feed contract nor the rules name, upper case, each
  // once (also in the trace as "unknown_qualifier:<word>"): counted, so that a new flag the force
  // starts sending is seen and a rule can be written for it.
  std::vector<std::string> unknown_qualifiers;

  // Filled when outcome == kSurvey:
  phone::Number phone;
  std::string language;        // template language chosen ("en", "pl", ...)
  std::string sms_template;    // with every placeholder but {link} already filled in
  TimePoint send_at;           // after delay and quiet hours
  TimePoint expires_at;        // not sent by then: expired
  TimePoint survey_closes_at;  // the survey page takes answers until then
  bool two_way = false;        // asked by text, one question at a time (the group's mode)
  bool deferred_by_quiet_hours = false;
};

const char* OutcomeName(Decision::Outcome outcome);  // "survey", "excluded", "ignored"

// Whether a decision made again for a text already queued forbids sending it: any rule that says
// no, now that more is known (a later event of the incident or number, an opt-out, a rules
// reload). Timing is not a reason: the queued text keeps its own window, which quiet hours may
// have stretched past what a new decision would allow, and expiry is the dispatcher's.
bool ForbidsSending(const Decision& redecided);

}  // namespace surveyd
