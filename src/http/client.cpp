#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include "surveyd/http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include "http/client_common.hpp"
#include "http/url.hpp"

namespace surveyd::http {
namespace {

namespace asio = boost::asio;
using Transport = ClientResponse::Transport;
using client_common::Failure;

// One connection, used once: the server is asked to close it after its answer.
asio::awaitable<ClientResponse> FetchOnce(ClientRequest request, Url url) {
  const client_common::Deadline deadline = std::chrono::steady_clock::now() + request.timeout;
  client_common::TlsContexts tls_contexts;
  client_common::Connected connected = co_await client_common::Connect(
      co_await asio::this_coro::executor, request, url, tls_contexts, deadline);
  if (!connected.connection) co_return connected.failure;
  co_return co_await connected.connection->Exchange(request, url, deadline, false);
}

}  // namespace

ClientResponse Fetch(const ClientRequest& request) {
  const std::optional<Url> url = ParseUrl(request.url);
  if (!url) return Failure(Transport::kError, false, "invalid URL");

  asio::io_context ioc(1);
  ClientResponse result = Failure(Transport::kError, false, "not completed");
  asio::co_spawn(ioc, FetchOnce(request, *url),
                 [&result](std::exception_ptr error, ClientResponse response) {
                   result = error ? client_common::FromException(error) : std::move(response);
                 });
  ioc.run();
  return result;
}

}  // namespace surveyd::http
