#include "surveyd/http/client.hpp"

#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "surveyd/http/server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace surveyd::http {
namespace {

using Transport = ClientResponse::Transport;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    options.worker_threads = 2;
    server_ = MakeServer(options, [this](const Request& request) { return Handle(request); });
    server_->Start();
  }

  void TearDown() override {
    release_.set_value();
    server_->Stop();
  }

  Response Handle(const Request& request) {
    {
      std::lock_guard lock(mutex_);
      last_ = request;
    }
    if (request.path.rfind("/status/", 0) == 0) {
      const int status = std::stoi(request.path.substr(8));
      return Response::Text(status, "status " + std::to_string(status)).Set("X-Reply", "yes");
    }
    if (request.path == "/slow") {
      // Held until the test ends, long after the client gave up.
      release_future_.wait_for(std::chrono::seconds(10));
      return Response::Text(200, "late");
    }
    return Response::Text(200, "ok");
  }

  Request Last() {
    std::lock_guard lock(mutex_);
    return last_;
  }

  std::string Url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(server_->Port()) + std::string(target);
  }

  std::unique_ptr<Server> server_;
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
  std::mutex mutex_;
  Request last_;
};

TEST_F(ClientTest, ReturnsAnyHttpStatusAsATransportSuccess) {
  for (int status : {200, 201, 204, 400, 404, 409, 429, 500, 503}) {
    ClientRequest request;
    request.url = Url("/status/" + std::to_string(status));
    const ClientResponse response = Fetch(request);
    ASSERT_EQ(response.transport, Transport::kOk) << status << ": " << response.error;
    EXPECT_TRUE(response.Ok());
    EXPECT_TRUE(response.request_sent);
    EXPECT_EQ(response.status, status);
    EXPECT_EQ(response.Header("x-reply"), "yes");
    EXPECT_EQ(response.body, status == 204 ? "" : "status " + std::to_string(status));
  }
}

TEST_F(ClientTest, SendsHostUserAgentContentLengthAndTheCallersHeaders) {
  ClientRequest request;
  request.method = "POST";
  request.url = Url("/v1/messages?x=1");
  request.headers = {{"Authorization", "Bearer k"}, {"Content-Type", "application/json"}};
  request.body = R"({"a":1})";
  const ClientResponse response = Fetch(request);
  ASSERT_TRUE(response.Ok()) << response.error;
  const Request seen = Last();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/v1/messages?x=1");
  EXPECT_EQ(seen.Header("Host"), "127.0.0.1:" + std::to_string(server_->Port()));
  EXPECT_EQ(seen.Header("User-Agent"), "surveyd");
  EXPECT_EQ(seen.Header("Content-Length"), "7");
  EXPECT_EQ(seen.Header("Authorization"), "Bearer k");
  EXPECT_EQ(seen.Header("Content-Type"), "application/json");
  EXPECT_EQ(seen.body, R"({"a":1})");
}

TEST_F(ClientTest, SendsAnEmptyPostWithContentLengthZero) {
  ClientRequest request;
  request.method = "POST";
  request.url = Url("/empty");
  ASSERT_TRUE(Fetch(request).Ok());
  EXPECT_EQ(Last().Header("Content-Length"), "0");
}

TEST_F(ClientTest, HeadReadsTheHeadersWithoutWaitingForABody) {
  ClientRequest request;
  request.method = "HEAD";
  request.url = Url("/status/200");
  request.timeout = std::chrono::milliseconds(5000);
  const ClientResponse response = Fetch(request);
  ASSERT_TRUE(response.Ok()) << response.error;
  EXPECT_EQ(response.Header("Content-Length"), "10");
  EXPECT_EQ(response.body, "");
}

TEST_F(ClientTest, ReportsATimeoutAfterTheRequestWasSent) {
  ClientRequest request;
  request.method = "POST";
  request.url = Url("/slow");
  request.body = "{}";
  request.timeout = std::chrono::milliseconds(200);
  const ClientResponse response = Fetch(request);
  EXPECT_EQ(response.transport, Transport::kTimeoutAfterSend);
  EXPECT_TRUE(response.request_sent);
  EXPECT_FALSE(response.Ok());
  EXPECT_FALSE(response.error.empty());
}

TEST(ClientTransportTest, ReportsATimeoutBeforeSendWhenTheServerNeverReads) {
  // A socket that listens but never accepts nor reads: the kernel takes the connection and a
  // little data, then the rest of a large body cannot be written.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);

  ClientRequest request;
  request.method = "POST";
  request.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";
  request.body = std::string(64 * 1024 * 1024, 'x');
  request.timeout = std::chrono::milliseconds(300);
  const ClientResponse response = Fetch(request);
  ::close(listener);
  EXPECT_EQ(response.transport, Transport::kTimeoutBeforeSend) << response.error;
  EXPECT_FALSE(response.request_sent);
}

TEST(ClientTransportTest, ReportsConnectionRefused) {
  // Bind a port, then free it: nothing listens there.
  const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(probe);

  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";
  request.timeout = std::chrono::milliseconds(2000);
  const ClientResponse response = Fetch(request);
  EXPECT_EQ(response.transport, Transport::kConnectFailed) << response.error;
  EXPECT_FALSE(response.request_sent);
  EXPECT_FALSE(response.error.empty());
}

TEST(ClientTransportTest, RejectsAnUnusableUrlWithoutConnecting) {
  ClientRequest request;
  request.url = "ftp://127.0.0.1/";
  const ClientResponse response = Fetch(request);
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_FALSE(response.request_sent);
}

TEST(ClientTransportTest, ReportsAnErrorAfterSendWhenTheServerHangsUp) {
  // A server that reads the request and closes without answering: the request went out.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  auto hang_up = std::async(std::launch::async, [listener] {
    const int peer = ::accept(listener, nullptr, nullptr);
    char buffer[4096];
    std::string seen;
    while (seen.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(peer, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      seen.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(peer);
  });
  ClientRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";
  request.timeout = std::chrono::milliseconds(5000);
  const ClientResponse response = Fetch(request);
  hang_up.get();
  ::close(listener);
  EXPECT_EQ(response.transport, Transport::kError) << response.error;
  EXPECT_TRUE(response.request_sent);
}

}  // namespace
}  // namespace surveyd::http
