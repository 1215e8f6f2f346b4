// The gateway adapters' transport: requests over kept-alive connections, run concurrently as
// coroutines on one io_context thread of the pool's own (so everything below the public
// functions runs on that thread and needs no lock).
#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <future>
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
using SteadyClock = std::chrono::steady_clock;
using Transport = ClientResponse::Transport;
using client_common::ClientConnection;
using client_common::Failure;
using client_common::TlsContexts;

// A kept-alive connection waiting for its next request.
struct IdleConnection {
  std::unique_ptr<ClientConnection> connection;
  SteadyClock::time_point since;
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
            responses[i] = error ? client_common::FromException(error) : std::move(response);
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
    const std::string key =
        url->scheme + "://" + url->host + ":" + url->port + "|" + TlsContexts::Key(request);

    // A slot among the requests in flight, and a connection for it: a kept-alive one that is
    // still open, or a new one.
    if (!co_await WaitForSlot(deadline)) {
      co_return Failure(Transport::kTimeoutBeforeSend, false,
                        "no free connection before the timeout");
    }
    Slot slot(*this, key);
    std::unique_ptr<ClientConnection> connection = TakeIdle(key);
    if (!connection) {
      client_common::Connected connected = co_await client_common::Connect(
          ioc_.get_executor(), request, *url, tls_contexts_, deadline);
      if (!connected.connection) co_return connected.failure;
      connection = std::move(connected.connection);
    }
    ClientResponse response = co_await connection->Exchange(request, *url, deadline, true);
    if (connection->Reusable()) slot.KeepAlive(std::move(connection));
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
    void KeepAlive(std::unique_ptr<ClientConnection> connection) { kept_ = std::move(connection); }

   private:
    PoolImpl& pool_;
    std::string key_;
    std::unique_ptr<ClientConnection> kept_;
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

  std::unique_ptr<ClientConnection> TakeIdle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    while (!list.empty()) {
      IdleConnection idle = std::move(list.back());
      list.pop_back();
      if (SteadyClock::now() - idle.since <= options_.max_idle && idle.connection->StillOpen()) {
        return std::move(idle.connection);
      }
    }
    return nullptr;
  }

  void Release(const std::string& key, std::unique_ptr<ClientConnection> connection) {
    --in_flight_;
    if (connection) idle_[key].push_back({std::move(connection), SteadyClock::now()});
    if (!waiters_.empty()) {
      waiters_.front()->cancel();  // wakes the first in line
      waiters_.pop_front();
    }
  }

  ClientPoolOptions options_;
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  // Only touched on the pool's thread.
  int in_flight_ = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
  std::unordered_map<std::string, std::vector<IdleConnection>> idle_;
  TlsContexts tls_contexts_;
};

}  // namespace

std::unique_ptr<ClientPool> MakeClientPool(const ClientPoolOptions& options) {
  return std::make_unique<PoolImpl>(options);
}

}  // namespace surveyd::http
