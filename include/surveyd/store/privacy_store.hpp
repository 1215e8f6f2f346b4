#pragma once
// Personal data over time: retention (numbers erased once a survey is finished, raw events,
// rejected lines, facts and comments after their periods), erasure of everything about one number
// on request, and key rotation (re-encryption under the active key, re-hashing under the active
// hash key). docs/data-protection.md explains each for a data protection officer.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

struct RetentionPolicy {
  // A survey is finished when answered, when its text failed, expired or was cancelled, or when
  // it closed; its number is erased this long after.
  std::chrono::days number_grace{7};
  // Numbers' keyed hashes (surveys, events): the frequency cap and the number's recent events
  // need them; keep at least the rules' frequency_cap_days.
  std::chrono::days phone_hash{90};
  std::chrono::days raw{30};       // events as received (encrypted)
  std::chrono::days rejected{30};  // unreadable lines as received (encrypted)
  std::chrono::days facts{400};    // events' normalised facts, for audit of decisions
  // Citizens' free-text comments (the scores stay), and staff notes on alerts about them.
  std::chrono::days comment{365};
  // Citizens' texts as received (SMS replies): blanked and unlinked from the number; what each
  // did (opt-out, answer, comment) stays, and its content lives on where it was applied.
  std::chrono::days reply{30};
  int batch = 1000;  // rows per statement, so no lock is held long
};

// What re-encryption and re-hashing did.
struct RekeyReport {
  std::int64_t numbers_resealed = 0;  // surveys' and opt-outs' numbers now under the active key
  std::int64_t raw_resealed = 0;      // events' and rejected lines' raw text, likewise
  std::int64_t hashes_rekeyed = 0;    // hashes now made with the active hash key
  std::int64_t unreadable = 0;        // values that do not open with any key in the ring
  // Hashes that could not be re-keyed (their number is already erased): they age out with
  // retention.phone_hash_days; keep the previous hash key configured until then.
  std::int64_t hashes_without_number = 0;
};

struct RetentionReport {
  bool ran = false;  // false: another instance was running it
  std::int64_t numbers_erased = 0;
  std::int64_t hashes_dropped = 0;
  std::int64_t raw_events_deleted = 0;
  std::int64_t rejected_lines_deleted = 0;
  std::int64_t facts_deleted = 0;
  std::int64_t comments_blanked = 0;
  std::int64_t alert_notes_blanked = 0;    // staff notes on alerts: status notes and history notes
  std::int64_t replies_anonymised = 0;     // citizens' texts blanked and unlinked
  std::int64_t conversations_deleted = 0;  // two-way conversations, whatever their state (hash)
  RekeyReport rekey;
  // The steps that failed, each as "what: why" (no personal data): the others ran all the same,
  // so that one failing step does not keep the rest past its time.
  std::vector<std::string> failures;
};

// What a retention pass removed, by name (without the re-keying): for its log record and its
// metric, which must name the same things.
std::vector<std::pair<const char*, std::int64_t>> RemovedCounts(const RetentionReport& report);

// What one erasure removed (no number in it: this is what the audit record keeps).
struct ErasureReport {
  std::int64_t surveys = 0;          // numbers, hashes and incident links removed
  std::int64_t texts_cancelled = 0;  // texts not yet sent, cancelled
  std::int64_t comments = 0;         // their comments blanked (scores stay, anonymous)
  std::int64_t alert_notes = 0;      // staff notes on their alerts blanked (status and history)
  std::int64_t events = 0;           // raw events, facts, hashes and incident links removed
  std::int64_t rejected_lines = 0;   // unreadable lines holding the number, deleted
  std::int64_t replies = 0;          // texts from the number: blanked and unlinked
  std::int64_t conversations = 0;    // its two-way conversations, deleted
  std::int64_t opt_outs = 0;         // opt-outs: the number removed (or the whole row, if asked)
  bool opt_out_kept = false;         // the hash stays, so the number is still never texted
};

class PrivacyStore {
 public:
  virtual ~PrivacyStore() = default;

  // One pass of retention and re-keying, under an advisory lock: when another instance holds it,
  // returns at once with ran = false. Records the run in retention_runs.
  virtual RetentionReport RunRetention(const RetentionPolicy& policy, TimePoint now,
                                       const std::string& worker) = 0;
  // Re-encryption and re-hashing alone (`surveyd keys rotate`), under the same lock.
  virtual RekeyReport Rekey(TimePoint now) = 0;
  // Removes everything held about the number `e164` (normalised), in one transaction, and
  // records the erasure under `reference` without the number. `forget_opt_out` removes the
  // opt-out too, after which the number could be texted again. `dry_run`: says what would be
  // removed (what is held: a subject access request) and changes nothing.
  virtual ErasureReport Erase(const std::string& e164, const std::string& reference,
                              bool forget_opt_out, bool dry_run, TimePoint now) = 0;
};

}  // namespace surveyd::store
