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
  // An IPv4-mapped range written as IPv6 counts IPv6 bits.
  EXPECT_TRUE(InAnyRange("10.1.2.3", {"::ffff:10.0.0.0/104"}));
  EXPECT_FALSE(InAnyRange("11.1.2.3", {"::ffff:10.0.0.0/104"}));
  EXPECT_TRUE(InAnyRange("203.0.113.9", {"::ffff:0:0/96"}));
  EXPECT_FALSE(InAnyRange("2001:db8::5", {"::ffff:0:0/96"}));
}

TEST(IpAddressTest, MalformedRangesNeverMatch) {
  EXPECT_FALSE(ParseRange("10.0.0.0/33"));
  EXPECT_FALSE(ParseRange("::/129"));
  EXPECT_FALSE(ParseRange("10.0.0.0/"));
  EXPECT_FALSE(ParseRange("10.0.0.0/x"));
  EXPECT_FALSE(ParseRange("example.org"));
  EXPECT_FALSE(InAnyRange("10.0.0.1", {"10.0.0.0/abc"}));
}

TEST(IpAddressTest, ClientGroupIsAnIpv4AddressOrAnIpv6Slash64) {
  auto group = [](std::string_view text) {
    return FormatAddress(ClientGroup(*ParseAddress(text)));
  };
  EXPECT_EQ(group("198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(group("::ffff:198.51.100.7"), "198.51.100.7");
  EXPECT_NE(group("198.51.100.7"), group("198.51.100.8"));
  EXPECT_EQ(group("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
  EXPECT_EQ(group("2001:db8:1:2::1"), group("[2001:db8:1:2:ffff::9]"));
  EXPECT_NE(group("2001:db8:1:2::1"), group("2001:db8:1:3::1"));
  // The loopback's /64 holds no IPv4 address: ::1 and 0.0.0.1 stay apart.
  EXPECT_NE(ClientGroup(*ParseAddress("::1")), ClientGroup(*ParseAddress("0.0.0.1")));
  EXPECT_TRUE(IsIpv4(ClientGroup(*ParseAddress("127.0.0.2"))));
  EXPECT_FALSE(IsIpv4(ClientGroup(*ParseAddress("::1"))));
}

}  // namespace
}  // namespace surveyd::net
