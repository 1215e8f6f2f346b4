// The gateway adapters' transport: requests over kept-alive connections, run concurrently as
// coroutines on one io_context thread of the pool's own (so everything below the public
// functions runs on that thread and needs no lock).
#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include "http/client_common.hpp"
#include "http/url.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::http {

ClientResponse ClientPool::Fetch(ClientRequest request) {
  std::vector<ClientRequest> one;
  one.push_back(std::move(request));
  return FetchAll(std::move(one)).front();
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Transport = ClientResponse::Transport;
using client_common::Answered;
using client_common::BuildRequest;
using client_common::Failure;
using client_common::IsIpLiteral;
using client_common::kMaxResponseBody;

// One kept-alive connection: plain or TLS.
struct PooledConnection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since;
  bool reused = false;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  // False when the peer closed it (or sent something unasked) while it was idle.
  bool StillOpen() {
    char byte = 0;
    const auto n = ::recv(Lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

class PoolImpl final : public ClientPool {
 public:
  explicit PoolImpl(ClientPoolOptions options)
      : options_(options), work_(asio::make_work_guard(ioc_)) {
    if (options_.max_in_flight < 1) options_.max_in_flight = 1;
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~PoolImpl() override {
    // No request is in flight (FetchAll waits for its own): stop the thread, then the idle
    // connections close with the members.
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::vector<ClientResponse> FetchAll(std::vector<ClientRequest> requests) override {
    std::vector<ClientResponse> responses(requests.size());
    if (requests.empty()) return responses;
    std::promise<void> done;
    std::atomic<std::size_t> remaining{requests.size()};
    for (std::size_t i = 0; i < requests.size(); ++i) {
      // `responses`, `remaining` and `done` outlive every coroutine: this call waits for all.
      asio::co_spawn(
          ioc_, Run(std::move(requests[i])),
          [&responses, &remaining, &done, i](std::exception_ptr error, ClientResponse response) {
            if (error) {
              try {
                std::rethrow_exception(error);
              } catch (const std::exception& e) {
                response = Failure(Transport::kError, true, e.what());
              } catch (...) {
                response = Failure(Transport::kError, true, "unknown exception");
              }
            }
            responses[i] = std::move(response);
            if (--remaining == 0) done.set_value();
          });
    }
    done.get_future().wait();
    return responses;
  }

 private:
  asio::awaitable<ClientResponse> Run(ClientRequest request) {
    const std::optional<Url> url = ParseUrl(request.url);
    if (!url) co_return Failure(Transport::kError, false, "invalid URL");
    const SteadyClock::time_point deadline = SteadyClock::now() + request.timeout;
    const std::string key = url->scheme + "://" + url->host + ":" + url->port + "|" +
                            (request.verify_tls ? "verify:" + request.ca_file : "noverify");

    // A slot among the requests in flight, and a connection for it: a kept-alive one that is
    // still open, or a new one.
    if (!co_await WaitForSlot(deadline)) {
      co_return Failure(Transport::kTimeoutBeforeSend, false,
                        "no free connection before the timeout");
    }
    Slot slot(*this, key);
    std::unique_ptr<PooledConnection> connection = TakeIdle(key);
    ClientResponse response;
    if (!connection) {
      std::string error;
      Transport failure = Transport::kError;
      connection = co_await Open(request, *url, key, deadline, failure, error);
      if (!connection) co_return Failure(failure, false, error);
    }
    bool keep = false;
    if (connection->tls) {
      response = co_await Exchange(*connection->tls, *connection, request, *url, deadline, keep);
    } else {
      response = co_await Exchange(*connection->plain, *connection, request, *url, deadline, keep);
    }
    if (keep) slot.KeepAlive(std::move(connection));
    co_return response;
  }

  // A request's place among those in flight, given back however the request ends: an exception
  // too (a header Beast cannot build throws), or each would shrink the pool for good.
  class Slot {
   public:
    Slot(PoolImpl& pool, std::string key) : pool_(pool), key_(std::move(key)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { pool_.Release(key_, std::move(kept_)); }
    // The connection goes back to the idle ones for the next request to the same place.
    void KeepAlive(std::unique_ptr<PooledConnection> connection) { kept_ = std::move(connection); }

   private:
    PoolImpl& pool_;
    std::string key_;
    std::unique_ptr<PooledConnection> kept_;
  };

  asio::awaitable<bool> WaitForSlot(SteadyClock::time_point deadline) {
    while (in_flight_ >= options_.max_in_flight) {
      auto timer = std::make_shared<asio::steady_timer>(ioc_, deadline);
      waiters_.push_back(timer);
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {  // the deadline passed: give up the place in the queue
        std::erase(waiters_, timer);
        co_return false;
      }
    }
    ++in_flight_;
    co_return true;
  }

  std::unique_ptr<PooledConnection> TakeIdle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    while (!list.empty()) {
      std::unique_ptr<PooledConnection> connection = std::move(list.back());
      list.pop_back();
      if (SteadyClock::now() - connection->idle_since <= options_.max_idle &&
          connection->StillOpen()) {
        connection->reused = true;
        return connection;
      }
    }
    return nullptr;
  }

  void Release(const std::string& key, std::unique_ptr<PooledConnection> connection) {
    --in_flight_;
    if (connection) {
      connection->idle_since = SteadyClock::now();
      idle_[key].push_back(std::move(connection));
    }
    if (!waiters_.empty()) {
      waiters_.front()->cancel();  // wakes the first in line
      waiters_.pop_front();
    }
  }

  std::shared_ptr<ssl::context> TlsContext(const ClientRequest& request, std::string& error) {
    const std::string key = request.verify_tls ? "verify:" + request.ca_file : "noverify";
    if (auto it = tls_contexts_.find(key); it != tls_contexts_.end()) return it->second;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    if (request.verify_tls) {
      boost::system::error_code ec;
      if (request.ca_file.empty()) {
        context->set_default_verify_paths(ec);
      } else {
        context->load_verify_file(request.ca_file, ec);
      }
      if (ec) {
        error = "TLS: cannot read the CA file";
        return nullptr;
      }
      context->set_verify_mode(ssl::verify_peer);
    } else {
      context->set_verify_mode(ssl::verify_none);
    }
    tls_contexts_[key] = context;
    return context;
  }

  asio::awaitable<std::unique_ptr<PooledConnection>> Open(const ClientRequest& request,
                                                          const Url& url,
                                                          const std::string& /*key*/,
                                                          SteadyClock::time_point deadline,
                                                          Transport& failure, std::string& error) {
    boost::system::error_code ec;
    // The resolver has no timeout of its own: a timer cancels it.
    auto resolver = std::make_shared<tcp::resolver>(ioc_);
    auto timer = std::make_shared<asio::steady_timer>(ioc_, deadline);
    timer->async_wait([resolver, timer](boost::system::error_code timer_ec) {
      if (!timer_ec) resolver->cancel();
    });
    const auto endpoints = co_await resolver->async_resolve(
        url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
    timer->cancel();
    if (ec) {
      failure = SteadyClock::now() >= deadline ? Transport::kTimeoutBeforeSend
                                               : Transport::kConnectFailed;
      error = "resolve: " + ec.message();
      co_return nullptr;
    }
    auto connection = std::make_unique<PooledConnection>();
    auto stream = std::make_unique<beast::tcp_stream>(ioc_);
    stream->expires_at(deadline);
    co_await stream->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      failure =
          ec == beast::error::timeout ? Transport::kTimeoutBeforeSend : Transport::kConnectFailed;
      error = "connect: " + ec.message();
      co_return nullptr;
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    if (!url.Tls()) {
      connection->plain = std::move(stream);
      co_return connection;
    }

    auto context = TlsContext(request, error);
    if (!context) co_return nullptr;
    connection->tls =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *context);
    auto& tls = *connection->tls;
    if (!IsIpLiteral(url.host) &&
        SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str()) != 1) {
      error = "TLS: cannot set the server name";
      co_return nullptr;
    }
    if (request.verify_tls) tls.set_verify_callback(ssl::host_name_verification(url.host));
    beast::get_lowest_layer(tls).expires_at(deadline);
    co_await tls.async_handshake(ssl::stream_base::client,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      failure = ec == beast::error::timeout ? Transport::kTimeoutBeforeSend : Transport::kError;
      error = "TLS handshake: " + ec.message();
      co_return nullptr;
    }
    co_return connection;
  }

  // Writes the request and reads the answer; `keep` says whether the connection can be reused.
  template <typename Stream>
  asio::awaitable<ClientResponse> Exchange(Stream& stream, PooledConnection& connection,
                                           const ClientRequest& request, const Url& url,
                                           SteadyClock::time_point deadline, bool& keep) {
    keep = false;
    boost::system::error_code ec;
    auto message = BuildRequest(request, url, true);
    connection.Lowest().expires_at(deadline);
    co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // An incomplete request (its body shorter than its Content-Length) cannot be acted on.
      co_return Failure(
          ec == beast::error::timeout ? Transport::kTimeoutBeforeSend : Transport::kError, false,
          std::string(connection.reused ? "write (kept-alive connection): " : "write: ") +
              ec.message());
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    if (message.method() == bhttp::verb::head) parser.skip(true);
    connection.Lowest().expires_at(deadline);
    co_await bhttp::async_read(stream, connection.buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return Failure(
          ec == beast::error::timeout ? Transport::kTimeoutAfterSend : Transport::kError, true,
          "read: " + ec.message());
    }
    ClientResponse response = Answered(parser.get());
    keep = parser.get().keep_alive() && connection.buffer.size() == 0;
    connection.Lowest().expires_never();
    co_return response;
  }

  ClientPoolOptions options_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  // Only touched on the pool's thread.
  int in_flight_ = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<PooledConnection>>> idle_;
  std::map<std::string, std::shared_ptr<ssl::context>> tls_contexts_;
};

}  // namespace

std::unique_ptr<ClientPool> MakeClientPool(const ClientPoolOptions& options) {
  return std::make_unique<PoolImpl>(options);
}

}  // namespace surveyd::http
