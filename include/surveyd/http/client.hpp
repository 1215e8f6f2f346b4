#pragma once
// A small blocking HTTP/1.1 client (http:// and https://) with a total timeout, for the gateway
// adapters and the simulators. Transport failures are values, not exceptions.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

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

// One request on a connection of its own (the simulators, one-off calls).
ClientResponse Fetch(const ClientRequest& request);

struct ClientPoolOptions {
  int max_in_flight = 32;  // requests at once (connections in use), every host together
  // A kept-alive connection idle longer than this is closed rather than reused: servers close
  // idle connections, and a request written as one closes could not be known to have arrived.
  std::chrono::milliseconds max_idle{2000};
};

// Requests over kept-alive connections (http and https), run concurrently on a thread of the
// pool's own, at most max_in_flight at once: the gateway adapters' transport. Thread-safe.
class ClientPool {
 public:
  virtual ~ClientPool() = default;
  // Runs the requests concurrently and answers each, in order. A request that waits longer than
  // its timeout for a free connection fails as kTimeoutBeforeSend (it never went out).
  virtual std::vector<ClientResponse> FetchAll(std::vector<ClientRequest> requests) = 0;
  ClientResponse Fetch(ClientRequest request);
};

std::unique_ptr<ClientPool> MakeClientPool(const ClientPoolOptions& options = {});

}  // namespace surveyd::http
