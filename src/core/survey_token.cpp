#include "surveyd/core/survey_token.hpp"

#include "surveyd/core/crypto.hpp"

namespace surveyd::token {

namespace {
constexpr std::size_t kNonceBytes = 16;
constexpr std::size_t kTokenBytes = 16;  // 128 bits -> 22 base64url characters
constexpr std::size_t kTokenLength = 22;

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}
}  // namespace

std::string NewNonce() { return crypto::Hex(crypto::RandomBytes(kNonceBytes)); }

std::string DeriveToken(std::string_view token_secret, std::string_view nonce_hex) {
  std::string mac = crypto::HmacSha256(token_secret, nonce_hex);
  mac.resize(kTokenBytes);
  return crypto::Base64Url(mac);
}

std::string TokenHash(std::string_view token) { return crypto::Sha256Hex(token); }

bool LooksLikeToken(std::string_view text) {
  if (text.size() != kTokenLength) return false;
  for (char c : text) {
    if (!IsBase64UrlChar(c)) return false;
  }
  return true;
}

}  // namespace surveyd::token
