#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include "surveyd/http/server.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "http/beast_request.hpp"
#include "surveyd/core/ip_address.hpp"
#include "surveyd/core/phone.hpp"

namespace surveyd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = ssl::stream<beast::tcp_stream&>;

// How long a connection that is being closed after an error keeps reading (and discarding) what
// the client is still sending, so that our error response is not destroyed by a TCP reset.
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr std::size_t kLingerMaxBytes = 1 << 20;
constexpr std::chrono::seconds kStopGrace{5};
// How often the I/O thread and the handler pool prove they are alive (LastProgress).
constexpr std::chrono::seconds kTick{1};
// Connections past max_connections, or past their client's max_connections_per_client, get this
// answer before anything is read from them. Past kMaxRefusing of those at once, the accept loop
// pauses instead: answering costs a descriptor too.
constexpr std::string_view kOverCapResponse =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Server: surveyd\r\n"
    "Retry-After: 2\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "Content-Length: 20\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Too many connections";
constexpr std::size_t kMaxRefusing = 64;
constexpr std::chrono::seconds kOverCapLinger{1};
constexpr std::size_t kOverCapLingerBytes = 64 * 1024;
constexpr std::chrono::milliseconds kAcceptPause{10};
// Refusals at a client's cap are said at most this often.
constexpr std::chrono::minutes kClientCapWarningEvery{1};

// Counts a connection from its accept to its destruction, whatever path ends it.
class CountedSlot {
 public:
  explicit CountedSlot(std::atomic<std::size_t>& counter) : counter_(counter) { ++counter_; }
  ~CountedSlot() { --counter_; }
  CountedSlot(const CountedSlot&) = delete;
  CountedSlot& operator=(const CountedSlot&) = delete;

 private:
  std::atomic<std::size_t>& counter_;
};

// The connections each client has open (max_connections_per_client). A client's entry goes when
// its last connection does, so the map holds at most max_connections entries, whoever came before.
class ClientCounts {
 public:
  // Counts one more connection of `client`; false (and nothing counted) when it has `cap` open.
  bool TryAdd(const net::Address& client, std::size_t cap) {
    std::lock_guard lock(mutex_);
    const auto [it, added] = counts_.try_emplace(client, 0);
    if (it->second >= cap) {
      if (added) counts_.erase(it);
      return false;
    }
    ++it->second;
    return true;
  }
  void Remove(const net::Address& client) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(client);
    if (it == counts_.end()) return;
    if (--it->second == 0) counts_.erase(it);
  }
  std::size_t Clients() const {
    std::lock_guard lock(mutex_);
    return counts_.size();
  }

 private:
  mutable std::mutex mutex_;  // taken by the accept loop and by connections ending on any thread
  std::map<net::Address, std::size_t> counts_;
};

// One connection counted against its client, from its accept to its destruction, whatever path
// ends it; empty for a connection no client is charged with (a trusted proxy's).
class ClientSlot {
 public:
  ClientSlot() = default;
  ClientSlot(ClientCounts& counts, const net::Address& client)
      : counts_(&counts), client_(client) {}
  ClientSlot(ClientSlot&& other) noexcept
      : counts_(std::exchange(other.counts_, nullptr)), client_(other.client_) {}
  ClientSlot& operator=(ClientSlot&& other) noexcept {
    if (this != &other) {
      Release();
      counts_ = std::exchange(other.counts_, nullptr);
      client_ = other.client_;
    }
    return *this;
  }
  ~ClientSlot() { Release(); }
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;

 private:
  void Release() {
    if (counts_ != nullptr) counts_->Remove(client_);
    counts_ = nullptr;
  }
  ClientCounts* counts_ = nullptr;
  net::Address client_{};
};

struct Connection {
  Connection(tcp::socket socket, std::atomic<std::size_t>& open, ClientSlot client_slot = {})
      : slot(open), client(std::move(client_slot)), stream(std::move(socket)) {}
  CountedSlot slot;
  ClientSlot client;  // destroyed after the stream: the socket is closed before it is given back
  beast::tcp_stream stream;
  bool reading = false;  // only touched on the connection's strand
};

// The peer as net::Address holds it (IPv4 mapped); nullopt when it has gone already.
std::optional<net::Address> PeerAddress(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return std::nullopt;
  const auto address = peer.address();
  return address.is_v4()
             ? asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4()).to_bytes()
             : address.to_v6().to_bytes();
}

