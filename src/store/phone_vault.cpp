#include "store/phone_vault.hpp"

#include "surveyd/core/phone.hpp"

namespace surveyd::store {

std::string PhoneVault::Hash(const std::string& e164) const {
  return phone::KeyedHash(hash_key_, e164);
}

std::vector<std::string> PhoneVault::Hashes(const std::string& e164) const {
  std::vector<std::string> hashes = {Hash(e164)};
  for (const auto& key : previous_hash_keys_) hashes.push_back(phone::KeyedHash(key, e164));
  return hashes;
}

std::optional<std::string> PhoneVault::Open(const std::optional<std::string>& stored,
                                            std::string_view place) const {
  if (!stored) return std::nullopt;
  if (!crypto::KeyRing::IsSealed(*stored)) return stored;  // written before encryption
  return keys_.Open(*stored, place);
}

}  // namespace surveyd::store
