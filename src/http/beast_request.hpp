#pragma once
// Private to src/http/ (and the HTTP fuzz target): a parsed Beast request as an http::Request,
// and the parser limits, so that the fuzzer feeds the handlers exactly what the server would.
#include <algorithm>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <string>

#include "surveyd/http/message.hpp"

namespace surveyd::http {

inline void SetLimits(boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
                      std::size_t max_header_bytes, std::size_t max_body_bytes) {
  parser.header_limit(
      static_cast<std::uint32_t>(std::min<std::size_t>(max_header_bytes, UINT32_MAX)));
  parser.body_limit(max_body_bytes);
}

inline Request ToRequest(boost::beast::http::request<boost::beast::http::string_body>&& message,
                         std::string remote_address) {
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  const std::size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());
  request.remote_address = std::move(remote_address);
  return request;
}

}  // namespace surveyd::http
