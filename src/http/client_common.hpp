#pragma once
// The one connect, TLS set-up and exchange of both HTTP clients: the one-shot Fetch
// (client.cpp) uses a connection once, the gateway adapters' pool (client_pool.cpp) keeps them
// alive. Certificate verification, timeouts and what counts as sent are security and
// delivery decisions: written once, a fix reaches both. Private to src/http.
#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <string>

#include "http/url.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::http::client_common {

using Deadline = std::chrono::steady_clock::time_point;

ClientResponse Failure(ClientResponse::Transport transport, bool request_sent, std::string error);

// What a request that ended by an exception answers. Where it was thrown is unknown, so the
// request may have gone out: in doubt, never resent without an idempotency key.
ClientResponse FromException(std::exception_ptr error);

// The TLS contexts for the TLS settings requests name (verify or not, which CAs), each made on
// first use: reading the CAs costs more than a handshake. A CA file replaced since (the force's
// CA renewed) is read again for the next connection, as the listener's certificate is on reload:
// the file's identity, size and time are looked at, not its contents. Not thread-safe: one
// owner's thread.
class TlsContexts {
 public:
  // Null when the CAs cannot be read; `error` says so.
  std::shared_ptr<boost::asio::ssl::context> For(const ClientRequest& request, std::string& error);
  // Requests with the same key share a context (and may share a connection).
  static std::string Key(const ClientRequest& request);

 private:
  struct Made {
    std::shared_ptr<boost::asio::ssl::context> context;
    std::string ca_file_stamp;  // of the CA file it was made from; empty: the system's CAs
  };
  std::map<std::string, Made> contexts_;
};

// An open connection to one host and port, plain or TLS.
class ClientConnection {
 public:
  explicit ClientConnection(std::unique_ptr<boost::beast::tcp_stream> plain);
  explicit ClientConnection(
      std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls);

  // Writes the request and reads its answer, by `deadline`. A write that fails is not sent (an
  // incomplete request, its body shorter than its Content-Length, cannot be acted on); a read
  // that fails is in doubt (request_sent: the server may have acted). `keep_alive` asks the
  // server to keep the connection for another request. The request and URL must outlive the
  // call (the caller awaits it).
  boost::asio::awaitable<ClientResponse> Exchange(const ClientRequest& request, const Url& url,
                                                  Deadline deadline, bool keep_alive);

  // Whether it may carry another request: both sides kept it alive and nothing unread is left.
  bool Reusable() const { return reusable_; }
  // False when the peer closed it (or sent something unasked) while it was idle.
  bool StillOpen();

 private:
  template <typename Stream>
  boost::asio::awaitable<ClientResponse> ExchangeOver(Stream& stream, const ClientRequest& request,
                                                      const Url& url, Deadline deadline,
                                                      bool keep_alive);
  boost::beast::tcp_stream& Lowest();

  std::unique_ptr<boost::beast::tcp_stream> plain_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  int exchanges_ = 0;  // requests written before: a failed write then says the connection was kept
  bool reusable_ = false;
};

struct Connected {
  std::unique_ptr<ClientConnection> connection;  // null on failure
  ClientResponse failure;
};

// Resolves the URL's host, connects and, for https, shakes hands: the server name sent (SNI)
// and, unless the request turns verification off, its certificate checked against the CAs and
// the host name. All by `deadline`. A failure never sent anything: kConnectFailed,
// kTimeoutBeforeSend or kError, with request_sent false, so the caller may retry it.
// The references must outlive the call (the caller awaits it).
boost::asio::awaitable<Connected> Connect(boost::asio::any_io_executor executor,
                                          const ClientRequest& request, const Url& url,
                                          TlsContexts& tls_contexts, Deadline deadline);

}  // namespace surveyd::http::client_common
