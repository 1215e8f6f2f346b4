#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include "surveyd/http/client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>

#include "http/client_common.hpp"
#include "http/url.hpp"

namespace surveyd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Transport = ClientResponse::Transport;
using client_common::Answered;
using client_common::BuildRequest;
using client_common::Failure;
using client_common::IsIpLiteral;
using client_common::kMaxResponseBody;

// Writes the request and reads the answer over an open stream (plain or TLS).
template <typename Stream>
asio::awaitable<ClientResponse> Exchange(Stream& stream, beast::tcp_stream& lowest,
                                         ClientRequest request, Url url,
                                         Clock::time_point deadline) {
  boost::system::error_code ec;
  auto message = BuildRequest(request, url, false);
  lowest.expires_at(deadline);
  co_await bhttp::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    // An incomplete request (its body shorter than its Content-Length) cannot be acted on.
    co_return Failure(
        ec == beast::error::timeout ? Transport::kTimeoutBeforeSend : Transport::kError, false,
        "write: " + ec.message());
  }

  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  if (message.method() == bhttp::verb::head) parser.skip(true);
  beast::flat_buffer buffer;
  lowest.expires_at(deadline);
  co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return Failure(
        ec == beast::error::timeout ? Transport::kTimeoutAfterSend : Transport::kError, true,
        "read: " + ec.message());
  }

  ClientResponse response = Answered(parser.get());
  lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return response;
}

asio::awaitable<ClientResponse> DoFetch(ClientRequest request, Url url) {
  auto executor = co_await asio::this_coro::executor;
  const Clock::time_point deadline = Clock::now() + request.timeout;
  boost::system::error_code ec;

  // The resolver has no timeout of its own: a timer cancels it. Both are shared with the timer's
  // handler, which may run after this frame has moved on.
  auto resolver = std::make_shared<tcp::resolver>(executor);
  auto timer = std::make_shared<asio::steady_timer>(executor, deadline);
  timer->async_wait([resolver, timer](boost::system::error_code timer_ec) {
    if (!timer_ec) resolver->cancel();
  });
  const auto endpoints = co_await resolver->async_resolve(
      url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
  timer->cancel();
  if (ec) {
    if (Clock::now() >= deadline) {
      co_return Failure(Transport::kTimeoutBeforeSend, false, "resolve: timed out");
    }
    co_return Failure(Transport::kConnectFailed, false, "resolve: " + ec.message());
  }

  beast::tcp_stream stream(executor);
  stream.expires_at(deadline);
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout) {
    co_return Failure(Transport::kTimeoutBeforeSend, false, "connect: timed out");
  }
  if (ec) co_return Failure(Transport::kConnectFailed, false, "connect: " + ec.message());

  if (!url.Tls()) co_return co_await Exchange(stream, stream, request, url, deadline);

  ssl::context context(ssl::context::tls_client);
  if (request.verify_tls) {
    if (request.ca_file.empty()) {
      context.set_default_verify_paths();
    } else {
      context.load_verify_file(request.ca_file, ec);
      if (ec) co_return Failure(Transport::kError, false, "TLS: cannot read the CA file");
    }
    context.set_verify_mode(ssl::verify_peer);
  } else {
    context.set_verify_mode(ssl::verify_none);
  }
  beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), context);
  if (!IsIpLiteral(url.host) &&
      SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str()) != 1) {
    co_return Failure(Transport::kError, false, "TLS: cannot set the server name");
  }
  if (request.verify_tls) tls.set_verify_callback(ssl::host_name_verification(url.host));
  beast::tcp_stream& lowest = beast::get_lowest_layer(tls);
  lowest.expires_at(deadline);
  co_await tls.async_handshake(ssl::stream_base::client,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec == beast::error::timeout) {
    co_return Failure(Transport::kTimeoutBeforeSend, false, "TLS handshake: timed out");
  }
  if (ec) co_return Failure(Transport::kError, false, "TLS handshake: " + ec.message());
  // No TLS close_notify: the answer is complete (framed by Content-Length or chunking) and
  // waiting for the peer's close_notify would only spend the deadline.
  co_return co_await Exchange(tls, lowest, request, url, deadline);
}

}  // namespace

ClientResponse Fetch(const ClientRequest& request) {
  const std::optional<Url> url = ParseUrl(request.url);
  if (!url) return Failure(Transport::kError, false, "invalid URL");

  asio::io_context ioc(1);
  ClientResponse result = Failure(Transport::kError, false, "not completed");
  asio::co_spawn(ioc, DoFetch(request, *url),
                 [&result](std::exception_ptr error, ClientResponse response) {
                   if (!error) {
                     result = std::move(response);
                     return;
                   }
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     result = Failure(Transport::kError, false, e.what());
                   } catch (...) {
                     result = Failure(Transport::kError, false, "unknown exception");
                   }
                 });
  ioc.run();
  return result;
}

}  // namespace surveyd::http
