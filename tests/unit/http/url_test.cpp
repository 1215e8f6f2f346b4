#include "http/url.hpp"

#include <gtest/gtest.h>

namespace surveyd::http {
namespace {

TEST(HttpUrlTest, SplitsSchemeHostPortAndTarget) {
  const auto url = ParseUrl("http://127.0.0.1:8090/v1/messages?limit=5");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, "8090");
  EXPECT_EQ(url->target, "/v1/messages?limit=5");
  EXPECT_EQ(url->HostHeader(), "127.0.0.1:8090");
}

TEST(HttpUrlTest, DefaultsPortAndTarget) {
  const auto plain = ParseUrl("HTTP://example.org");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->scheme, "http");
  EXPECT_EQ(plain->port, "80");
  EXPECT_EQ(plain->target, "/");
  EXPECT_EQ(plain->HostHeader(), "example.org");

  const auto tls = ParseUrl("https://api.wmnow.example?x=1#frag");
  ASSERT_TRUE(tls.has_value());
  EXPECT_TRUE(tls->Tls());
  EXPECT_EQ(tls->port, "443");
  EXPECT_EQ(tls->target, "/?x=1");
}

TEST(HttpUrlTest, AcceptsBracketedIpv6Literals) {
  const auto url = ParseUrl("http://[::1]:8080/s/abc");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "8080");
  EXPECT_EQ(url->HostHeader(), "[::1]:8080");
  const auto no_port = ParseUrl("https://[2001:db8::1]/");
  ASSERT_TRUE(no_port.has_value());
  EXPECT_EQ(no_port->host, "2001:db8::1");
  EXPECT_EQ(no_port->HostHeader(), "[2001:db8::1]");
}

TEST(HttpUrlTest, RejectsWhatItCannotFetch) {
  EXPECT_FALSE(ParseUrl("ftp://example.org/").has_value());
  EXPECT_FALSE(ParseUrl("example.org/path").has_value());
  EXPECT_FALSE(ParseUrl("http:///path").has_value());
  EXPECT_FALSE(ParseUrl("http://host:99999/").has_value());
  EXPECT_FALSE(ParseUrl("http://host:80x/").has_value());
  EXPECT_FALSE(ParseUrl("http://[::1/").has_value());
  EXPECT_FALSE(ParseUrl("http://user:pw@host/").has_value());
}

}  // namespace
}  // namespace surveyd::http
