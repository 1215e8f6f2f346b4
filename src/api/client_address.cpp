// api::ClientAddress: who the client is behind trusted reverse proxies. Everything in
// X-Forwarded-For is written by the client except what our own proxies appended on the right, so
// the walk starts there and stops at the first hop that is not one of ours.
#include <algorithm>
#include <cctype>

#include "surveyd/api/api.hpp"
#include "surveyd/core/ip_address.hpp"

namespace surveyd::api {
namespace {

constexpr std::size_t kMaxHops = 32;  // a longer chain is junk; walking it is not worth it

std::string_view Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

std::string ClientAddress(const http::Request& request,
                          const std::vector<std::string>& trusted_proxies) {
  std::vector<net::Range> trusted;
  for (const auto& text : trusted_proxies) {
    if (auto range = net::ParseRange(text)) trusted.push_back(*range);
  }
  auto is_trusted = [&](const net::Address& address) {
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const net::Range& range) { return range.Contains(address); });
  };
  const auto peer = net::ParseAddressWithPort(request.remote_address);
  if (!peer) return request.remote_address;
  if (!is_trusted(*peer)) return net::FormatAddress(*peer);

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
  net::Address client = *peer;
  std::string_view rest = forwarded;
  for (std::size_t hops = 0; !rest.empty() && hops < kMaxHops; ++hops) {
    const auto comma = rest.rfind(',');
    const std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    if (Trim(hop).empty()) continue;
    const auto address = net::ParseAddressWithPort(hop);
    if (!address) break;  // junk: the last trusted hop stands for the client
    client = *address;
    if (!is_trusted(client)) break;
  }
  return net::FormatAddress(client);
}

}  // namespace surveyd::api
