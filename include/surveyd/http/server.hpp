#pragma once
// The HTTP/1.1 server (Boost.Beast, hidden in src/http/server.cpp). Connections are served by
// coroutines on an io_context; each request's handler runs on a separate worker pool, because
// handlers do blocking database work.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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
  // TLS on the listener: a PEM certificate (and chain) and its key; empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts serving; throws std::runtime_error (e.g. "127.0.0.1:8080: address in use").
  virtual void Start() = 0;
  // Stops accepting, finishes requests in flight (up to a grace period), joins the threads.
  virtual void Stop() = 0;
  virtual std::uint16_t Port() const = 0;  // the bound port (useful with port 0)
  // Reads the TLS certificate and key again; new connections get them, open ones keep theirs.
  // Returns the error (the old pair stays in force), or "" (also when TLS is off).
  virtual std::string ReloadTls() = 0;
  // The older of the I/O thread's and the handler pool's last tick (each
  // ticks every second when free to); a blocked I/O thread or a pool whose every thread is stuck
  // stops it. nullopt while not serving.
  virtual std::optional<Heartbeat::SteadyTime> LastProgress() const = 0;
};

// "" when the pair loads as the server would load it (and the certificate has not expired),
// else what is wrong. For `surveyd config check`.
std::string CheckTlsFiles(const std::string& cert_file, const std::string& key_file);
// When the (first) certificate in a PEM file expires, as Unix time; nullopt if unreadable.
std::optional<std::int64_t> CertificateNotAfter(const std::string& cert_file);

std::unique_ptr<Server> MakeServer(const ServerOptions& options, Handler handler);

}  // namespace surveyd::http
