#include "surveyd/core/sms_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace surveyd::sms_text {
namespace {

TEST(SmsText, Gsm7Alphabet) {
  EXPECT_TRUE(IsGsm7(""));
  EXPECT_TRUE(IsGsm7("How did we do? https://s.example/s/AbC_12-x"));
  EXPECT_TRUE(IsGsm7("£5, €5, ¥5, @home, Ñu, Øresund, ÆØÅ, §1, ¿Qué?, ¡Hola!"));
  EXPECT_TRUE(IsGsm7("ΔΦΓΛΩΠΨΣΘΞ"));
  EXPECT_TRUE(IsGsm7("[x] {y} ~z^ | \\ "));
  EXPECT_FALSE(IsGsm7("Dziękujemy"));          // ę
  EXPECT_FALSE(IsGsm7("Diolch am eich ŵyl"));  // ŵ
  EXPECT_FALSE(IsGsm7("back`tick"));
  EXPECT_FALSE(IsGsm7("thanks 👍"));
  EXPECT_FALSE(IsGsm7("\xff"));
  EXPECT_FALSE(IsGsm7("ç"));  // only the capital Ç is in the default alphabet
}

TEST(SmsText, Segments) {
  EXPECT_EQ(CountSegments("").segments, 0);
  EXPECT_EQ(CountSegments(std::string(160, 'a')).segments, 1);
  EXPECT_EQ(CountSegments(std::string(161, 'a')).segments, 2);
  EXPECT_EQ(CountSegments(std::string(306, 'a')).segments, 2);
  EXPECT_EQ(CountSegments(std::string(307, 'a')).segments, 3);
  // Extension characters take two septets.
  const Segments euros = CountSegments(std::string(79, 'a') + "€" + std::string(79, 'a'));
  EXPECT_EQ(euros.encoding, Encoding::kGsm7);
  EXPECT_EQ(euros.units, 160);
  EXPECT_EQ(euros.segments, 1);

  std::string polish;
  for (int i = 0; i < 70; ++i) polish += "ę";
  EXPECT_EQ(CountSegments(polish).encoding, Encoding::kUcs2);
  EXPECT_EQ(CountSegments(polish).units, 70);
  EXPECT_EQ(CountSegments(polish).segments, 1);
  EXPECT_EQ(CountSegments(polish + "a").segments, 2);
  // An emoji is a surrogate pair: two units.
  EXPECT_EQ(CountSegments("👍").units, 2);
  EXPECT_EQ(CountSegments(std::string(134, 'a') + "ę").segments, 3);  // 135 units / 67
}

}  // namespace
}  // namespace surveyd::sms_text
