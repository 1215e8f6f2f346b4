#include "surveyd/core/key_ring.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "surveyd/core/crypto.hpp"

namespace surveyd::crypto {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::string_view kPrefix = "v1:";

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

std::optional<std::string> DecodeHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int high = digit(text[i]);
    const int low = digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(text),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes: drop them.
  std::size_t size = static_cast<std::size_t>(written);
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) --size;
  out.resize(size);
  return out;
}

std::string_view Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

bool ValidId(std::string_view id) {
  return !id.empty() && id.size() <= 32 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '-';
  });
}

}  // namespace

std::string Aes256GcmSeal(std::string_view key, std::string_view plaintext, std::string_view aad) {
  if (key.size() != kKeyBytes) throw KeyError("an AES-256 key is 32 bytes");
  const std::string nonce = RandomBytes(kNonceBytes);
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* cipher = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  if (!context ||
      EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) !=
          1 ||
      EVP_EncryptUpdate(context.get(), nullptr, &length, Bytes(aad),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(context.get(), cipher, &length, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(context.get(), cipher + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          cipher + plaintext.size()) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  return out;
}

std::optional<std::string> Aes256GcmOpen(std::string_view key, std::string_view sealed,
                                         std::string_view aad) {
  if (key.size() != kKeyBytes || sealed.size() < kNonceBytes + kTagBytes) return std::nullopt;
  const std::string_view nonce = sealed.substr(0, kNonceBytes);
  const std::string_view cipher =
      sealed.substr(kNonceBytes, sealed.size() - kNonceBytes - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  std::string out(cipher.size(), '\0');
  CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  if (!context ||
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) !=
          1 ||
      EVP_DecryptUpdate(context.get(), nullptr, &length, Bytes(aad),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(context.get(), reinterpret_cast<unsigned char*>(out.data()), &length,
                        Bytes(cipher), static_cast<int>(cipher.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1) {
    return std::nullopt;
  }
  int final_length = 0;
  if (EVP_DecryptFinal_ex(context.get(), reinterpret_cast<unsigned char*>(out.data()) + length,
                          &final_length) != 1) {
    return std::nullopt;  // the tag does not match: wrong key, wrong place, or tampered with
  }
  return out;
}

std::string ParseKey(std::string_view text) {
  text = Trim(text);
  std::optional<std::string> key;
  if (text.size() == 2 * kKeyBytes) key = DecodeHex(text);
  if (!key) key = DecodeBase64(text);
  if (!key || key->size() != kKeyBytes) {
    throw KeyError(
        "a key must be 32 bytes, as 64 hex digits or base64 (head -c 32 /dev/urandom | base64)");
  }
  return *key;
}

KeyRing KeyRing::Parse(std::string_view keys, std::string_view active) {
  KeyRing ring;
  while (!keys.empty()) {
    const auto comma = keys.find(',');
    const std::string_view item = Trim(keys.substr(0, comma));
    keys = comma == std::string_view::npos ? std::string_view() : keys.substr(comma + 1);
    if (item.empty()) continue;
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) throw KeyError("expected id:key, got a key without an id");
    const std::string id(Trim(item.substr(0, colon)));
    if (!ValidId(id)) {
      throw KeyError("key id '" + id + "': use 1-32 letters, digits, '_' or '-'");
    }
    std::string key;
    try {
      key = ParseKey(item.substr(colon + 1));
    } catch (const KeyError& e) {
      throw KeyError("key '" + id + "': " + e.what());
    }
    if (!ring.keys_.emplace(id, std::move(key)).second) {
      throw KeyError("key id '" + id + "' appears twice");
    }
  }
  ring.active_ = std::string(Trim(active));
  if (ring.active_.empty() && ring.keys_.size() == 1) ring.active_ = ring.keys_.begin()->first;
  if (!ring.keys_.empty() && ring.keys_.count(ring.active_) == 0) {
    throw KeyError(ring.active_.empty()
                       ? "several keys: say which is active"
                       : "the active key '" + ring.active_ + "' is not in the ring");
  }
  return ring;
}

std::vector<std::string> KeyRing::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, key] : keys_) out.push_back(id);
  return out;
}

std::string KeyRing::Seal(std::string_view plaintext, std::string_view aad) const {
  if (keys_.empty()) throw KeyError("no encryption key is configured");
  return std::string(kPrefix) + active_ + ":" +
         Base64(Aes256GcmSeal(keys_.at(active_), plaintext, aad));
}

std::optional<std::string> KeyRing::Open(std::string_view sealed, std::string_view aad) const {
  if (!IsSealed(sealed)) return std::nullopt;
  const std::string_view rest = sealed.substr(kPrefix.size());
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto key = keys_.find(std::string(rest.substr(0, colon)));
  if (key == keys_.end()) return std::nullopt;
  const auto bytes = DecodeBase64(rest.substr(colon + 1));
  if (!bytes) return std::nullopt;
  return Aes256GcmOpen(key->second, *bytes, aad);
}

bool KeyRing::IsSealed(std::string_view value) {
  return value.substr(0, kPrefix.size()) == kPrefix;
}

std::string KeyRing::KeyIdOf(std::string_view sealed) {
  if (!IsSealed(sealed)) return {};
  const std::string_view rest = sealed.substr(kPrefix.size());
  return std::string(rest.substr(0, rest.find(':')));
}

}  // namespace surveyd::crypto
