#include "http/client_common.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <cstdint>

namespace surveyd::http::client_common {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Transport = ClientResponse::Transport;

// A larger answer is cut off: no gateway or webhook has a reason to send one.
constexpr std::uint64_t kMaxResponseBody = 16 * 1024 * 1024;

// Certificates name hosts; an IP literal gets no SNI.
bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bhttp::request<bhttp::string_body> BuildRequest(const ClientRequest& request, const Url& url,
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
ClientResponse Answered(bhttp::response<bhttp::string_body>& answer) {
  ClientResponse response;
  response.transport = Transport::kOk;
  response.request_sent = true;
  response.status = static_cast<int>(answer.result_int());
  for (const auto& field : answer) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(answer.body());
  return response;
}

// The name the certificate must carry, checked by OpenSSL during the handshake (rather than in a
// verify callback), so that a mismatch is reported as one. False when OpenSSL refuses it.
bool ExpectName(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  return IsIpLiteral(host) ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
                           : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0) == 1;
}

// A certificate that did not verify is named with OpenSSL's reason and what it was checked
// against (the CAs, or the host), so that the log line alone says what to put right: usually
// the CA file (gateway.ca_file, alerts.webhook_ca_file) or the URL's host.
std::string HandshakeError(const boost::system::error_code& ec, SSL* ssl,
                           const ClientRequest& request, const std::string& host) {
  std::string error = "TLS handshake: " + ec.message();
  const long verified = SSL_get_verify_result(ssl);
  if (!request.verify_tls || verified == X509_V_OK) return error;
  error += std::string(" (") + X509_verify_cert_error_string(verified);
  if (verified == X509_V_ERR_HOSTNAME_MISMATCH || verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return error + ": the certificate does not name " + host + ")";
  }
  return error + "; trusted: " + (request.ca_file.empty() ? "the system's CAs" : request.ca_file) +
         ")";
}

// What tells a file replaced or rewritten from the one read before; empty if it cannot be read.
std::string FileStamp(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return std::to_string(info.st_dev) + ":" + std::to_string(info.st_ino) + ":" +
         std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
         std::to_string(info.st_mtim.tv_nsec);
}

Connected NotConnected(Transport transport, std::string error) {
  return {nullptr, Failure(transport, false, std::move(error))};
}

// The resolver has no timeout of its own: a timer cancels it.
asio::awaitable<tcp::resolver::results_type> Resolve(asio::any_io_executor executor, const Url& url,
                                                     Deadline deadline,
                                                     boost::system::error_code& ec) {
  // Both are shared with the timer's handler, which may run after this frame has moved on.
  auto resolver = std::make_shared<tcp::resolver>(executor);
  auto timer = std::make_shared<asio::steady_timer>(executor, deadline);
  timer->async_wait([resolver, timer](boost::system::error_code timer_ec) {
    if (!timer_ec) resolver->cancel();
  });
  auto endpoints = co_await resolver->async_resolve(url.host, url.port,
                                                    asio::redirect_error(asio::use_awaitable, ec));
  timer->cancel();
  co_return endpoints;
}

}  // namespace

ClientResponse Failure(Transport transport, bool request_sent, std::string error) {
  ClientResponse response;
  response.transport = transport;
  response.request_sent = request_sent;
  response.error = std::move(error);
  return response;
}

ClientResponse FromException(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    return Failure(Transport::kError, true, e.what());
  } catch (...) {
    return Failure(Transport::kError, true, "unknown exception");
  }
}

std::string TlsContexts::Key(const ClientRequest& request) {
  return request.verify_tls ? "verify:" + request.ca_file : "noverify";
}

