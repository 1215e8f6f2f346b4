#include "surveyd/http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fakes/captured_log.hpp"
#include "surveyd/http/client.hpp"
#include "unit/http/raw_connection.hpp"

namespace surveyd::http {
namespace {

using surveyd::testing::RawConnection;
using surveyd::testing::RawResponse;

ServerOptions LoopbackOptions() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.worker_threads = 2;
  return options;
}

std::string Url(const Server& server, std::string_view target) {
  return "http://127.0.0.1:" + std::to_string(server.Port()) + std::string(target);
}

// Echoes what the handler saw, so the tests check the parsing as well as the transport.
Response Echo(const Request& request) {
  return Response::Text(200, request.method + "|" + request.path + "|" + request.query + "|" +
                                 std::string(request.Header("x-test")) + "|" +
                                 request.remote_address + "|" + request.body);
}

TEST(ServerTest, ServesGetWithPathQueryHeadersAndRemoteAddress) {
  auto server = MakeServer(LoopbackOptions(), Echo);
  server->Start();
  ASSERT_NE(server->Port(), 0);

  ClientRequest request;
  request.url = Url(*server, "/s/abc?x=1&y=2");
  request.headers = {{"X-Test", "hello"}};
  const ClientResponse response = Fetch(request);
  ASSERT_TRUE(response.Ok()) << response.error;
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "GET|/s/abc|x=1&y=2|hello|127.0.0.1|");
  EXPECT_EQ(response.Header("Server"), "surveyd");
  EXPECT_EQ(response.Header("Content-Length"), std::to_string(response.body.size()));
  EXPECT_EQ(response.Header("Content-Type"), "text/plain; charset=utf-8");
}

TEST(ServerTest, PassesThePostBodyToTheHandler) {
  auto server = MakeServer(LoopbackOptions(), Echo);
  server->Start();
  ClientRequest request;
  request.method = "POST";
  request.url = Url(*server, "/form");
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = "q1=9&comment=" + std::string(5000, 'a');
  const ClientResponse response = Fetch(request);
  ASSERT_TRUE(response.Ok()) << response.error;
  EXPECT_EQ(response.body, "POST|/form|||127.0.0.1|" + request.body);
}

TEST(ServerTest, PassesHandlerStatusAndHeadersThrough) {
  auto server = MakeServer(LoopbackOptions(), [](const Request&) {
    return Response::Json(201, R"({"ok":true})")
        .Set("Location", "/x/1")
        .Set("Content-Length", "99");
  });
  server->Start();
  ClientRequest request;
  request.url = Url(*server, "/");
  const ClientResponse response = Fetch(request);
  ASSERT_TRUE(response.Ok()) << response.error;
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, R"({"ok":true})");
  EXPECT_EQ(response.Header("Location"), "/x/1");
  // The server frames the body itself, whatever the handler claims.
  EXPECT_EQ(response.Header("Content-Length"), "11");
}

TEST(ServerTest, KeepsTheConnectionAliveBetweenRequests) {
  std::atomic<int> calls{0};
  auto server = MakeServer(LoopbackOptions(), [&calls](const Request& request) {
    ++calls;
    return Response::Text(200, "you asked for " + request.path);
  });
  server->Start();
  RawConnection connection(server->Port());
  ASSERT_TRUE(connection.Send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = connection.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "you asked for /one");
  ASSERT_TRUE(connection.Send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = connection.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "you asked for /two");
  EXPECT_EQ(calls, 2);
}

TEST(ServerTest, ClosesAfterAnsweringWhenTheClientAsksForIt) {
  auto server = MakeServer(LoopbackOptions(), Echo);
  server->Start();
  RawConnection connection(server->Port());
  ASSERT_TRUE(connection.Send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto response = connection.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->headers["connection"], "close");
  EXPECT_TRUE(connection.Closed());
}