// A path as the log may hold it: a survey's holds its token, a key to someone's answers.
std::string PathForLog(std::string_view path) {
  if (path.rfind("/s/", 0) == 0) return "/s/{token}";
  return std::string(path.substr(0, 200));
}

bool StatusHasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

bool IsFramingHeader(std::string_view name) {
  auto equals = [name](std::string_view other) {
    return name.size() == other.size() &&
           std::equal(name.begin(), name.end(), other.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  return equals("content-length") || equals("transfer-encoding") || equals("connection") ||
         equals("server");
}

bhttp::response<bhttp::string_body> ToBeast(Response response, unsigned version, bool head,
                                            bool keep_alive) {
  bhttp::response<bhttp::string_body> message;
  message.version(version);
  const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  message.result(static_cast<unsigned>(status));
  message.set(bhttp::field::server, "surveyd");
  for (auto& [name, value] : response.headers) {
    if (!IsFramingHeader(name)) message.insert(name, value);
  }
  if (!StatusHasNoBody(status)) {
    message.content_length(response.body.size());
    if (!head) message.body() = std::move(response.body);
  }
  message.keep_alive(keep_alive);
  return message;
}

// A server context from PEM files: TLS 1.2 at least, the key checked against the certificate.
std::shared_ptr<ssl::context> MakeTlsContext(const std::string& cert_file,
                                             const std::string& key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("cannot use the certificate " + cert_file + ": " + ec.message());
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec && ec.message().find("mismatch") == std::string::npos) {
    throw std::runtime_error("cannot use the key " + key_file + ": " + ec.message());
  }
  if (ec || SSL_CTX_check_private_key(context->native_handle()) != 1) {
    throw std::runtime_error("the key " + key_file + " does not match the certificate " +
                             cert_file);
  }
  return context;
}

class BeastServer final : public Server {
 public:
  BeastServer(const ServerOptions& options, Handler handler, FastHandler fast)
      : options_(options), handler_(std::move(handler)), fast_(std::move(fast)) {
    for (const auto& text : options_.trusted_proxies) {
      if (auto range = net::ParseRange(text)) trusted_proxies_.push_back(*range);
    }
  }

  ~BeastServer() override { Stop(); }

  void Start() override {
    std::lock_guard lock(state_mutex_);
    if (started_) return;
    const std::string where = options_.host + ":" + std::to_string(options_.port);
    if (!options_.tls_cert_file.empty()) {
      try {
        tls_ = MakeTlsContext(options_.tls_cert_file, options_.tls_key_file);
      } catch (const std::exception& e) {
        throw std::runtime_error(where + ": TLS: " + e.what());
      }
    }
    try {
      tcp::resolver resolver(ioc_);
      const auto results =
          resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive);
      if (results.empty()) throw std::runtime_error("no address");
      const tcp::endpoint endpoint = results.begin()->endpoint();
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(asio::socket_base::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen(asio::socket_base::max_listen_connections);
      port_ = acceptor_.local_endpoint().port();
    } catch (const std::exception& e) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      throw std::runtime_error(where + ": " + e.what());
    }

    started_ = true;
    serving_ = true;
    pool_.emplace(static_cast<std::size_t>(std::max(1, options_.worker_threads)));
    asio::co_spawn(acceptor_.get_executor(), Accept(),
                   [](std::exception_ptr error) { LogEscaped(error, "accept loop"); });
    io_progress_.Beat();
    pool_progress_.Beat();
    asio::co_spawn(ioc_, Tick(), [](std::exception_ptr error) { LogEscaped(error, "tick"); });
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      io_threads_.emplace_back([this] { ioc_.run(); });
    }
    spdlog::info("http: listening on {}:{}", options_.host, port_.load());
  }

  void Stop() override {
    std::lock_guard lock(state_mutex_);
    if (!started_ || stopped_) return;
    stopped_ = true;
    stopping_ = true;
    serving_ = false;

    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    });
    {
      std::unique_lock connections_lock(connections_mutex_);
      // Idle connections (waiting for a request) are closed now; busy ones finish their request
      // and close because stopping_ is set.
      for (auto& [id, connection] : connections_) {
        asio::post(connection->stream.get_executor(), [connection = connection] {
          if (connection->reading) connection->stream.cancel();
        });
      }
      connections_cv_.wait_for(connections_lock, kStopGrace,
                               [this] { return connections_.empty(); });
      if (!connections_.empty()) {
        spdlog::warn("http: {} connections still open after the grace period", connections_.size());
      }
    }
    work_.reset();
    ioc_.stop();
    for (auto& thread : io_threads_) thread.join();
    io_threads_.clear();
    // No thread runs the io_context any more, so the sockets can be closed from here: the
    // acceptor's own close may not have run before stop(), and connections past the grace period
    // must not stay open until the server is destroyed.
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    {
      std::lock_guard connections_lock(connections_mutex_);
      for (auto& [id, connection] : connections_) connection->stream.socket().close(ignored);
    }
    // Handlers still running finish here; their completions go to the stopped io_context and are
    // destroyed with it.
    pool_->join();
  }

  std::uint16_t Port() const override { return port_; }

  std::string ReloadTls() override {
    if (options_.tls_cert_file.empty()) return {};
    try {
      auto context = MakeTlsContext(options_.tls_cert_file, options_.tls_key_file);
      std::lock_guard lock(tls_mutex_);
      tls_ = std::move(context);
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  std::optional<Heartbeat::SteadyTime> LastProgress() const override {
    if (!serving_) return std::nullopt;
    return std::min(io_progress_.Last(), pool_progress_.Last());
  }

  ServerStatus Status() const override {
    ServerStatus status;
    status.open_connections = open_;
    status.peak_connections = peak_;
    status.refused_over_cap = refused_over_cap_;
    status.refused_over_client_cap = refused_over_client_cap_;
    status.clients = client_counts_.Clients();
    status.fast_answers = fast_answers_;
    status.pooled_answers = pooled_answers_;
    return status;
  }

 private:
  static void LogEscaped(const std::exception_ptr& error, const char* what) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("http: {} ended with an exception: {}", what, e.what());
    } catch (...) {
      spdlog::error("http: {} ended with an unknown exception", what);
    }
  }

  // Runs the fast handler on the I/O thread; an exception there is a bug, answered like one in a
  // pooled handler.
  std::optional<Response> InvokeFast(const Request& request) {
    try {
      return fast_(request);
    } catch (const std::exception& e) {
      spdlog::error("http: fast handler for {} {} failed: {}", request.method,
                    PathForLog(request.path), phone::BlankNumbers(e.what()));
    } catch (...) {
      spdlog::error("http: fast handler for {} {} failed with an unknown exception", request.method,
                    PathForLog(request.path));
    }
    return Response::Text(500, "Internal Server Error\n");
  }

  Response Invoke(const Request& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      // Method and path only: the query string and the body may hold tokens or personal data.
      spdlog::error("http: handler for {} {} failed: {}", request.method, PathForLog(request.path),
                    phone::BlankNumbers(e.what()));
    } catch (...) {
      spdlog::error("http: handler for {} {} failed with an unknown exception", request.method,
                    PathForLog(request.path));
    }
    return Response::Text(500, "Internal Server Error\n");
  }

  // Runs the handler on the worker pool (it may block on the database) and resumes the coroutine
  // on its own strand with the response.
  template <typename CompletionToken>
  auto RunHandler(Request request, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(Response)>(
        [this](auto completion, Request req) {
          asio::post(*pool_,
                     [this, completion = std::move(completion), req = std::move(req)]() mutable {
                       Response response = Invoke(req);
                       auto executor = asio::get_associated_executor(completion);
                       asio::post(executor, [completion = std::move(completion),
                                             response = std::move(response)]() mutable {
                         completion(std::move(response));
                       });
                     });
        },
        token, std::move(request));
  }

  // Proves every second that the I/O thread runs and that a handler thread is free to run.
  asio::awaitable<void> Tick() {
    asio::steady_timer timer(ioc_);
    while (!stopping_) {
      io_progress_.Beat();
      asio::post(*pool_, [this] { pool_progress_.Beat(); });
      asio::post(acceptor_.get_executor(), [this] { SayClientRefusals(); });
      timer.expires_after(kTick);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      while (refusing_ >= kMaxRefusing && acceptor_.is_open() && !stopping_) {
        // The backlog holds further clients until the refusals in hand are done.
        asio::steady_timer timer(acceptor_.get_executor(), kAcceptPause);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      tcp::socket socket(asio::make_strand(ioc_));
      co_await acceptor_.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (ec) {
        // Usually EMFILE: pause a little rather than spin.
        spdlog::warn("http: accept failed: {}", ec.message());
        asio::steady_timer timer(acceptor_.get_executor(), std::chrono::milliseconds(100));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      auto executor = socket.get_executor();
      ClientSlot client;
      std::atomic<std::uint64_t>* refused_by = nullptr;
      if (open_ >= options_.max_connections) {
        refused_by = &refused_over_cap_;
      } else if (!TakeClientSlot(socket, client)) {
        refused_by = &refused_over_client_cap_;
      }
      if (refused_by != nullptr) {
        ++*refused_by;
        if (refused_by == &refused_over_client_cap_) WarnOverClientCap();
        auto refused = std::make_shared<Connection>(std::move(socket), refusing_);
        // A client at its own cap is not lingered with: its refusals would take the budget of
        // refusals at once (kMaxRefusing) that pauses the accept loop, and one address opening
        // connections faster than they linger out would stall everyone's accepts.
        const bool linger = refused_by == &refused_over_cap_;
        asio::co_spawn(executor, RefuseOverCap(refused, linger),
                       [](std::exception_ptr error) { LogEscaped(error, "refusal"); });
        continue;
      }
      // Counted from here (not from when the coroutine starts) so the next accept sees it.
      auto connection = std::make_shared<Connection>(std::move(socket), open_, std::move(client));
      if (const std::size_t open = open_; open > peak_) peak_ = open;  // only this loop writes it
      asio::co_spawn(executor, Serve(connection),
                     [](std::exception_ptr error) { LogEscaped(error, "connection"); });
    }
  }

  // Charges the accepted socket's client with one connection (in `slot`); false when it has
  // max_connections_per_client open already. A trusted proxy is charged nothing, nor is a peer
  // gone before it could be named (its connection ends at its first read).
  bool TakeClientSlot(const tcp::socket& socket, ClientSlot& slot) {
    if (options_.max_connections_per_client == 0) return true;
    const auto peer = PeerAddress(socket);
    if (!peer || std::any_of(trusted_proxies_.begin(), trusted_proxies_.end(),
                             [&](const net::Range& range) { return range.Contains(*peer); })) {
      return true;
    }
    const net::Address client = net::ClientGroup(*peer);
    if (!client_counts_.TryAdd(client, options_.max_connections_per_client)) return false;
    slot = ClientSlot(client_counts_, client);
    return true;
  }

  // Says that clients were refused at their cap, at most once a minute (with how many since), and
  // without their addresses, as the server logs no client's. A reverse proxy not listed as
  // trusted is one client: past the cap, every citizen behind it is refused, and this says why.
  void WarnOverClientCap() {
    ++client_refusals_unsaid_;
    SayClientRefusals();
  }
  // Those not said yet, once the minute since the last warning is up: from the accept loop, and
  // every tick (on the acceptor's strand), so that the last of a burst is said too.
  void SayClientRefusals() {
    if (client_refusals_unsaid_ == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (client_cap_said_at_ && now - *client_cap_said_at_ < kClientCapWarningEvery) return;
    spdlog::warn(
        "http: {} connection(s) refused since the last such warning because their client had {} "
        "open already (http.max_connections_per_client); a reverse proxy in front must be "
        "listed in http.trusted_proxies, or the citizens behind it are refused with it",
        client_refusals_unsaid_, options_.max_connections_per_client);
    client_refusals_unsaid_ = 0;
    client_cap_said_at_ = now;
  }

  // Keeps the registry that Stop() walks; deregisters even when the coroutine frame is destroyed
  // without finishing (io_context shut down).
  class Registration {
   public:
    Registration(BeastServer& server, std::shared_ptr<Connection> connection) : server_(server) {
      std::lock_guard lock(server_.connections_mutex_);
      id_ = ++server_.next_connection_id_;
      server_.connections_.emplace(id_, std::move(connection));
    }
    ~Registration() {
      std::lock_guard lock(server_.connections_mutex_);
      server_.connections_.erase(id_);
      server_.connections_cv_.notify_all();
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    BeastServer& server_;
    std::uint64_t id_ = 0;
  };

  asio::awaitable<void> Serve(std::shared_ptr<Connection> connection) {
    Registration registration(*this, connection);
    beast::tcp_stream& stream = connection->stream;
    boost::system::error_code ec;
    const auto remote = stream.socket().remote_endpoint(ec);
    const std::string remote_address = ec ? std::string() : remote.address().to_string();

    const auto context = TlsContext();
    if (!context) {
      if (co_await ServeRequests(connection, stream, remote_address)) {
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      }
      stream.close();
      co_return;
    }
    // The context in force when the connection came: a reload changes the next connections only.
    TlsStream tls(stream, *context);
    stream.expires_after(options_.read_timeout);
    connection->reading = true;  // Stop may cancel a handshake as it would an idle read
    co_await tls.async_handshake(ssl::stream_base::server,
                                 asio::redirect_error(asio::use_awaitable, ec));
    connection->reading = false;
    if (!ec && co_await ServeRequests(connection, tls, remote_address)) {
      stream.expires_after(kLingerTimeout);
      co_await tls.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    }
    stream.close();
  }

  // Reads requests and answers them until the client or the server ends the connection. True when
  // the caller should end it gracefully (shut down sending), false when it is already finished.
  template <typename Stream>
  asio::awaitable<bool> ServeRequests(std::shared_ptr<Connection> connection, Stream& stream,
                                      std::string remote_address) {
    beast::tcp_stream& tcp_stream = connection->stream;
    boost::system::error_code ec;
    beast::flat_buffer buffer;

    for (bool first = true;; first = false) {
      if (stopping_) break;
      bhttp::request_parser<bhttp::string_body> parser;
      SetLimits(parser, options_.max_header_bytes, options_.max_body_bytes);
      tcp_stream.expires_after(first ? options_.read_timeout : options_.keep_alive_timeout);
      connection->reading = true;
      co_await bhttp::async_read(stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
      connection->reading = false;

      if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit ||
          ec == bhttp::error::buffer_overflow) {
        const bool header = ec != bhttp::error::body_limit;
        co_await Refuse(connection, stream, header ? 431 : 413,
                        header ? "Request Header Fields Too Large\n" : "Payload Too Large\n");
        co_return false;
      }
      if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        break;  // the client went away, went quiet, or we are stopping
      }
      if (ec) {
        if (parser.got_some()) co_await Refuse(connection, stream, 400, "Bad Request\n");
        co_return false;
      }

      // A transfer coding other than chunked leaves the body's end unknown: reading on would
      // take the body for the next request (smuggling through a proxy that reads it otherwise).
      if (!parser.chunked() && parser.get().count(bhttp::field::transfer_encoding) > 0) {
        co_await Refuse(connection, stream, 501, "Not Implemented\n");
        co_return false;
      }
      // Nor has HTTP/1.0 any transfer coding (RFC 9112 6.1): a proxy that reads the request as
      // 1.0 would take the chunks, and whatever follows them, for its body.
      if (parser.get().version() < 11 && parser.get().count(bhttp::field::transfer_encoding) > 0) {
        co_await Refuse(connection, stream, 400, "Bad Request\n");
        co_return false;
      }
      auto message = parser.release();
      const unsigned version = message.version();
      const bool head = message.method() == bhttp::verb::head;
      const bool client_keep_alive = message.keep_alive();
      Request request = ToRequest(std::move(message), remote_address);

      std::optional<Response> fast;
      if (fast_) fast = InvokeFast(request);
      Response response;
      if (fast) {
        ++fast_answers_;
        response = std::move(*fast);
      } else {
        ++pooled_answers_;
        response = co_await RunHandler(std::move(request), asio::use_awaitable);
      }

      if (response.status == kNoAnswer) {
        // Linger 0: the close that follows sends a reset, as a peer that fails mid-request does.
        tcp_stream.socket().set_option(tcp::socket::linger(true, 0), ec);
        co_return false;
      }
      const bool keep_alive = client_keep_alive && !stopping_;
      auto reply = ToBeast(std::move(response), version, head, keep_alive);
      tcp_stream.expires_after(options_.read_timeout);
      co_await bhttp::async_write(stream, reply, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    co_return true;
  }

  // Answers a connection past either cap without reading its request, and closes it: at once, or
  // with `linger` after draining what the client sends for a moment, so that the close does not
  // reset the connection before the answer is read. Over TLS it is closed unanswered: a handshake
  // is the work the cap is there to avoid.
  asio::awaitable<void> RefuseOverCap(std::shared_ptr<Connection> connection, bool linger) {
    beast::tcp_stream& stream = connection->stream;
    boost::system::error_code ec;
    if (TlsContext()) {
      stream.close();
      co_return;
    }
    stream.expires_after(kOverCapLinger);
    co_await asio::async_write(stream, asio::buffer(kOverCapResponse),
                               asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    // As in Refuse: read what the client is sending for a moment, so that closing does not reset
    // the connection before the client has read the answer.
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    while (linger && !ec && drained < kOverCapLingerBytes) {
      drained += co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    stream.close();
  }

  // Answers an unreadable request and ends the connection without losing the answer.
  template <typename Stream>
  asio::awaitable<void> Refuse(std::shared_ptr<Connection> connection, Stream& stream, int status,
                               std::string body) {
    beast::tcp_stream& tcp_stream = connection->stream;
    auto reply = ToBeast(Response::Text(status, body), 11, false, false);
    boost::system::error_code ec;
    tcp_stream.expires_after(options_.read_timeout);
    co_await bhttp::async_write(stream, reply, asio::redirect_error(asio::use_awaitable, ec));
    tcp_stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!ec) {
      // Closing with unread input makes the kernel send a reset, which can destroy the answer
      // before the client reads it; drain what is still coming for a little while first.
      tcp_stream.expires_after(kLingerTimeout);
      std::array<char, 8192> sink;
      std::size_t drained = 0;
      while (!ec && drained < kLingerMaxBytes) {
        drained += co_await tcp_stream.async_read_some(
            asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
      }
    }
  }

  std::shared_ptr<ssl::context> TlsContext() {
    std::lock_guard lock(tls_mutex_);
    return tls_;
  }

  const ServerOptions options_;
  const Handler handler_;
  const FastHandler fast_;
  std::vector<net::Range> trusted_proxies_;  // from options_, parsed once

  std::atomic<std::size_t> open_{0};      // connections being served
  std::atomic<std::size_t> refusing_{0};  // connections being refused (over the cap)
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> refused_over_cap_{0};
  std::atomic<std::uint64_t> refused_over_client_cap_{0};
  ClientCounts client_counts_;  // before ioc_: connections destroyed with it give their slots back
  // Only the acceptor's strand touches these (WarnOverClientCap, SayClientRefusals).
  std::uint64_t client_refusals_unsaid_ = 0;
  std::optional<std::chrono::steady_clock::time_point> client_cap_said_at_;
  std::atomic<std::uint64_t> fast_answers_{0};
  std::atomic<std::uint64_t> pooled_answers_{0};

  std::mutex tls_mutex_;
  std::shared_ptr<ssl::context> tls_;  // null: plain HTTP

  std::mutex state_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> serving_{false};
  std::atomic<std::uint16_t> port_{0};
  Heartbeat io_progress_;
  Heartbeat pool_progress_;

  std::mutex connections_mutex_;
  std::condition_variable connections_cv_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_connection_id_ = 0;

  std::vector<std::thread> io_threads_;
  std::optional<asio::thread_pool> pool_;
  // Declared last so that it is destroyed first: destroying it destroys suspended coroutine
  // frames, whose Registration needs the members above.
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  tcp::acceptor acceptor_{asio::make_strand(ioc_)};
};

// The first certificate of a PEM file; null when the file cannot be opened or holds none.
std::unique_ptr<X509, void (*)(X509*)> FirstCertificate(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "r"), &std::fclose);
  std::unique_ptr<X509, void (*)(X509*)> cert(
      file ? PEM_read_X509(file.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
  ERR_clear_error();  // a file without one leaves its failure queued: said by the caller, not later
  return cert;
}

}  // namespace

std::string CheckTlsFiles(const std::string& cert_file, const std::string& key_file) {
  try {
    MakeTlsContext(cert_file, key_file);
  } catch (const std::exception& e) {
    return e.what();
  }
  const auto cert = FirstCertificate(cert_file);
  if (cert && X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0) {
    return "the certificate " + cert_file + " has expired";
  }
  return {};
}

std::string CheckCaFile(const std::string& ca_file) {
  if (::access(ca_file.c_str(), R_OK) != 0) return {};
  if (!FirstCertificate(ca_file)) {
    return "'" + ca_file + "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  }
  return {};
}

std::optional<std::int64_t> CertificateNotAfter(const std::string& cert_file) {
  const auto cert = FirstCertificate(cert_file);
  if (!cert) return std::nullopt;
  std::tm when{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &when) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&when));
}

std::unique_ptr<Server> MakeServer(const ServerOptions& options, Handler handler,
                                   FastHandler fast) {
  return std::make_unique<BeastServer>(options, std::move(handler), std::move(fast));
}

}  // namespace surveyd::http
