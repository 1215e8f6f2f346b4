#pragma once
// A small blocking HTTP/1.1 client (http:// and https://) with a total timeout, for the gateway
// adapters and the simulators. Transport failures are values, not exceptions.
#include <chrono>
#include <string>

#include "surveyd/http/message.hpp"

namespace surveyd::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // "http://127.0.0.1:8090/v1/messages?x=1"
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
  bool verify_tls = true;
  std::string ca_file;  // PEM file of the CAs to trust for https; empty: the system's CAs
};

struct ClientResponse {
  // Transport outcome. kOk means an HTTP answer was read (any status).
  enum class Transport { kOk, kConnectFailed, kTimeoutBeforeSend, kTimeoutAfterSend, kError };
  Transport transport = Transport::kError;
  int status = 0;
  Headers headers;
  std::string body;
  std::string error;  // transport error text
  // True when the whole request was written, so the server may have acted on it. (A partly
  // written request cannot be acted on: its body is shorter than its Content-Length.)
  bool request_sent = false;

  bool Ok() const { return transport == Transport::kOk; }
  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
};

ClientResponse Fetch(const ClientRequest& request);

}  // namespace surveyd::http
