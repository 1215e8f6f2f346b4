#pragma once
// Survey link tokens. The link token is derived as HMAC-SHA256(token_secret, nonce) truncated to
// 128 bits, base64url: the database holds only the random nonce and SHA-256 of the token, so a
// copy of the database alone cannot open a survey, while a retried send can rebuild the same link.
#include <string>
#include <string_view>

namespace surveyd::token {

std::string NewNonce();  // 16 random bytes, hex
std::string DeriveToken(std::string_view token_secret, std::string_view nonce_hex);  // 22 chars
std::string TokenHash(std::string_view token);  // SHA-256 hex: what the store keeps and looks up
bool LooksLikeToken(std::string_view text);     // 22 base64url characters

}  // namespace surveyd::token
