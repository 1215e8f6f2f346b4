// The HTTPS path of both clients (the one-shot Fetch of the alerts' webhook and the pool of the
// gateway adapters) against a local TLS peer with a CA of its own, made by the openssl command
// for each run: the right CA verifies, another CA or a name the certificate does not carry is
// refused before any request is written.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "surveyd/http/client.hpp"

namespace surveyd::http {
namespace {

using Transport = ClientResponse::Transport;

// A one-connection-at-a-time HTTPS server on 127.0.0.1:0 (plain OpenSSL, no Asio): reads one
// request, answers 201 with the request body echoed, closes.
class TlsPeer {
 public:
  TlsPeer(const std::string& cert_file, const std::string& key_file) {
    context_ = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(context_, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(context_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("TlsPeer: cannot load " + cert_file);
    }
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 8) != 0) {
      throw std::runtime_error("TlsPeer: cannot listen");
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TlsPeer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(context_);
  }

  std::uint16_t Port() const { return port_; }

  std::vector<std::string> Requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd waiting{listener_, POLLIN, 0};
      if (::poll(&waiting, 1, 50) <= 0) continue;
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      timeval timeout{5, 0};
      ::setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      SSL* ssl = SSL_new(context_);
      SSL_set_fd(ssl, connection);
      if (SSL_accept(ssl) == 1) Answer(ssl);  // a client that refused us is just closed
      SSL_free(ssl);
      ::close(connection);
    }
  }

  void Answer(SSL* ssl) {
    std::string request;
    char buffer[4096];
    std::size_t body_start = std::string::npos;
    std::size_t content_length = 0;
    while (true) {
      const int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
      if (body_start == std::string::npos) {
        const auto end = request.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        body_start = end + 4;
        const auto header = request.find("Content-Length: ");
        if (header != std::string::npos && header < end) {
          content_length = std::stoul(request.substr(header + 16));
        }
      }
      if (request.size() >= body_start + content_length) break;
    }
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    const std::string body = request.substr(body_start);
    const std::string answer =
        "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
    SSL_shutdown(ssl);
  }

  SSL_CTX* context_ = nullptr;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// Which client a test goes through: every check below holds for both.
enum class Caller { kFetch, kPool };

std::string CallerName(Caller caller) { return caller == Caller::kFetch ? "Fetch" : "Pool"; }
void PrintTo(Caller caller, std::ostream* out) { *out << CallerName(caller); }

class TlsClientTest : public ::testing::TestWithParam<Caller> {
 protected:
  // Two CAs; the server's certificate, from the first, names only "localhost".
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/surveyd-tls-XXXXXX";
    dir_ = mkdtemp(dir_template);
    const std::string script = R"(set -e
key="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj "/CN=surveyd test CA"
openssl req -x509 $key -keyout other.key -out other.pem -days 2 -subj "/CN=other CA"
openssl req $key -keyout server.key -out server.csr -subj "/CN=localhost"
printf "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile ext.cnf
)";
    std::ofstream(dir_ + "/make.sh") << script;
    made_ = std::system(("cd " + dir_ + " && bash make.sh >openssl.log 2>&1").c_str()) == 0;
  }

  static void TearDownTestSuite() { std::system(("rm -rf " + dir_).c_str()); }

  void SetUp() override {
    ASSERT_TRUE(made_) << "openssl could not make the test CA; see " << dir_ << "/openssl.log";
    peer_ = std::make_unique<TlsPeer>(dir_ + "/server.pem", dir_ + "/server.key");
  }

  ClientResponse Send(const ClientRequest& request) {
    if (GetParam() == Caller::kFetch) return Fetch(request);
    if (!pool_) pool_ = MakeClientPool();
    return pool_->Fetch(request);
  }

  ClientRequest Post(const std::string& host) const {
    ClientRequest request;
    request.method = "POST";
    request.url = "https://" + host + ":" + std::to_string(peer_->Port()) + "/v1/messages";
    request.headers = {{"Content-Type", "application/json"}};
    request.body = R"({"to":"+447700900123"})";
    request.timeout = std::chrono::seconds(5);
    request.ca_file = dir_ + "/ca.pem";
    return request;
  }

  static inline std::string dir_;
  static inline bool made_ = false;
  std::unique_ptr<TlsPeer> peer_;
  std::unique_ptr<ClientPool> pool_;
};

