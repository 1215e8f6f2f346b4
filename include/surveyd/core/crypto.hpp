#pragma once
// Small wrappers over OpenSSL: hashes, HMACs, random bytes, constant-time comparison.
#include <cstdint>
#include <string>
#include <string_view>

namespace surveyd::crypto {

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string HmacSha256Hex(std::string_view key, std::string_view data);
std::string HmacSha1Base64(std::string_view key, std::string_view data);  // Twilio signatures
std::string RandomBytes(std::size_t n);                                   // from RAND_bytes
std::string Hex(std::string_view bytes);
std::string Base64(std::string_view bytes);
std::string Base64Url(std::string_view bytes);  // no padding
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Verifies "sha256=<hex>" against HMAC-SHA256(secret, timestamp + "." + body), as both the feed
// push and WMNow callbacks sign. Case-insensitive hex; constant time.
bool VerifyTimestampedSignature(std::string_view secret, std::string_view timestamp,
                                std::string_view body, std::string_view signature_header);
std::string SignTimestamped(std::string_view secret, std::string_view timestamp,
                            std::string_view body);  // "sha256=<hex>"

}  // namespace surveyd::crypto