TEST(ServerTest, AnswersHeadWithoutTheBodyAndTellsTheHandlerItIsHead) {
  std::vector<std::string> methods;
  std::mutex mutex;
  auto server = MakeServer(LoopbackOptions(), [&](const Request& request) {
    {
      std::lock_guard lock(mutex);
      methods.push_back(request.method);
    }
    if (request.method != "GET" && request.method != "HEAD") return Response::Text(405, "");
    return Response::Html(200, "<p>hello</p>");
  });
  server->Start();
  RawConnection connection(server->Port());
  ASSERT_TRUE(connection.Send("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = connection.Read(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-length"], "12");
  EXPECT_EQ(head->headers["content-type"], "text/html; charset=utf-8");
  // Had the server sent the body after the HEAD answer, this would read it as a status line.
  ASSERT_TRUE(connection.Send("GET /page HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto get = connection.Read();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "<p>hello</p>");
  // A handler must be able to keep a HEAD free of side effects (a HEAD never opens a survey).
  std::lock_guard lock(mutex);
  EXPECT_EQ(methods, (std::vector<std::string>{"HEAD", "GET"}));
}

// Holds every worker until released, so tests can show what still gets through.
class StuckWorkers {
 public:
  Response Handle(const Request&) {
    std::unique_lock lock(mutex_);
    ++inside_;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
    return Response::Text(200, "slow");
  }
  bool WaitUntilInside(int count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return inside_ >= count; });
  }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool released_ = false;
};

