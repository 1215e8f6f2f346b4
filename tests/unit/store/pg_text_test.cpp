// The text the store hands PostgreSQL: array literals and cleaned text.
#include "store/pg_text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <utility>

namespace surveyd::store::pg {
namespace {

TEST(PgText, ArrayLiteralsQuoteAndEscapeEveryElement) {
  ArrayLiteral literal;
  literal.Add("plain");
  literal.Add(std::string_view("say \"hi\" \\ bye"));
  literal.Add(std::optional<std::string>());
  literal.AddInt(42);
  literal.Add("");
  literal.Add("\"");
  EXPECT_EQ(literal.Text(), R"({"plain","say \"hi\" \\ bye",NULL,42,"","\""})");
  EXPECT_EQ(ArrayLiteral().Text(), "{}");
}

TEST(PgText, TextPostgreSQLWouldRefuseIsCleanedInsideArraysToo) {
  // NUL and invalid UTF-8 become U+FFFD; valid multi-byte text stays as it is.
  const std::string bad = std::string("a\0b", 3) + "\xC3\x28" + "caf\xC3\xA9" + "\xF0\x9F\x98\x80";
  EXPECT_EQ(CleanText(bad),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD(caf\xC3\xA9\xF0\x9F\x98\x80");
  ArrayLiteral literal;
  literal.Add(std::string_view(bad));
  literal.Add("x\"\xFFy");
  EXPECT_EQ(literal.Text(),
            "{\"a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD(caf\xC3\xA9\xF0\x9F\x98\x80\","
            "\"x\\\"\xEF\xBF\xBDy\"}");
  // Overlong forms, surrogates and code points past U+10FFFF are not valid either.
  EXPECT_EQ(CleanText("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(CleanText("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(CleanText("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(CleanText("ok"), "ok");
}

TEST(PgText, LongTextIsEscapedAndCleanedAsOneCharacterAtATimeWould) {
  // The fast paths (eight ASCII bytes at a time, the next quote and backslash found apart)
  // against the plain rule, on text where quotes, backslashes, NUL and multi-byte sequences fall
  // anywhere, across the eight-byte words too.
  // Each piece with what cleaning makes of it: pieces are whole sequences, so a text's cleaning
  // is its pieces' cleanings put together.
  const std::pair<std::string, std::string> pieces[] = {{"\"", "\""},
                                                        {"\\", "\\"},
                                                        {std::string(1, '\0'), "\xEF\xBF\xBD"},
                                                        {"caf\xC3\xA9", "caf\xC3\xA9"},
                                                        {"\xFF", "\xEF\xBF\xBD"},
                                                        {"ab", "ab"},
                                                        {"0123456789abcdef", "0123456789abcdef"},
                                                        {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
                                                        {"\\\"", "\\\""},
                                                        {"x", "x"}};
  std::uint32_t state = 12345;
  for (int round = 0; round < 500; ++round) {
    std::string text, cleaned;
    const int parts = round % 40;
    for (int k = 0; k < parts; ++k) {
      state = state * 1103515245 + 12345;
      const auto& [piece, clean] = pieces[(state >> 16) % std::size(pieces)];
      text += piece;
      cleaned += clean;
    }
    ASSERT_EQ(CleanText(text), cleaned) << "round " << round;
    std::string expected = "{\"";
    for (const char c : cleaned) {
      if (c == '"' || c == '\\') expected.push_back('\\');
      expected.push_back(c);
    }
    expected += "\"}";
    ArrayLiteral literal;
    literal.Add(std::string_view(text));
    ASSERT_EQ(literal.Text(), expected) << "round " << round;
  }
}

}  // namespace
}  // namespace surveyd::store::pg
