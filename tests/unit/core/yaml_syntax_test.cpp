#include "surveyd/core/yaml_syntax.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace surveyd {
namespace {

// What a loader says about `text`, from yaml-cpp's own exception.
YamlSyntaxError Parse(const std::string& text) {
  try {
    YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return DescribeYamlSyntaxError(text, e.msg, e.mark.line, e.mark.column);
  }
  return {};
}

TEST(YamlSyntax, AnUnclosedListIsNamedWhereItOpens) {
  // yaml-cpp gives up at the next item (line 6) or at the end of the file.
  const std::string next_item =
      "exclusions:\n"
      "  - id: domestic\n"
      "    when:\n"
      "      # the force's flags [all of them]\n"
      "      flags: [domestic_abuse, dv\n"
      "  - id: other\n";
  auto error = Parse(next_item);
  EXPECT_EQ(error.line, 5);
  EXPECT_EQ(error.column, 14);
  EXPECT_EQ(error.message,
            "YAML syntax error: this '[' is never closed (a ']' is missing before line 6, where "
            "the parser gave up)");
  error = Parse("a: 1\nflags: [x, y\n");
  EXPECT_EQ(error.line, 2);
  EXPECT_EQ(error.column, 8);
}

TEST(YamlSyntax, AnUnclosedMapTooAndTheOuterOfTwo) {
  auto error = Parse("when: {age: 16\nother: 1\n");
  EXPECT_EQ(error.line, 1);
  EXPECT_EQ(error.column, 7);
  EXPECT_NE(error.message.find("this '{' is never closed"), std::string::npos) << error.message;
  error = Parse("a: [b, [c, d]\nb: 1\n");
  EXPECT_EQ(error.line, 1);
  EXPECT_EQ(error.column, 4) << "the inner list was closed";
}

TEST(YamlSyntax, BracketsInQuotesCommentsAndPlainTextAreNotOpeners) {
  const std::string text =
      "name: \"x [y\"  # [z\n"
      "quoted: 'it''s [here'\n"
      "officer: PC[12\n"
      "list: [a,\n"
      "  b\n"
      "next: 1\n";
  const auto error = Parse(text);
  EXPECT_EQ(error.line, 4) << error.message;
  EXPECT_EQ(error.column, 7);
}

TEST(YamlSyntax, OtherErrorsKeepTheParsersPlace) {
  const auto error = Parse("a: [1]]\n");
  EXPECT_EQ(error.line, 1);
  EXPECT_GT(error.column, 1);
  EXPECT_EQ(error.message.rfind("YAML syntax error: ", 0), 0u);
  EXPECT_EQ(error.message.find("never closed"), std::string::npos);
  // No place at all: none is made up.
  const auto placeless = DescribeYamlSyntaxError("a: [1", "end of sequence flow not found", -1, -1);
  EXPECT_EQ(placeless.line, 0);
  EXPECT_EQ(placeless.message, "YAML syntax error: end of sequence flow not found");
}

// A line indented to no column the lines before it use: yaml-cpp's words ("end of map not found")
// say nothing to someone editing the file, so the error says what to look at, in its place.
TEST(YamlSyntax, AMisIndentedLineSaysToCheckItsIndentation) {
  for (const char* text : {"groups:\n  - id: contact\n    name: Contact\n   trigger: x\n",
                           "policy:\n  minimum_age: 16\n mobile_only: true\n",
                           "exclusions:\n  - id: a\n    qualifiers: [X]\n      codes: [A]\n"}) {
    const auto error = Parse(text);
    EXPECT_GT(error.line, 2) << text;
    EXPECT_NE(error.message.find(": check this line's indentation against the lines above it"),
              std::string::npos)
        << text << error.message;
  }
  EXPECT_EQ(Parse("a: [1]]\n").message.find("indentation"), std::string::npos);
}

TEST(YamlSyntax, ATabInTheIndentationIsNamed) {
  const auto error = Parse("policy:\n  minimum_age: 16\n\tmobile_only: true\nnext: 1\n");
  EXPECT_EQ(error.line, 3) << error.message;
  EXPECT_EQ(error.column, 1);
  EXPECT_EQ(error.message,
            "YAML syntax error: a tab in the indentation (YAML indents with spaces only)");
  // A tab inside a value is no indentation.
  EXPECT_EQ(Parse("a: [1]]\nb: \"x\ty\"\n").message.find("tab"), std::string::npos);
}

}  // namespace
}  // namespace surveyd