TEST(ServerTest, TheFastHandlerAnswersWhileEveryWorkerIsStuck) {
  StuckWorkers stuck;
  std::atomic<int> fast_calls{0};
  auto server = MakeServer(
      LoopbackOptions(), [&](const Request& request) { return stuck.Handle(request); },
      [&](const Request& request) -> std::optional<Response> {
        ++fast_calls;
        if (request.path == "/healthz") return Response::Text(200, "alive");
        return std::nullopt;
      });
  server->Start();
  // Both workers (LoopbackOptions has two) block; a third pooled request queues behind them.
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 3; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server->Port()));
    ASSERT_TRUE(slow.back()->Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  ASSERT_TRUE(stuck.WaitUntilInside(2));

  const auto started = std::chrono::steady_clock::now();
  RawConnection health(server->Port());
  ASSERT_TRUE(health.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto alive = health.Read();
  ASSERT_TRUE(alive.has_value());
  EXPECT_EQ(alive->status, 200);
  EXPECT_EQ(alive->body, "alive");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  // HEAD too, on the same connection, without a body.
  ASSERT_TRUE(health.Send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = health.Read(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-length"], "5");

  stuck.Release();
  for (auto& connection : slow) {
    auto answer = connection->Read();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->body, "slow");
  }
  const ServerStatus status = server->Status();
  EXPECT_EQ(status.fast_answers, 2u);
  EXPECT_EQ(status.pooled_answers, 3u);
  EXPECT_EQ(fast_calls, 5);
}

TEST(ServerTest, AFastHandlerExceptionIsAGeneric500) {
  auto server =
      MakeServer(LoopbackOptions(), Echo, [](const Request& request) -> std::optional<Response> {
        if (request.path == "/boom") throw std::runtime_error("detail +447700900123");
        return std::nullopt;
      });
  server->Start();
  RawConnection connection(server->Port());
  ASSERT_TRUE(connection.Send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto failed = connection.Read();
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body.find("detail"), std::string::npos);
  ASSERT_TRUE(connection.Send("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto fine = connection.Read();
  ASSERT_TRUE(fine.has_value());
  EXPECT_EQ(fine->status, 200);
}

// What the log says of a handler that failed: neither a survey's token (its path) nor a number
// the exception quoted, however it was written.
TEST(ServerTest, AFailedHandlerLogsNoTokenNorNumber) {
  testing::CapturedLog log;
  auto server = MakeServer(
      LoopbackOptions(),
      [](const Request&) -> Response {
        throw std::runtime_error("bad +44 7700 900123 (07700-900-123)");
      },
      [](const Request& request) -> std::optional<Response> {
        if (request.path.rfind("/s/", 0) == 0) throw std::runtime_error("detail 447700900123");
        return std::nullopt;
      });
  server->Start();
  RawConnection connection(server->Port());
  for (const char* target : {"/s/AbCdEfGhIjKlMnOpQrStUv", "/api/v1/stats"}) {
    ASSERT_TRUE(connection.Send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto answer = connection.Read();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 500);
  }
  server->Stop();
  const std::string said = log.Take();
  EXPECT_EQ(said.find("AbCdEfGh"), std::string::npos) << said;
  EXPECT_EQ(said.find("7700"), std::string::npos) << said;
  EXPECT_NE(said.find("GET /s/{token} failed: detail #######"), std::string::npos) << said;
  EXPECT_NE(said.find("GET /api/v1/stats failed: bad +#######)"), std::string::npos) << said;
}

// A request on `connection` is answered as one past a connection cap is: 503, Retry-After: 2,
// and the connection closed.
void ExpectRefusedOverCap(RawConnection& connection) {
  connection.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto refused = connection.Read();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->headers["retry-after"], "2");
  EXPECT_EQ(refused->headers["connection"], "close");
  EXPECT_TRUE(connection.Closed());
}

TEST(ServerTest, PastTheConnectionCapAnswers503WithRetryAfterAndCloses) {
  ServerOptions options = LoopbackOptions();
  options.max_connections = 2;
  std::atomic<int> calls{0};
  auto server = MakeServer(options, [&calls](const Request&) {
    ++calls;
    return Response::Text(200, "ok");
  });
  server->Start();
  // Two clients hold their connections (one idle, one between requests).
  RawConnection first(server->Port());
  RawConnection second(server->Port());
  ASSERT_TRUE(second.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.Read().has_value());
  for (int attempt = 0; attempt < 50 && server->Status().open_connections < 2; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(server->Status().open_connections, 2u);

  const int before = calls;
  RawConnection third(server->Port());
  ExpectRefusedOverCap(third);
  EXPECT_EQ(calls, before) << "a refused connection's request is never handled";
  EXPECT_EQ(server->Status().refused_over_cap, 1u);
  EXPECT_EQ(server->Status().peak_connections, 2u);

  // The held connections still work; once one goes, a new client is served again.
  ASSERT_TRUE(second.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto still = second.Read();
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->status, 200);
  EXPECT_TRUE(second.Closed());
  std::optional<RawResponse> served;
  for (int attempt = 0; attempt < 50; ++attempt) {
    RawConnection fourth(server->Port());
    fourth.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    served = fourth.Read();
    if (served && served->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the close is still in flight
  }
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->status, 200);
  EXPECT_LE(server->Status().peak_connections, 2u);
}

TEST(ServerTest, ManyClientsPastTheCapNeverHoldMoreThanTheCap) {
  ServerOptions options = LoopbackOptions();
  options.max_connections = 4;
  auto server = MakeServer(options, Echo);
  server->Start();
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(std::make_unique<RawConnection>(server->Port()));
  int served = 0;
  int refused = 0;
  for (auto& client : clients) {
    client->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto response = client->Read();
    ASSERT_TRUE(response.has_value());
    (response->status == 200 ? served : refused) += 1;
  }
  EXPECT_EQ(served, 4);
  EXPECT_EQ(refused, 36);
  EXPECT_EQ(server->Status().peak_connections, 4u);
}

// Waits (up to 5 s) until `done` holds of the server's status.
template <typename Condition>
bool WaitForStatus(const Server& server, Condition done) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    if (done(server.Status())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done(server.Status());
}

// A request on `connection`, kept alive; its status (0: no answer).
int Get(RawConnection& connection) {
  if (!connection.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) return 0;
  const auto answer = connection.Read();
  return answer ? answer->status : 0;
}

TEST(ServerTest, PastItsOwnCapAClientIsRefusedWhileAnotherIsServed) {
  ServerOptions options = LoopbackOptions();
  options.max_connections = 10;
  options.max_connections_per_client = 2;
  std::atomic<int> calls{0};
  auto server = MakeServer(options, [&calls](const Request&) {
    ++calls;
    return Response::Text(200, "ok");
  });
  server->Start();
  RawConnection first(server->Port(), "127.0.0.1");
  RawConnection second(server->Port(), "127.0.0.1");
  ASSERT_EQ(Get(first), 200);
  ASSERT_EQ(Get(second), 200);

  // Loopback is a client like any other unless it is a trusted proxy.
  testing::CapturedLog log;
  const int before = calls;
  RawConnection third(server->Port(), "127.0.0.1");
  ExpectRefusedOverCap(third);
  EXPECT_EQ(calls, before) << "a refused connection's request is never handled";

  // Another address is another client, served while the first is at its cap.
  RawConnection other(server->Port(), "127.0.0.2");
  EXPECT_EQ(Get(other), 200);
  RawConnection other_again(server->Port(), "127.0.0.2");
  EXPECT_EQ(Get(other_again), 200);
  EXPECT_EQ(Get(first), 200) << "the capped client's own connections still work";

  const ServerStatus status = server->Status();
  EXPECT_EQ(status.refused_over_client_cap, 1u);
  EXPECT_EQ(status.refused_over_cap, 0u);
  EXPECT_EQ(status.open_connections, 4u);
  EXPECT_EQ(status.clients, 2u);
  // Said, for the operator whose proxy is not listed as trusted, without the client's address.
  const std::string said = log.Text();
  EXPECT_NE(
      said.find("warning http: 1 connection(s) refused since the last such warning because their "
                "client had 2 open"),
      std::string::npos)
      << said;
  EXPECT_NE(said.find("http.trusted_proxies"), std::string::npos) << said;
  EXPECT_EQ(said.find("127.0.0."), std::string::npos) << said;
}

TEST(ServerTest, TrustedProxiesAreNotCappedAsClients) {
  ServerOptions options = LoopbackOptions();
  options.max_connections = 20;
  options.max_connections_per_client = 2;
  options.trusted_proxies = {"10.0.0.0/8", "127.0.0.1"};
  auto server = MakeServer(options, Echo);
  server->Start();
  // Every citizen behind the proxy comes through it: more than the cap, all served.
  std::vector<std::unique_ptr<RawConnection>> through_proxy;
  for (int i = 0; i < 6; ++i) {
    through_proxy.push_back(std::make_unique<RawConnection>(server->Port(), "127.0.0.1"));
    EXPECT_EQ(Get(*through_proxy.back()), 200) << "connection " << i;
  }
  // The proxy's neighbour is not trusted, and is capped.
  RawConnection first(server->Port(), "127.0.0.3");
  RawConnection second(server->Port(), "127.0.0.3");
  RawConnection third(server->Port(), "127.0.0.3");
  EXPECT_EQ(Get(first), 200);
  EXPECT_EQ(Get(second), 200);
  EXPECT_EQ(Get(third), 503);

  const ServerStatus status = server->Status();
  EXPECT_EQ(status.refused_over_client_cap, 1u);
  EXPECT_EQ(status.open_connections, 8u);
  EXPECT_EQ(status.clients, 1u) << "the proxy is in no client's count";
}

TEST(ServerTest, AClientsConnectionsAreGivenBackHoweverTheyEnd) {
  ServerOptions options = LoopbackOptions();
  options.max_connections = 10;
  options.max_connections_per_client = 3;
  options.read_timeout = std::chrono::seconds(1);
  auto server = MakeServer(options, Echo);
  server->Start();
  auto all_given_back = [](const ServerStatus& s) {
    return s.open_connections == 0 && s.clients == 0;
  };
  {
    RawConnection served(server->Port(), "127.0.0.4");  // answered, then closed as it asks
    RawConnection unreadable(server->Port(), "127.0.0.4");
    RawConnection reset(server->Port(), "127.0.0.4");
    ASSERT_TRUE(WaitForStatus(
        *server, [](const ServerStatus& s) { return s.open_connections == 3 && s.clients == 1; }));
    RawConnection over(server->Port(), "127.0.0.4");
    EXPECT_EQ(Get(over), 503);

    ASSERT_TRUE(served.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(served.Read().has_value());
    ASSERT_TRUE(unreadable.Send("NOT HTTP AT ALL\r\n\r\n"));
    const auto bad = unreadable.Read();
    ASSERT_TRUE(bad.has_value());
    EXPECT_EQ(bad->status, 400);
    ASSERT_TRUE(reset.Send("GET / HTTP/1.1\r\nHost:"));
    reset.Reset();
    ASSERT_TRUE(WaitForStatus(*server, all_given_back))
        << "open " << server->Status().open_connections << ", clients " << server->Status().clients;

    // One that never says anything is ended by read_timeout.
    RawConnection quiet(server->Port(), "127.0.0.4");
    ASSERT_TRUE(WaitForStatus(*server, [](const ServerStatus& s) { return s.clients == 1; }));
    ASSERT_TRUE(WaitForStatus(*server, all_given_back));
    EXPECT_TRUE(quiet.Closed());
  }
  // All given back: the client has its whole cap again, and no more.
  std::vector<std::unique_ptr<RawConnection>> again;
  for (int i = 0; i < 3; ++i) {
    again.push_back(std::make_unique<RawConnection>(server->Port(), "127.0.0.4"));
    EXPECT_EQ(Get(*again.back()), 200) << "connection " << i;
  }
  RawConnection over(server->Port(), "127.0.0.4");
  EXPECT_EQ(Get(over), 503);
  EXPECT_EQ(server->Status().refused_over_client_cap, 2u);
  server->Stop();
  EXPECT_EQ(server->Status().clients, 0u) << "Stop gives back what it closes";
}

TEST(ServerTest, RefusesATooLargeBodyWith413AndCloses) {
  ServerOptions options = LoopbackOptions();
  options.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = MakeServer(options, [&calls](const Request&) {
    ++calls;
    return Response::Text(200, "ok");
  });
  server->Start();

  RawConnection connection(server->Port());
  connection.Send("POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" +
                  std::string(4096, 'x'));
  auto response = connection.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->headers["server"], "surveyd");
  EXPECT_TRUE(connection.Closed());
  EXPECT_EQ(calls, 0);

  // A body at the limit is still fine.
  ClientRequest request;
  request.method = "POST";
  request.url = Url(*server, "/form");
  request.body = std::string(1024, 'y');
  const ClientResponse ok = Fetch(request);
  ASSERT_TRUE(ok.Ok()) << ok.error;
  EXPECT_EQ(ok.status, 200);
}

TEST(ServerTest, RefusesTooLargeHeadersWith431AndCloses) {
  ServerOptions options = LoopbackOptions();
  options.max_header_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = MakeServer(options, [&calls](const Request&) {
    ++calls;
    return Response::Text(200, "ok");
  });
  server->Start();

  RawConnection connection(server->Port());
  connection.Send("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + std::string(4000, 'c') + "\r\n\r\n");
  auto response = connection.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_TRUE(connection.Closed());
  EXPECT_EQ(calls, 0);
}

TEST(ServerTest, AnswersGarbageWith400) {
  auto server = MakeServer(LoopbackOptions(), Echo);
  server->Start();
  RawConnection connection(server->Port());
  connection.Send("NOT HTTP AT ALL\r\n\r\n");
  auto response = connection.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(connection.Closed());
}

// Request smuggling: each request whose body's end two readers could see differently is refused
// and its connection closed, so that nothing after it is taken for a second request.
TEST(ServerTest, RefusesAmbiguousBodyFramingAndCloses) {
  std::atomic<int> handled{0};
  auto server = MakeServer(LoopbackOptions(), [&](const Request& request) {
    ++handled;
    return Echo(request);
  });
  server->Start();
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  const struct {
    const char* name;
    std::string request;
    int status;
  } cases[] = {
      {"two different Content-Lengths",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 0\r\n\r\nhello", 400},
      {"Content-Length with chunked",
       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n" +
           smuggled,
       400},
      {"an unknown transfer coding",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + smuggled,
       501},
      {"chunked not last",
       "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" +
           smuggled,
       501},
      // HTTP/1.0 has no transfer codings (RFC 9112 6.1): a proxy reading it as 1.0 would take
      // the chunks, and what follows them, for one body.
      {"chunked in HTTP/1.0",
       "POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n" +
           smuggled,
       400},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RawConnection connection(server->Port());
    connection.Send(c.request);
    auto response = connection.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, c.status);
    EXPECT_TRUE(connection.Closed());
  }
  EXPECT_EQ(handled.load(), 0);
}

TEST(ServerTest, TurnsAHandlerExceptionIntoAGeneric500AndKeepsServing) {
  auto server = MakeServer(LoopbackOptions(), [](const Request& request) -> Response {
    if (request.path == "/boom") throw std::runtime_error("secret detail +447700900123");
    return Response::Text(200, "fine");
  });
  server->Start();
  ClientRequest request;
  request.url = Url(*server, "/boom?token=abc");
  const ClientResponse failed = Fetch(request);
  ASSERT_TRUE(failed.Ok()) << failed.error;
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.body.find("secret"), std::string::npos);
  EXPECT_EQ(failed.Header("Content-Length"), std::to_string(failed.body.size()));

  request.url = Url(*server, "/ok");
  const ClientResponse fine = Fetch(request);
  ASSERT_TRUE(fine.Ok()) << fine.error;
  EXPECT_EQ(fine.body, "fine");
}

TEST(ServerTest, NoAnswerResetsTheConnectionWithoutWritingAndKeepsServing) {
  auto server = MakeServer(LoopbackOptions(), [](const Request& request) {
    if (request.path == "/taken") return Response{kNoAnswer, {}, {}};
    return Response::Text(200, "fine");
  });
  server->Start();
  RawConnection connection(server->Port());
  ASSERT_TRUE(connection.Send("POST /taken HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"));
  EXPECT_FALSE(connection.Read().has_value());  // nothing written at all
  EXPECT_TRUE(connection.Closed());             // and closed, not left open until a timeout

  ClientRequest request;
  request.url = Url(*server, "/ok");
  const ClientResponse fine = Fetch(request);
  ASSERT_TRUE(fine.Ok()) << fine.error;
  EXPECT_EQ(fine.body, "fine");
}

TEST(ServerTest, RunsHandlersConcurrentlyOnTheWorkerPool) {
  // Each handler waits until both are inside: with a single thread this would time out.
  std::mutex mutex;
  std::condition_variable cv;
  int inside = 0;
  auto server = MakeServer(LoopbackOptions(), [&](const Request&) {
    std::unique_lock lock(mutex);
    ++inside;
    cv.notify_all();
    const bool both = cv.wait_for(lock, std::chrono::seconds(5), [&] { return inside >= 2; });
    return Response::Text(200, both ? "together" : "alone");
  });
  server->Start();
  ClientRequest request;
  request.url = Url(*server, "/");
  auto first = std::async(std::launch::async, [&] { return Fetch(request); });
  auto second = std::async(std::launch::async, [&] { return Fetch(request); });
  EXPECT_EQ(first.get().body, "together");
  EXPECT_EQ(second.get().body, "together");
}

TEST(ServerTest, StartThrowsWithHostAndPortWhenThePortIsTaken) {
  auto first = MakeServer(LoopbackOptions(), Echo);
  first->Start();
  ServerOptions options = LoopbackOptions();
  options.port = first->Port();
  auto second = MakeServer(options, Echo);
  try {
    second->Start();
    FAIL() << "Start() should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(options.port)),
              std::string::npos)
        << e.what();
  }
}

TEST(ServerTest, StopClosesIdleConnectionsAndIsSafeToRepeat) {
  auto server = MakeServer(LoopbackOptions(), Echo);
  server->Start();
  const std::uint16_t port = server->Port();
  RawConnection idle(port);
  ASSERT_TRUE(idle.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.Read().has_value());

  server->Stop();
  EXPECT_TRUE(idle.Closed());
  server->Stop();

  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  request.timeout = std::chrono::milliseconds(2000);
  EXPECT_EQ(Fetch(request).transport, ClientResponse::Transport::kConnectFailed);
}

TEST(ServerTest, StopLetsARequestInFlightFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  auto release_future = release.get_future().share();
  auto server = MakeServer(LoopbackOptions(), [&](const Request&) {
    entered.set_value();
    release_future.wait_for(std::chrono::seconds(5));
    return Response::Text(200, "finished");
  });
  server->Start();
  ClientRequest request;
  request.url = Url(*server, "/slow");
  auto response = std::async(std::launch::async, [&] { return Fetch(request); });
  entered.get_future().wait();
  std::thread stopper([&] { server->Stop(); });
  release.set_value();
  stopper.join();
  const ClientResponse answered = response.get();
  ASSERT_TRUE(answered.Ok()) << answered.error;
  EXPECT_EQ(answered.body, "finished");
}

TEST(ServerTest, DestroyingWithoutStartOrStopIsFine) {
  auto never_started = MakeServer(LoopbackOptions(), Echo);
  auto running = MakeServer(LoopbackOptions(), Echo);
  running->Start();
}

}  // namespace
}  // namespace surveyd::http
