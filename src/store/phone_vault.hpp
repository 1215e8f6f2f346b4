#pragma once
// The store's keys to personal data: numbers and raw events are sealed (AES-256-GCM, core's
// KeyRing) on the way in and opened on the way out, here and nowhere else; numbers are looked up by
// keyed hash, under the active hash key and, while a rotation is under way, the previous ones.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/key_ring.hpp"

namespace surveyd::store {

// Where a sealed value lives: the additional data it is sealed with, so that a value copied to
// another column does not open there.
inline constexpr std::string_view kSurveyPhone = "surveys.phone";
inline constexpr std::string_view kOptOutPhone = "opt_outs.phone";
inline constexpr std::string_view kEventRaw = "events.raw";
inline constexpr std::string_view kRejectedRaw = "rejected_events.raw";

class PhoneVault {
 public:
  PhoneVault(crypto::KeyRing keys, std::string hash_key,
             std::vector<std::string> previous_hash_keys)
      : keys_(std::move(keys)),
        hash_key_(std::move(hash_key)),
        previous_hash_keys_(std::move(previous_hash_keys)) {}

  // The number's hash under the active key: what new rows carry.
  std::string Hash(const std::string& e164) const;
  // Under every key, the active one first: what look-ups match.
  std::vector<std::string> Hashes(const std::string& e164) const;
  bool rotating_hash_key() const { return !previous_hash_keys_.empty(); }

  // Throws crypto::KeyError when no encryption key is configured: nothing personal is stored in
  // clear instead.
  std::string Seal(std::string_view value, std::string_view place) const {
    return keys_.Seal(value, place);
  }
  // A column that holds a sealed value or, in rows from before encryption, plain text. nullopt:
  // NULL, or sealed under a key not in the ring, or not what was sealed.
  std::optional<std::string> Open(const std::optional<std::string>& stored,
                                  std::string_view place) const;
  // True when a stored value should be sealed again: plain text, or not under the active key.
  bool NeedsReseal(const std::string& stored) const { return !keys_.SealedWithActiveKey(stored); }

  const crypto::KeyRing& keys() const { return keys_; }

 private:
  crypto::KeyRing keys_;
  std::string hash_key_;
  std::vector<std::string> previous_hash_keys_;
};

}  // namespace surveyd::store
