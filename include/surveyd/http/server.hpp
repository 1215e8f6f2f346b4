#pragma once
// The HTTP/1.1 server (Boost.Beast, hidden in src/http/server.cpp). Connections are served by
// coroutines on an io_context; each request's handler runs on a separate worker pool, because
// handlers do blocking database work. A fast handler, when given, sees every request first on the
// I/O thread and answers those it can without blocking (/healthz, a cached survey page), so they
// never wait behind busy workers.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/heartbeat.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: pick a free port (tests)
  int io_threads = 1;
  int worker_threads = 4;                    // handlers run here
  std::size_t max_body_bytes = 1 << 20;      // larger: 413
  std::size_t max_header_bytes = 16 * 1024;  // larger: 431
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds keep_alive_timeout{60};
  // Open connections at most. One past it is answered 503 with Retry-After and closed at once,
  // without reading its request; while many of those are being answered, the server stops
  // accepting, so file descriptors stay bounded whatever the clients do.
  std::size_t max_connections = 1000;
  // Open connections from one client at most, so that one cannot take all of max_connections and
  // lock the citizens out. A client is its TCP peer's address (headers are not read yet): an IPv4
  // address, or an IPv6 /64 (net::ClientGroup). One past it is answered as one past
  // max_connections is. Peers in trusted_proxies are not counted: every client behind them
  // comes through them. 0: no cap of its own (the simulators and test servers, whose clients are
  // all on loopback); the daemon's is http.max_connections_per_client.
  std::size_t max_connections_per_client = 0;
  std::vector<std::string> trusted_proxies;  // addresses or CIDR ranges (net::ParseRange)
  // TLS on the listener: a PEM certificate (and chain) and its key; empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
};

struct ServerStatus {
  std::size_t open_connections = 0;
  std::size_t peak_connections = 0;    // since Start
  std::uint64_t refused_over_cap = 0;  // connections answered 503 because of max_connections
  // Connections answered 503 because their client had max_connections_per_client open already.
  std::uint64_t refused_over_client_cap = 0;
  std::size_t clients = 0;           // clients (trusted proxies aside) with connections open
  std::uint64_t fast_answers = 0;    // requests answered on the I/O thread
  std::uint64_t pooled_answers = 0;  // requests answered on the worker pool
};

class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts serving; throws std::runtime_error (e.g. "127.0.0.1:8080: address in use").
  virtual void Start() = 0;
  // Stops accepting, finishes requests in flight (up to a grace period), joins the threads.
  virtual void Stop() = 0;
  virtual std::uint16_t Port() const = 0;  // the bound port (useful with port 0)
  virtual ServerStatus Status() const = 0;
  // Reads the TLS certificate and key again; new connections get them, open ones keep theirs.
  // Returns the error (the old pair stays in force), or "" (also when TLS is off).
  virtual std::string ReloadTls() = 0;
  // The older of the I/O thread's and the handler pool's last tick (each ticks every second when
  // free to); a blocked I/O thread or a pool whose every thread is stuck stops it. nullopt while
  // not serving.
  virtual std::optional<Heartbeat::SteadyTime> LastProgress() const = 0;
};

// "" when the pair loads as the server would load it (and the certificate has not expired),
// else what is wrong. For `surveyd config check`.
std::string CheckTlsFiles(const std::string& cert_file, const std::string& key_file);
// "" when `ca_file` holds a PEM certificate for a TLS client to trust, or cannot be opened (said
// elsewhere: config::ValidateForServe); else what is wrong. A key, a DER file or another file
// named by mistake would otherwise fail only at the first connection. For `surveyd config check`.
std::string CheckCaFile(const std::string& ca_file);
// When the (first) certificate in a PEM file expires, as Unix time; nullopt if unreadable.
std::optional<std::int64_t> CertificateNotAfter(const std::string& cert_file);

// Handlers see the method as sent: a HEAD stays "HEAD" (answer it like GET, without side
// effects); the server drops the body of the answer.
std::unique_ptr<Server> MakeServer(const ServerOptions& options, Handler handler,
                                   FastHandler fast = nullptr);

}  // namespace surveyd::http
