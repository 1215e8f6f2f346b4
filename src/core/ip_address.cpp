#include "surveyd/core/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace surveyd::net {
namespace {

constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::string_view Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

bool IsMapped(const Address& address) {
  return std::memcmp(address.data(), kMappedPrefix, sizeof kMappedPrefix) == 0;
}

}  // namespace

std::optional<Address> ParseAddress(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string host(text);
  if (host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
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

std::optional<Address> ParseAddressWithPort(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  auto digits = [](std::string_view port) {
    return !port.empty() && port.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || !digits(rest.substr(1)))) return std::nullopt;
    return ParseAddress(text.substr(0, close + 1));
  }
  if (std::count(text.begin(), text.end(), ':') == 1) {  // IPv4 with a port
    const auto colon = text.find(':');
    if (!digits(text.substr(colon + 1))) return std::nullopt;
    return ParseAddress(text.substr(0, colon));
  }
  return ParseAddress(text);
}

std::string FormatAddress(const Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (IsMapped(address)) {
    inet_ntop(AF_INET, address.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, address.data(), text, sizeof text);
  }
  return text;
}

bool IsIpv4(const Address& address) { return IsMapped(address); }

Address ClientGroup(const Address& address) {
  if (IsMapped(address)) return address;
  Address group = address;
  std::fill(group.begin() + 8, group.end(), static_cast<unsigned char>(0));
  return group;
}

bool Range::Contains(const Address& address) const {
  const int whole = prefix_bits / 8;
  if (std::memcmp(base.data(), address.data(), static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = prefix_bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (base[static_cast<std::size_t>(whole)] & mask) ==
         (address[static_cast<std::size_t>(whole)] & mask);
}

std::optional<Range> ParseRange(std::string_view text) {
  text = Trim(text);
  const auto slash = text.find('/');
  const auto address = ParseAddress(text.substr(0, slash));
  if (!address) return std::nullopt;
  Range range{*address, 128};
  if (slash == std::string_view::npos) return range;
  const std::string_view bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != bits.npos) {
    return std::nullopt;
  }
  const int value = std::stoi(std::string(bits));
  // "10.0.0.0/8" counts IPv4 bits; "::ffff:10.0.0.0/104", written as IPv6, counts IPv6 bits.
  const bool v4 = IsMapped(*address) && text.substr(0, slash).find(':') == std::string_view::npos;
  if (value > (v4 ? 32 : 128)) return std::nullopt;
  range.prefix_bits = v4 ? 96 + value : value;
  return range;
}

bool InAnyRange(std::string_view address, const std::vector<std::string>& ranges) {
  const auto parsed = ParseAddress(address);
  if (!parsed) return false;
  return std::any_of(ranges.begin(), ranges.end(), [&](const std::string& text) {
    const auto range = ParseRange(text);
    return range && range->Contains(*parsed);
  });
}

}  // namespace surveyd::net
