// The text the store hands PostgreSQL: array literals and cleaned text.
#include "store/pg_text.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace surveyd::store::pg
