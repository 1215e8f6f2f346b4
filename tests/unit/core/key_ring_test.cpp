#include "surveyd/core/key_ring.hpp"

#include <gtest/gtest.h>

#include "surveyd/core/crypto.hpp"

namespace surveyd::crypto {
namespace {

const std::string kHexKey(64, 'a');                                             // 0xaa x 32
const std::string kBase64Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // 0..31

TEST(AesGcmTest, RoundTripAndEveryWayToBreakIt) {
  const std::string key = ParseKey(kHexKey);
  const std::string sealed = Aes256GcmSeal(key, "+447700900123", "surveys.phone");
  EXPECT_EQ(sealed.size(), 12u + 13u + 16u);
  EXPECT_EQ(sealed.find("447700900123"), std::string::npos);
  EXPECT_EQ(Aes256GcmOpen(key, sealed, "surveys.phone"), "+447700900123");
  EXPECT_NE(Aes256GcmSeal(key, "+447700900123", "surveys.phone"), sealed) << "a fresh nonce";
  EXPECT_FALSE(Aes256GcmOpen(key, sealed, "opt_outs.phone")) << "another place";
  EXPECT_FALSE(Aes256GcmOpen(ParseKey(kBase64Key), sealed, "surveys.phone")) << "another key";
  std::string tampered = sealed;
  tampered[14] ^= 1;
  EXPECT_FALSE(Aes256GcmOpen(key, tampered, "surveys.phone"));
  EXPECT_FALSE(Aes256GcmOpen(key, sealed.substr(0, 20), "surveys.phone"));
  EXPECT_EQ(Aes256GcmOpen(key, Aes256GcmSeal(key, "", "x"), "x"), "");
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// NIST's GCM test vector (AES-256, zero key and IV, one zero block): we speak the standard, not
// just to ourselves.
TEST(AesGcmTest, OpensAStandardTestVector) {
  const std::string key(32, '\0');
  const std::string sealed = std::string(12, '\0') + FromHex("cea7403d4d606b6e074ec5d3baf39d18") +
                             FromHex("d0d1c8a799996bf0265b98b5d48ab919");
  EXPECT_EQ(Aes256GcmOpen(key, sealed, ""), std::string(16, '\0'));
}

TEST(KeyRingTest, SealsWithTheActiveKeyAndOpensWithAnyKeyInTheRing) {
  const auto old_ring = KeyRing::Parse("k1:" + kHexKey, "");
  EXPECT_EQ(old_ring.active_id(), "k1");
  const std::string old_value = old_ring.Seal("+447700900123", "surveys.phone");
  EXPECT_EQ(old_value.rfind("v1:k1:", 0), 0u);
  EXPECT_EQ(KeyRing::KeyIdOf(old_value), "k1");

  // Rotation: k2 is active, k1 stays to read what it sealed.
  const auto ring = KeyRing::Parse(" k1:" + kHexKey + " , k2:" + kBase64Key, "k2");
  EXPECT_EQ(ring.Open(old_value, "surveys.phone"), "+447700900123");
  EXPECT_FALSE(ring.SealedWithActiveKey(old_value));
  const std::string new_value = ring.Seal("+447700900123", "surveys.phone");
  EXPECT_TRUE(ring.SealedWithActiveKey(new_value));
  EXPECT_EQ(ring.Open(new_value, "surveys.phone"), "+447700900123");
  // Once k1 is retired, its values no longer open: re-encrypt before removing a key.
  const auto retired = KeyRing::Parse("k2:" + kBase64Key, "");
  EXPECT_FALSE(retired.Open(old_value, "surveys.phone"));
  EXPECT_EQ(retired.Open(new_value, "surveys.phone"), "+447700900123");
  EXPECT_FALSE(ring.Open("+447700900123", "surveys.phone")) << "plain text is not sealed";
  EXPECT_FALSE(ring.Open("v1:k2:not base64!", "surveys.phone"));
}

TEST(KeyRingTest, RefusesBadRingsWithoutQuotingKeys) {
  EXPECT_THROW(KeyRing::Parse("k1:" + kHexKey + ",k2:" + kBase64Key, ""), KeyError);
  EXPECT_THROW(KeyRing::Parse("k1:" + kHexKey, "k3"), KeyError);
  EXPECT_THROW(KeyRing::Parse("k1:" + kHexKey + ",k1:" + kBase64Key, "k1"), KeyError);
  EXPECT_THROW(KeyRing::Parse(kHexKey, ""), KeyError);
  EXPECT_THROW(KeyRing::Parse("bad id:" + kHexKey, ""), KeyError);
  try {
    KeyRing::Parse("k1:" + kHexKey.substr(0, 62) + "zz", "");
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_EQ(std::string(e.what()).find(kHexKey.substr(0, 20)), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("k1"), std::string::npos);
  }
  EXPECT_THROW(ParseKey("c2hvcnQ="), KeyError);  // "short"
  EXPECT_TRUE(KeyRing::Parse("", "").empty());
  EXPECT_THROW(KeyRing().Seal("x", "y"), KeyError);
}

}  // namespace
}  // namespace surveyd::crypto
