// `surveyd erase`, `surveyd keys rotate` and `surveyd retention run`: personal data on demand
// (docs/data-protection.md). Each says what it did, in counts, never a number.
#include <ostream>

#include "commands.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::app {

store::PgOptions StoreOptions(const config::Config& config, int pool_size,
                              metrics::Registry* metrics) {
  store::PgOptions options;
  options.url = config.database.url;
  options.pool_size = pool_size;
  options.phone_hash_key = config.survey.phone_hash_key;
  options.statement_timeout = config.database.statement_timeout;
  options.acquire_timeout = config.database.acquire_timeout;
  options.phone_keys =
      crypto::KeyRing::Parse(config.privacy.phone_keys, config.privacy.phone_key_active);
  options.previous_phone_hash_keys = config.privacy.phone_hash_previous_keys;
  options.metrics = metrics;
  return options;
}

store::RetentionPolicy RetentionPolicyOf(const config::Config& config) {
  store::RetentionPolicy policy;
  policy.number_grace = std::chrono::days(config.retention.number_grace_days);
  policy.phone_hash = std::chrono::days(config.retention.phone_hash_days);
  policy.raw = std::chrono::days(config.retention.raw_days);
  policy.rejected = std::chrono::days(config.retention.rejected_days);
  policy.facts = std::chrono::days(config.retention.facts_days);
  policy.comment = std::chrono::days(config.retention.comment_days);
  policy.reply = std::chrono::days(config.retention.reply_days);
  return policy;
}

std::string DescribeRetention(const store::RetentionReport& r) {
  return std::to_string(r.numbers_erased) + " number(s) of finished surveys erased, " +
         std::to_string(r.hashes_dropped) + " number hash(es) dropped, " +
         std::to_string(r.raw_events_deleted) + " raw event(s) and " +
         std::to_string(r.rejected_lines_deleted) + " rejected line(s) deleted, " +
         std::to_string(r.facts_deleted) + " event fact(s) deleted, " +
         std::to_string(r.comments_blanked) + " comment(s) and " +
         std::to_string(r.alert_notes_blanked) + " staff note(s) on alerts blanked, " +
         std::to_string(r.replies_anonymised) + " text(s) from citizens blanked, " +
         std::to_string(r.conversations_deleted) + " two-way conversation(s) deleted; " +
         DescribeRekey(r.rekey);
}

std::string DescribeFailures(const store::RetentionReport& r) {
  std::string text = std::to_string(r.failures.size()) + " step(s) failed: ";
  for (std::size_t i = 0; i < r.failures.size(); ++i) text += (i > 0 ? "; " : "") + r.failures[i];
  return text;
}

std::string DescribeRekey(const store::RekeyReport& r) {
  std::string text = std::to_string(r.numbers_resealed) + " number(s) and " +
                     std::to_string(r.raw_resealed) + " raw text(s) re-encrypted with the active " +
                     "key, " + std::to_string(r.hashes_rekeyed) + " hash(es) re-keyed";
  if (r.hashes_without_number > 0) {
    text += ", " + std::to_string(r.hashes_without_number) +
            " hash(es) without a number left under old keys (they age out)";
  }
  if (r.unreadable > 0) text += ", " + std::to_string(r.unreadable) + " UNREADABLE value(s)";
  return text;
}

int Erase(const config::Config& config, const std::string& number, const std::string& reference,
          bool forget_opt_out, bool dry_run, std::ostream& out, std::ostream& err) {
  const phone::Number parsed = phone::Normalize(number);
  if (parsed.e164.empty()) {
    err << "surveyd erase: that is not a phone number surveyd could have stored\n";
    return 2;
  }
  try {
    auto store = store::MakePgStore(StoreOptions(config, 1, nullptr));
    const auto r =
        store->Erase(parsed.e164, reference, forget_opt_out, dry_run, SystemClock().Now());
    out << (dry_run ? "held about " : "erased ") << phone::Mask(parsed.e164) << " (reference '"
        << reference << "')"
        << (dry_run ? ", what erasure would remove (nothing changed):\n" : ":\n") << "  "
        << r.surveys << " survey(s): number, hash and incident link removed; answers kept "
        << "without them\n"
        << "  " << r.texts_cancelled << " text(s) not yet sent: cancelled\n"
        << "  " << r.comments << " comment(s) blanked\n"
        << "  " << r.alert_notes << " staff note(s) on their alerts blanked\n"
        << "  " << r.events << " event(s): raw text, facts, hash and incident link removed\n"
        << "  " << r.rejected_lines << " unreadable line(s) holding the number: deleted\n"
        << "  " << r.replies << " text(s) from the number: blanked and unlinked\n"
        << "  " << r.conversations << " two-way conversation(s): deleted\n";
    if (r.opt_outs == 0) {
      out << "  no opt-out\n";
    } else if (r.opt_out_kept) {
      out << "  " << r.opt_outs << " opt-out(s): number removed, hash kept so that it is never "
          << "texted again (--forget-opt-out removes it)\n";
    } else {
      out << "  " << r.opt_outs << " opt-out(s): removed\n";
    }
    if (!dry_run) out << "recorded in the erasures table, without the number\n";
    return 0;
  } catch (const std::exception& e) {
    err << "surveyd erase: " << e.what() << "\n";
    return 1;
  }
}

int KeysRotate(const config::Config& config, std::ostream& out, std::ostream& err) {
  try {
    auto store = store::MakePgStore(StoreOptions(config, 1, nullptr));
    const auto r = store->Rekey(SystemClock().Now());
    out << "keys rotate: " << DescribeRekey(r) << "\n";
    return r.unreadable > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    err << "surveyd keys rotate: " << e.what() << "\n";
    return 1;
  }
}

int RetentionRun(const config::Config& config, std::ostream& out, std::ostream& err) {
  try {
    auto store = store::MakePgStore(StoreOptions(config, 1, nullptr));
    const auto r = store->RunRetention(RetentionPolicyOf(config), SystemClock().Now(),
                                       "surveyd retention run");
    if (!r.ran) {
      out << "retention: another instance is running it now; nothing done\n";
      return 0;
    }
    out << "retention: " << DescribeRetention(r) << "\n";
    if (!r.failures.empty()) {
      err << "surveyd retention run: " << DescribeFailures(r) << "\n";
      return 1;
    }
    return r.rekey.unreadable > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    err << "surveyd retention run: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace surveyd::app
