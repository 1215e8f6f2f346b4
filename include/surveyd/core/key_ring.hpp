#pragma once
// Personal data at rest: AES-256-GCM (OpenSSL EVP) under a ring of keys, each value sealed with
// the active key and carrying its key id, so that keys can be rotated while old values stay
// readable: "v1:<key id>:<base64(nonce | ciphertext | tag)>". The additional data names where a
// value lives ("surveys.phone"), so a value copied into another column does not open there.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace surveyd::crypto {

// A key that cannot be used; the message names the key id or the setting, never the key.
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// AES-256-GCM with a random 96-bit nonce and a 128-bit tag: returns nonce | ciphertext | tag.
std::string Aes256GcmSeal(std::string_view key, std::string_view plaintext, std::string_view aad);
// nullopt when the key, the additional data or the bytes are not the ones sealed.
std::optional<std::string> Aes256GcmOpen(std::string_view key, std::string_view sealed,
                                         std::string_view aad);

// A 32-byte key written as 64 hex digits or as base64; throws KeyError.
std::string ParseKey(std::string_view text);

class KeyRing {
 public:
  KeyRing() = default;  // no key: cannot seal nor open

  // `keys`: "id:key, id:key" (ids of letters, digits, '_' and '-'); `active`: the id new values
  // are sealed with; empty when the ring has exactly one key. Throws KeyError.
  static KeyRing Parse(std::string_view keys, std::string_view active);

  bool empty() const { return keys_.empty(); }
  const std::string& active_id() const { return active_; }
  std::vector<std::string> ids() const;

  std::string Seal(std::string_view plaintext, std::string_view aad) const;
  // nullopt: not a sealed value, a key id not in the ring, or not what was sealed.
  std::optional<std::string> Open(std::string_view sealed, std::string_view aad) const;

  static bool IsSealed(std::string_view value);         // "v1:..."
  static std::string KeyIdOf(std::string_view sealed);  // "" when not sealed
  bool SealedWithActiveKey(std::string_view sealed) const {
    return IsSealed(sealed) && KeyIdOf(sealed) == active_;
  }

 private:
  std::map<std::string, std::string> keys_;  // id -> 32 raw bytes
  std::string active_;
};

}  // namespace surveyd::crypto
