#pragma once
// Plain HTTP request/response values. Handlers are functions from Request to Response, so they are
// tested without sockets; Beast stays inside src/http/.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surveyd::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive header lookup; empty when absent.
std::string_view FindHeader(const Headers& headers, std::string_view name);

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/s/abc?x=1" as received
  std::string path;    // "/s/abc" (percent-decoding left to the handler)
  std::string query;   // "x=1"
  Headers headers;
  std::string body;
  std::string remote_address;  // peer IP, for rate limits (never logged with personal data)

  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
};

// A Response with this status is not an answer: the server resets the connection without
// writing anything (the simulators play a gateway that fails after taking a request with it).
inline constexpr int kNoAnswer = 0;

struct Response {
  int status = 200;  // or kNoAnswer
  Headers headers;
  std::string body;

  Response& Set(std::string name, std::string value);
  static Response Text(int status, std::string body);
  static Response Json(int status, std::string body);  // body is serialised JSON
  static Response Html(int status, std::string body);
};

using Handler = std::function<Response(const Request&)>;
// A handler for the server's I/O threads: it must never block (no database, no lock held for
// long, no sleep). nullopt hands the request on to the worker pool and its Handler.
using FastHandler = std::function<std::optional<Response>(const Request&)>;

// Splits "a=1&b=x%20y" (application/x-www-form-urlencoded, '+' as space).
std::vector<std::pair<std::string, std::string>> ParseForm(std::string_view text);
std::string UrlDecode(std::string_view text, bool plus_as_space = true);
std::string UrlEncode(std::string_view text);

}  // namespace surveyd::http
