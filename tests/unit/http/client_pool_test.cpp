// The kept-alive pool against a loopback server: what the gateway adapters rely on beyond what
// the one-shot client's tests (client_test.cpp) and the TLS tests (tls_client_test.cpp) cover.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "surveyd/http/client.hpp"
#include "surveyd/http/server.hpp"

namespace surveyd::http {
namespace {

using Transport = ClientResponse::Transport;

class ClientPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.port = 0;
    server_ = MakeServer(options, [](const Request&) { return Response::Text(200, "ok"); });
    server_->Start();
  }

  void TearDown() override { server_->Stop(); }

  ClientRequest Get() const {
    ClientRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(server_->Port()) + "/";
    request.timeout = std::chrono::milliseconds(2000);
    return request;
  }

  std::unique_ptr<Server> server_;
};

// A request Beast cannot even build (a header value over 64 KiB) throws inside the pool: its
// connection slot must come back, or every such request would shrink the pool for good until
// each send waited out its timeout for a slot that never frees.
TEST_F(ClientPoolTest, ARequestThatFailsByAnExceptionGivesBackItsSlot) {
  const auto pool = MakeClientPool({.max_in_flight = 1});
  ClientRequest unbuildable = Get();
  unbuildable.headers = {{"X-Large", std::string(70'000, 'x')}};
  EXPECT_EQ(pool->Fetch(unbuildable).transport, Transport::kError);

  const ClientResponse response = pool->Fetch(Get());
  EXPECT_EQ(response.transport, Transport::kOk) << response.error;
  EXPECT_EQ(response.status, 200);
}

}  // namespace
}  // namespace surveyd::http
