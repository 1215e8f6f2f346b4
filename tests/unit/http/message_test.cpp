#include "surveyd/http/message.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surveyd::http {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(HttpMessageTest, FindHeaderIgnoresCaseAndReturnsEmptyWhenAbsent) {
  const Headers headers = {{"Content-Type", "text/plain"}, {"X-Thing", "1"}};
  EXPECT_EQ(FindHeader(headers, "content-type"), "text/plain");
  EXPECT_EQ(FindHeader(headers, "X-THING"), "1");
  EXPECT_EQ(FindHeader(headers, "X-Other"), "");
}

TEST(HttpMessageTest, ResponseHelpersSetContentTypeWithCharset) {
  EXPECT_EQ(FindHeader(Response::Text(200, "hi").headers, "Content-Type"),
            "text/plain; charset=utf-8");
  EXPECT_EQ(FindHeader(Response::Json(201, "{}").headers, "Content-Type"),
            "application/json; charset=utf-8");
  const Response html = Response::Html(404, "<p>x</p>");
  EXPECT_EQ(html.status, 404);
  EXPECT_EQ(html.body, "<p>x</p>");
  EXPECT_EQ(FindHeader(html.headers, "content-type"), "text/html; charset=utf-8");
}

TEST(HttpMessageTest, SetReplacesAHeaderOfTheSameNameInAnyCase) {
  Response response = Response::Text(200, "x");
  response.Set("content-type", "text/csv").Set("Cache-Control", "no-store");
  EXPECT_EQ(response.headers.size(), 2u);
  EXPECT_EQ(FindHeader(response.headers, "Content-Type"), "text/csv");
  EXPECT_EQ(FindHeader(response.headers, "Cache-Control"), "no-store");
}

TEST(HttpMessageTest, ParseFormDecodesNamesAndValues) {
  EXPECT_THAT(ParseForm("q1=9&q2=&comment=very+helpful%2C+thanks%21&flag"),
              ElementsAre(Pair("q1", "9"), Pair("q2", ""), Pair("comment", "very helpful, thanks!"),
                          Pair("flag", "")));
}

TEST(HttpMessageTest, ParseFormSkipsEmptyPairsAndKeepsOrderAndDuplicates) {
  EXPECT_THAT(ParseForm("&a=1&&a=2&"), ElementsAre(Pair("a", "1"), Pair("a", "2")));
  EXPECT_TRUE(ParseForm("").empty());
  EXPECT_THAT(ParseForm("a%3Db=c%26d=e"), ElementsAre(Pair("a=b", "c&d=e")));
}

TEST(HttpMessageTest, UrlDecodeHandlesPlusAndUtf8) {
  EXPECT_EQ(UrlDecode("a+b%20c"), "a b c");
  EXPECT_EQ(UrlDecode("a+b", /*plus_as_space=*/false), "a+b");
  EXPECT_EQ(UrlDecode("caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(UrlDecode("%2f%2F"), "//");
}

TEST(HttpMessageTest, UrlDecodeKeepsInvalidEscapesLiterally) {
  EXPECT_EQ(UrlDecode("100%"), "100%");
  EXPECT_EQ(UrlDecode("100%2"), "100%2");
  EXPECT_EQ(UrlDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(UrlDecode("50% off%21"), "50% off!");
}

TEST(HttpMessageTest, UrlEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(UrlEncode("a b&c=d/e?+"), "a%20b%26c%3Dd%2Fe%3F%2B");
  EXPECT_EQ(UrlEncode("caf\xC3\xA9"), "caf%C3%A9");
  EXPECT_EQ(UrlEncode(""), "");
}

TEST(HttpMessageTest, UrlEncodeRoundTripsThroughUrlDecode) {
  const std::string text = "Tel: +44 7700 900123 & 100% \"quoted\" \xE2\x9C\x93";
  EXPECT_EQ(UrlDecode(UrlEncode(text)), text);
}

}  // namespace
}  // namespace surveyd::http
