#pragma once
// URL splitting for the HTTP client: just enough of RFC 3986 for "scheme://host[:port]/target".
#include <optional>
#include <string>
#include <string_view>

namespace surveyd::http {

struct Url {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // "127.0.0.1", "example.org", "::1" (no brackets)
  std::string port;    // always set: the default for the scheme when absent
  std::string target;  // "/path?query", at least "/"

  bool Tls() const { return scheme == "https"; }
  bool DefaultPort() const { return port == (Tls() ? "443" : "80"); }
  // The Host header value: host[:port], IPv6 literals in brackets.
  std::string HostHeader() const;
};

// Empty for anything that is not an absolute http(s) URL with a host.
std::optional<Url> ParseUrl(std::string_view text);

}  // namespace surveyd::http
