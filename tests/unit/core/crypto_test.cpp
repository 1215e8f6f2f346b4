#include "surveyd/core/crypto.hpp"

#include <gtest/gtest.h>

namespace surveyd::crypto {
namespace {

TEST(CryptoTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoTest, HmacSha256Rfc4231TestCase2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacSha256("Jefe", "what do ya want for nothing?").size(), 32u);
}

TEST(CryptoTest, HmacSha256Rfc4231TestCase1) {
  const std::string key(20, '\x0b');
  EXPECT_EQ(HmacSha256Hex(key, "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(CryptoTest, HmacWithEmptyKeyWorks) {
  // Known value of HMAC-SHA256("", "").
  EXPECT_EQ(HmacSha256Hex("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(CryptoTest, HmacSha1Base64MatchesTwilioStyle) {
  // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") =
  // de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9
  EXPECT_EQ(HmacSha1Base64("key", "The quick brown fox jumps over the lazy dog"),
            "3nybhbi3iqa8ino29wqQcBydtNk=");
}

TEST(CryptoTest, HexAndBase64) {
  EXPECT_EQ(Hex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(Hex(""), "");
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Url(std::string("\xfb\xff\xbf", 3)), "-_-_");
  EXPECT_EQ(Base64Url("f"), "Zg");
}

TEST(CryptoTest, RandomBytesHaveTheRightLengthAndDiffer) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  const std::string a = RandomBytes(32);
  const std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);  // 2^-256 chance of a false failure
}

TEST(CryptoTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
}

TEST(CryptoTest, TimestampedSignatureRoundTrip) {
  const std::string body = R"({"event_id":"E1"})";
  const std::string signature = SignTimestamped("s3cret", "1795684502", body);
  EXPECT_EQ(signature, "sha256=" + HmacSha256Hex("s3cret", "1795684502." + body));
  EXPECT_TRUE(VerifyTimestampedSignature("s3cret", "1795684502", body, signature));

  std::string upper = signature;
  for (std::size_t i = 7; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  EXPECT_TRUE(VerifyTimestampedSignature("s3cret", "1795684502", body, upper));
  EXPECT_TRUE(
      VerifyTimestampedSignature("s3cret", "1795684502", body, "SHA256=" + signature.substr(7)));
}

TEST(CryptoTest, TimestampedSignatureRejectsTampering) {
  const std::string body = R"({"event_id":"E1"})";
  const std::string signature = SignTimestamped("s3cret", "1795684502", body);
  EXPECT_FALSE(VerifyTimestampedSignature("other", "1795684502", body, signature));
  EXPECT_FALSE(VerifyTimestampedSignature("s3cret", "1795684503", body, signature));
  EXPECT_FALSE(VerifyTimestampedSignature("s3cret", "1795684502", body + " ", signature));
  EXPECT_FALSE(VerifyTimestampedSignature("s3cret", "1795684502", body, signature.substr(7)));
  EXPECT_FALSE(
      VerifyTimestampedSignature("s3cret", "1795684502", body, "sha1=" + signature.substr(7)));
  EXPECT_FALSE(VerifyTimestampedSignature("s3cret", "1795684502", body, signature.substr(0, 20)));
  EXPECT_FALSE(VerifyTimestampedSignature("s3cret", "1795684502", body, ""));
  EXPECT_FALSE(VerifyTimestampedSignature("s3cret", "1795684502", body, "sha256="));
}

}  // namespace
}  // namespace surveyd::crypto
