#pragma once
// Shared by the one-shot client (client.cpp) and the kept-alive pool (client_pool.cpp): both
// build their requests and report their failures alike. Private to src/http.
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>
#include <utility>

#include "http/url.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::http::client_common {

namespace bhttp = boost::beast::http;

// A larger answer is cut off: no gateway or webhook has a reason to send one.
constexpr std::uint64_t kMaxResponseBody = 16 * 1024 * 1024;

inline ClientResponse Failure(ClientResponse::Transport transport, bool request_sent,
                              std::string error) {
  ClientResponse response;
  response.transport = transport;
  response.request_sent = request_sent;
  response.error = std::move(error);
  return response;
}

// Certificates name hosts; an IP literal gets no SNI.
inline bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

inline bhttp::request<bhttp::string_body> BuildRequest(const ClientRequest& request, const Url& url,
                                                       bool keep_alive) {
  bhttp::request<bhttp::string_body> message;
  const bhttp::verb verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    message.method_string(request.method);
  } else {
    message.method(verb);
  }
  message.target(url.target);
  message.version(11);
  message.set(bhttp::field::host, url.HostHeader());
  message.set(bhttp::field::user_agent, "surveyd");
  for (const auto& [name, value] : request.headers) message.set(name, value);
  message.body() = request.body;
  message.keep_alive(keep_alive);
  if (!request.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put ||
      verb == bhttp::verb::patch) {
    message.content_length(request.body.size());
  }
  return message;
}

// A complete answer as the caller gets it (its body moved out of `answer`).
inline ClientResponse Answered(bhttp::response<bhttp::string_body>& answer) {
  ClientResponse response;
  response.transport = ClientResponse::Transport::kOk;
  response.request_sent = true;
  response.status = static_cast<int>(answer.result_int());
  for (const auto& field : answer) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(answer.body());
  return response;
}

}  // namespace surveyd::http::client_common
