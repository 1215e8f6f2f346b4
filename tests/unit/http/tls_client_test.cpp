// The HTTPS path of both clients (the one-shot Fetch of the alerts' webhook and the pool of the
// gateway adapters) against a local TLS peer with a CA of its own (fakes/test_ca.hpp): the right
// CA verifies, another CA or a name the certificate does not carry is refused before any request
// is written.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fakes/test_ca.hpp"
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
  static void SetUpTestSuite() { ca_ = std::make_unique<testing::TestCa>(); }
  static void TearDownTestSuite() { ca_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(ca_->Made()) << ca_->Problem();
    peer_ = std::make_unique<TlsPeer>(ca_->CertFile(), ca_->KeyFile());
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
    request.ca_file = ca_->CaFile();
    return request;
  }

  static inline std::unique_ptr<testing::TestCa> ca_;
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
  request.ca_file = ca_->OtherCaFile();
  const ClientResponse response = Send(request);
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_FALSE(response.request_sent) << "nothing was sent: a gateway send may be retried";
  // OpenSSL's reason and the CAs tried: what the log says to whoever must put it right.
  EXPECT_NE(response.error.find("TLS handshake: certificate verify failed (unable to get local "
                                "issuer certificate; trusted: " +
                                ca_->OtherCaFile() + ")"),
            std::string::npos)
      << response.error;
  EXPECT_TRUE(peer_->Requests().empty());
}

TEST_P(TlsClientTest, TheSystemCasDoNotKnowOurs) {
  ClientRequest request = Post("localhost");
  request.ca_file.clear();
  const ClientResponse response = Send(request);
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_NE(response.error.find("trusted: the system's CAs"), std::string::npos) << response.error;
  EXPECT_TRUE(peer_->Requests().empty());
}

TEST_P(TlsClientTest, ANameTheCertificateDoesNotCarryIsRefused) {
  const ClientResponse response = Send(Post("127.0.0.1"));  // the certificate names localhost
  EXPECT_EQ(response.transport, Transport::kError);
  EXPECT_FALSE(response.request_sent);
  EXPECT_NE(response.error.find("(IP address mismatch: the certificate does not name 127.0.0.1)"),
            std::string::npos)
      << response.error;
  EXPECT_TRUE(peer_->Requests().empty());
}

TEST_P(TlsClientTest, AnUnreadableCaFileIsAnError) {
  ClientRequest request = Post("localhost");
  request.ca_file = ca_->Dir() + "/missing.pem";
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
  other_ca.ca_file = ca_->OtherCaFile();
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

// The force renews its CA: the file is replaced where it was, and the next connection trusts the
// new one, without a restart (the pool keeps a context per CA file, made once).
TEST_P(TlsClientTest, ACaFileReplacedIsReadAgain) {
  const std::string path = ca_->Dir() + "/renewed-" + CallerName(GetParam()) + ".pem";
  std::filesystem::copy_file(ca_->OtherCaFile(), path,
                             std::filesystem::copy_options::overwrite_existing);
  ClientRequest request = Post("localhost");
  request.ca_file = path;
  EXPECT_EQ(Send(request).transport, Transport::kError) << "the old CA signs nothing of the peer's";
  std::filesystem::copy_file(ca_->CaFile(), path,
                             std::filesystem::copy_options::overwrite_existing);
  const ClientResponse renewed = Send(request);
  EXPECT_EQ(renewed.transport, Transport::kOk) << renewed.error;
  EXPECT_EQ(peer_->Requests().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(BothClients, TlsClientTest,
                         ::testing::Values(Caller::kFetch, Caller::kPool),
                         [](const ::testing::TestParamInfo<Caller>& caller) {
                           return CallerName(caller.param);
                         });

}  // namespace
}  // namespace surveyd::http
