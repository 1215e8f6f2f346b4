#include "surveyd/core/ip_address.hpp"

#include <gtest/gtest.h>

namespace surveyd::net {
namespace {

TEST(IpAddressTest, RangesMatchBothSpellingsOfIpv4) {
  const std::vector<std::string> loopback = {"127.0.0.0/8", "::1"};
  EXPECT_TRUE(InAnyRange("127.0.0.1", loopback));
  EXPECT_TRUE(InAnyRange("127.255.0.9", loopback));
  EXPECT_TRUE(InAnyRange("::ffff:127.0.0.1", loopback));
  EXPECT_TRUE(InAnyRange("::1", loopback));
  EXPECT_TRUE(InAnyRange("[::1]", loopback));
  EXPECT_FALSE(InAnyRange("128.0.0.1", loopback));
  EXPECT_FALSE(InAnyRange("::2", loopback));
  EXPECT_FALSE(InAnyRange("", loopback));
  EXPECT_FALSE(InAnyRange("localhost", loopback));
}

TEST(IpAddressTest, PrefixesOfAnyLength) {
  EXPECT_TRUE(InAnyRange("10.1.2.3", {"10.0.0.0/8"}));
  EXPECT_TRUE(InAnyRange("192.168.1.77", {"192.168.1.64/26"}));
  EXPECT_FALSE(InAnyRange("192.168.1.128", {"192.168.1.64/26"}));
  EXPECT_TRUE(InAnyRange("2001:db8::5", {"2001:db8::/32"}));
  EXPECT_FALSE(InAnyRange("2001:db9::5", {"2001:db8::/32"}));
  EXPECT_TRUE(InAnyRange("203.0.113.9", {"0.0.0.0/0"}));
}

TEST(IpAddressTest, MalformedRangesNeverMatch) {
  EXPECT_FALSE(ParseRange("10.0.0.0/33"));
  EXPECT_FALSE(ParseRange("::/129"));
  EXPECT_FALSE(ParseRange("10.0.0.0/"));
  EXPECT_FALSE(ParseRange("10.0.0.0/x"));
  EXPECT_FALSE(ParseRange("example.org"));
  EXPECT_FALSE(InAnyRange("10.0.0.1", {"10.0.0.0/abc"}));
}

}  // namespace
}  // namespace surveyd::net
