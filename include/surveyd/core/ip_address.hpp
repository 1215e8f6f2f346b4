#pragma once
// IP addresses and CIDR ranges, for allow-lists ("127.0.0.0/8", "::1", "10.1.2.3"). IPv4 is held
// as IPv4-mapped IPv6, so that "::ffff:127.0.0.1" and "127.0.0.1" are the same address.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace surveyd::net {

using Address = std::array<unsigned char, 16>;

// "203.0.113.9", "2001:db8::1", "[2001:db8::1]", "fe80::1%eth0"; nullopt for anything else.
std::optional<Address> ParseAddress(std::string_view text);

// As ParseAddress, and also with a port, as proxies write X-Forwarded-For: "203.0.113.9:443",
// "[2001:db8::1]:443".
std::optional<Address> ParseAddressWithPort(std::string_view text);

// Dotted IPv4 for an IPv4(-mapped) address, IPv6 text otherwise.
std::string FormatAddress(const Address& address);

// True for an IPv4 address (held IPv4-mapped).
bool IsIpv4(const Address& address);

// The addresses one client holds, as the first of them: an IPv4 address alone, an IPv6 address
// with its last 64 bits zeroed, because a subscriber (a home, a phone) is given a whole /64 and
// may take any address in it. What per-client limits count under.
Address ClientGroup(const Address& address);

struct Range {
  Address base{};
  int prefix_bits = 128;  // over the 16 bytes (an IPv4 /8 is 96 + 8)
  bool Contains(const Address& address) const;
};

// An address (a range of one) or "address/bits".
std::optional<Range> ParseRange(std::string_view text);

// True when `address` parses and lies in one of `ranges` (entries that do not parse never match).
bool InAnyRange(std::string_view address, const std::vector<std::string>& ranges);

}  // namespace surveyd::net
