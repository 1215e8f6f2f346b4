// api::ClientAddress: who the client is behind trusted reverse proxies. Everything in
// X-Forwarded-For is written by the client except what our own proxies appended on the right, so
// the walk starts there and stops at the first hop that is not one of ours.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <optional>

#include "surveyd/api/api.hpp"

namespace surveyd::api {
namespace {

// 16 bytes; IPv4 as IPv4-mapped IPv6, so that both spellings of one address compare equal.
using Address = std::array<unsigned char, 16>;

constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr std::size_t kMaxHops = 32;  // a longer chain is junk; walking it is not worth it

std::string_view Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

bool IsMapped(const Address& address) {
  return std::memcmp(address.data(), kMappedPrefix, sizeof kMappedPrefix) == 0;
}

// "203.0.113.9", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443", "203.0.113.9:443",
// "fe80::1%eth0". Anything else (names, "unknown", junk) is not an address.
std::optional<Address> ParseAddress(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string host(text);
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    const std::string rest = host.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || rest.size() == 1 ||
                          rest.find_first_not_of("0123456789", 1) != std::string::npos)) {
      return std::nullopt;
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    // IPv4 with a port, as some load balancers write it.
    const auto colon = host.find(':');
    if (colon + 1 >= host.size() ||
        host.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      return std::nullopt;
    }
    host = host.substr(0, colon);
  }
  host = host.substr(0, host.find('%'));  // zone index
  Address address{};
  unsigned char v4[4];
  if (inet_pton(AF_INET, host.c_str(), v4) == 1) {
    std::memcpy(address.data(), kMappedPrefix, sizeof kMappedPrefix);
    std::memcpy(address.data() + 12, v4, 4);
    return address;
  }
  if (inet_pton(AF_INET6, host.c_str(), address.data()) == 1) return address;
  return std::nullopt;
}

std::string Format(const Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsMapped(address)) {
    inet_ntop(AF_INET, address.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, address.data(), text, sizeof text);
  }
  return text;
}

// A trusted proxy: an address, or a CIDR range.
struct Range {
  Address base{};
  int prefix_bits = 128;

  bool Contains(const Address& address) const {
    const int whole = prefix_bits / 8;
    if (std::memcmp(base.data(), address.data(), static_cast<std::size_t>(whole)) != 0) {
      return false;
    }
    const int rest = prefix_bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (base[static_cast<std::size_t>(whole)] & mask) ==
           (address[static_cast<std::size_t>(whole)] & mask);
  }
};

std::optional<Range> ParseRange(std::string_view text) {
  text = Trim(text);
  const auto slash = text.find('/');
  const auto address = ParseAddress(text.substr(0, slash));
  if (!address) return std::nullopt;
  Range range{*address, 128};
  if (slash == std::string_view::npos) return range;
  const std::string bits(text.substr(slash + 1));
  if (bits.empty() || bits.size() > 3 ||
      bits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int value = std::stoi(bits);
  const int limit = IsMapped(*address) ? 32 : 128;
  if (value > limit) return std::nullopt;
  range.prefix_bits = IsMapped(*address) ? 96 + value : value;
  return range;
}

}  // namespace

std::string ClientAddress(const http::Request& request,
                          const std::vector<std::string>& trusted_proxies) {
  std::vector<Range> trusted;
  for (const auto& text : trusted_proxies) {
    if (auto range = ParseRange(text)) trusted.push_back(*range);
  }
  auto is_trusted = [&](const Address& address) {
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const Range& range) { return range.Contains(address); });
  };
  const auto peer = ParseAddress(request.remote_address);
  if (!peer) return request.remote_address;
  if (!is_trusted(*peer)) return Format(*peer);

  // Every X-Forwarded-For line, in order, as one list: a proxy may add a line of its own rather
  // than append to the client's, and the last line is then the one to believe.
  std::string forwarded;
  for (const auto& [name, value] : request.headers) {
    if (name.size() == 15 &&
        std::equal(name.begin(), name.end(), "x-forwarded-for", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      if (!forwarded.empty()) forwarded += ',';
      forwarded += value;
    }
  }
  Address client = *peer;
  std::string_view rest = forwarded;
  for (std::size_t hops = 0; !rest.empty() && hops < kMaxHops; ++hops) {
    const auto comma = rest.rfind(',');
    const std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (Trim(hop).empty()) continue;
    const auto address = ParseAddress(hop);
    if (!address) break;  // junk: the last trusted hop stands for the client
    client = *address;
    if (!is_trusted(client)) break;
  }
  return Format(client);
}

}  // namespace surveyd::api