std::shared_ptr<ssl::context> TlsContexts::For(const ClientRequest& request, std::string& error) {
  const std::string key = Key(request);
  const std::string stamp =
      request.verify_tls && !request.ca_file.empty() ? FileStamp(request.ca_file) : std::string();
  if (auto it = contexts_.find(key); it != contexts_.end() && it->second.ca_file_stamp == stamp) {
    return it->second.context;
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  if (request.verify_tls) {
    boost::system::error_code ec;
    if (request.ca_file.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->load_verify_file(request.ca_file, ec);
    }
    if (ec) {
      error = request.ca_file.empty() ? "TLS: cannot read the system's CAs"
                                      : "TLS: cannot read the CA file " + request.ca_file;
      return nullptr;
    }
    context->set_verify_mode(ssl::verify_peer);
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  contexts_[key] = {context, stamp};
  return context;
}

ClientConnection::ClientConnection(std::unique_ptr<beast::tcp_stream> plain)
    : plain_(std::move(plain)) {}

ClientConnection::ClientConnection(std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls)
    : tls_(std::move(tls)) {}

beast::tcp_stream& ClientConnection::Lowest() {
  return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
}

bool ClientConnection::StillOpen() {
  char byte = 0;
  const auto n = ::recv(Lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

asio::awaitable<ClientResponse> ClientConnection::Exchange(const ClientRequest& request,
                                                           const Url& url, Deadline deadline,
                                                           bool keep_alive) {
  if (tls_) co_return co_await ExchangeOver(*tls_, request, url, deadline, keep_alive);
  co_return co_await ExchangeOver(*plain_, request, url, deadline, keep_alive);
}

template <typename Stream>
asio::awaitable<ClientResponse> ClientConnection::ExchangeOver(Stream& stream,
                                                               const ClientRequest& request,
                                                               const Url& url, Deadline deadline,
                                                               bool keep_alive) {
  reusable_ = false;
  boost::system::error_code ec;
  auto message = BuildRequest(request, url, keep_alive);
  Lowest().expires_at(deadline);
  co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return Failure(
        ec == beast::error::timeout ? Transport::kTimeoutBeforeSend : Transport::kError, false,
        (exchanges_ > 0 ? "write (kept-alive connection): " : "write: ") + ec.message());
  }
  ++exchanges_;

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  if (message.method() == bhttp::verb::head) parser.skip(true);
  Lowest().expires_at(deadline);
  co_await bhttp::async_read(stream, buffer_, parser,
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return Failure(
        ec == beast::error::timeout ? Transport::kTimeoutAfterSend : Transport::kError, true,
        "read: " + ec.message());
  }
  ClientResponse response = Answered(parser.get());
  reusable_ = keep_alive && parser.get().keep_alive() && buffer_.size() == 0;
  // An idle connection in the pool must not time out under its next user.
  Lowest().expires_never();
  // No TLS close_notify when done: the answer is complete (framed by Content-Length or
  // chunking) and waiting for the peer's close_notify would only spend the deadline.
  co_return response;
}

asio::awaitable<Connected> Connect(asio::any_io_executor executor, const ClientRequest& request,
                                   const Url& url, TlsContexts& tls_contexts, Deadline deadline) {
  boost::system::error_code ec;
  const auto endpoints = co_await Resolve(executor, url, deadline, ec);
  if (ec) {
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return NotConnected(Transport::kTimeoutBeforeSend, "resolve: timed out");
    }
    co_return NotConnected(Transport::kConnectFailed, "resolve: " + ec.message());
  }

  auto stream = std::make_unique<beast::tcp_stream>(executor);
  stream->expires_at(deadline);
  co_await stream->async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout) {
    co_return NotConnected(Transport::kTimeoutBeforeSend, "connect: timed out");
  }
  if (ec) co_return NotConnected(Transport::kConnectFailed, "connect: " + ec.message());
  // A request is written whole and then its answer awaited: Nagle would only delay it.
  stream->socket().set_option(tcp::no_delay(true), ec);
  if (!url.Tls()) co_return Connected{std::make_unique<ClientConnection>(std::move(stream)), {}};

  std::string error;
  const auto context = tls_contexts.For(request, error);
  if (!context) co_return NotConnected(Transport::kError, error);
  auto tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), *context);
  if (!IsIpLiteral(url.host) &&
      SSL_set_tlsext_host_name(tls->native_handle(), url.host.c_str()) != 1) {
    co_return NotConnected(Transport::kError, "TLS: cannot set the server name");
  }
  if (request.verify_tls && !ExpectName(tls->native_handle(), url.host)) {
    co_return NotConnected(Transport::kError, "TLS: cannot set the name to verify");
  }
  beast::get_lowest_layer(*tls).expires_at(deadline);
  co_await tls->async_handshake(ssl::stream_base::client,
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout) {
    co_return NotConnected(Transport::kTimeoutBeforeSend, "TLS handshake: timed out");
  }
  if (ec) {
    co_return NotConnected(Transport::kError,
                           HandshakeError(ec, tls->native_handle(), request, url.host));
  }
  co_return Connected{std::make_unique<ClientConnection>(std::move(tls)), {}};
}

}  // namespace surveyd::http::client_common