TEST_P(TlsClientTest, APostOverHttpsSucceedsWithTheRightCa) {
  const ClientResponse response = Send(Post("localhost"));
  ASSERT_EQ(response.transport, Transport::kOk) << response.error;
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, R"({"to":"+447700900123"})");
  const auto requests = peer_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].rfind("POST /v1/messages HTTP/1.1\r\n", 0), 0u) << requests[0];
  EXPECT_NE(requests[0].find("\r\nHost: localhost:"), std::string::npos) << requests[0];
}

TEST_P(TlsClientTest, AnotherCaIsRefusedBeforeTheRequestIsWritten) {
  ClientRequest request = Post("localhost");
  request.ca_file = dir_ + "/other.pem";
  const ClientResponse response = Send(request);
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_FALSE(response.request_sent) << "nothing was sent: a gateway send may be retried";
  EXPECT_NE(response.error.find("TLS handshake"), std::string::npos) << response.error;
  EXPECT_TRUE(peer_->Requests().empty());
}

TEST_P(TlsClientTest, TheSystemCasDoNotKnowOurs) {
  ClientRequest request = Post("localhost");
  request.ca_file.clear();
  EXPECT_EQ(Send(request).transport, Transport::kError);
  EXPECT_TRUE(peer_->Requests().empty());
}

TEST_P(TlsClientTest, ANameTheCertificateDoesNotCarryIsRefused) {
  const ClientResponse response = Send(Post("127.0.0.1"));  // the certificate names localhost
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_FALSE(response.request_sent);
  EXPECT_TRUE(peer_->Requests().empty());
}

TEST_P(TlsClientTest, AnUnreadableCaFileIsAnError) {
  ClientRequest request = Post("localhost");
  request.ca_file = dir_ + "/missing.pem";
  const ClientResponse response = Send(request);
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_NE(response.error.find("CA file"), std::string::npos) << response.error;
}

// --insecure in the simulators: no verification at all, so the mismatch above goes through.
TEST_P(TlsClientTest, WithoutVerificationTheMismatchGoesThrough) {
  ClientRequest request = Post("127.0.0.1");
  request.verify_tls = false;
  request.ca_file.clear();
  const ClientResponse response = Send(request);
  ASSERT_EQ(response.transport, Transport::kOk) << response.error;
  EXPECT_EQ(response.status, 201);
}

// The pool keeps one TLS context per set of TLS settings: a context made for one CA file (or
// without verification) must never verify a request that names another.
TEST_P(TlsClientTest, EachRequestIsVerifiedWithItsOwnSettings) {
  ClientRequest right = Post("localhost");
  ClientRequest other_ca = Post("localhost");
  other_ca.ca_file = dir_ + "/other.pem";
  ClientRequest unverified = Post("127.0.0.1");
  unverified.verify_tls = false;
  unverified.ca_file.clear();
  ClientRequest wrong_name = Post("127.0.0.1");

  EXPECT_EQ(Send(right).transport, Transport::kOk);
  EXPECT_EQ(Send(other_ca).transport, Transport::kError);
  EXPECT_EQ(Send(unverified).transport, Transport::kOk);
  EXPECT_EQ(Send(wrong_name).transport, Transport::kError);
  unverified.url = Post("localhost").url;
  EXPECT_EQ(Send(unverified).transport, Transport::kOk);
  EXPECT_EQ(Send(other_ca).transport, Transport::kError);
  EXPECT_EQ(peer_->Requests().size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(BothClients, TlsClientTest,
                         ::testing::Values(Caller::kFetch, Caller::kPool),
                         [](const ::testing::TestParamInfo<Caller>& caller) {
                           return CallerName(caller.param);
                         });

}  // namespace
}  // namespace surveyd::http
