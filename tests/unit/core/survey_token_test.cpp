#include "surveyd/core/survey_token.hpp"

#include <gtest/gtest.h>

#include <set>

namespace surveyd::token {
namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef";
constexpr const char* kNonce = "00112233445566778899aabbccddeeff";

TEST(TokenTest, NonceIs16RandomBytesInHex) {
  const std::string nonce = NewNonce();
  ASSERT_EQ(nonce.size(), 32u);
  EXPECT_EQ(nonce.find_first_not_of("0123456789abcdef"), std::string::npos);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(NewNonce());
  EXPECT_EQ(seen.size(), 100u);
}

TEST(TokenTest, DeriveTokenMatchesAnIndependentComputation) {
  // base64url(HMAC-SHA256(secret, nonce)[:16]), computed with Python's hmac module.
  EXPECT_EQ(DeriveToken(kSecret, kNonce), "4vGMtB_QEyI2oH0EpkDUgw");
}

TEST(TokenTest, DeriveTokenIsStableAndDependsOnSecretAndNonce) {
  const std::string token = DeriveToken(kSecret, kNonce);
  EXPECT_EQ(DeriveToken(kSecret, kNonce), token);  // a retried send rebuilds the same link
  EXPECT_NE(DeriveToken("another secret of enough length!!", kNonce), token);
  EXPECT_NE(DeriveToken(kSecret, "00112233445566778899aabbccddeef0"), token);
}

TEST(TokenTest, DerivedTokensLookLikeTokens) {
  for (int i = 0; i < 200; ++i) {
    const std::string token = DeriveToken(kSecret, NewNonce());
    ASSERT_EQ(token.size(), 22u);
    ASSERT_TRUE(LooksLikeToken(token)) << token;
  }
}

TEST(TokenTest, TokenHashIsSha256Hex) {
  EXPECT_EQ(TokenHash("4vGMtB_QEyI2oH0EpkDUgw"),
            "7f3d48c4f2cc3bfaea7f267beb581e09ccd12f89ac4f9dfad42c53be7bbaf771");
}

TEST(TokenTest, LooksLikeTokenRejectsOtherShapes) {
  EXPECT_TRUE(LooksLikeToken("abcdefghijklmnopqrs-_A"));
  EXPECT_FALSE(LooksLikeToken(""));
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrstu"));    // 21
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrstuvw"));  // 23
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrstu="));   // padding
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrstu+"));   // plain base64
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrstu/"));
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrst%41"));
  EXPECT_FALSE(LooksLikeToken("abcdefghijklmnopqrstu "));
  EXPECT_FALSE(LooksLikeToken(std::string_view("abcdefghijklmnopqrstu\0", 22)));
}

}  // namespace
}  // namespace surveyd::token
