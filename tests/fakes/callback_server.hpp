#pragma once
// A loopback HTTP server on port 0 for the adapters' tests: it answers each request with the
// handler given (by default a scripted answer) and remembers what it got.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/http/server.hpp"

namespace surveyd::testing {

class RecordingServer {
 public:
  explicit RecordingServer(http::Handler handler = {});
  // Over HTTPS, with this certificate (PEM) and key: a certificate for "localhost", as
  // TestCa's (fakes/test_ca.hpp) is.
  RecordingServer(http::Handler handler, const std::string& tls_cert_file,
                  const std::string& tls_key_file);
  ~RecordingServer();

  std::string BaseUrl() const;  // "http://127.0.0.1:PORT", or "https://localhost:PORT"
  // The answer of the default handler.
  void Reply(int status, std::string body, http::Headers headers = {});
  // Holds every answer until Release() (or the end of the test): the client times out after
  // sending.
  void HoldAnswers();
  void Release();

  std::vector<http::Request> Requests() const;
  // Waits until `count` requests arrived; false on timeout.
  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  http::Response Handle(const http::Request& request);

  http::Handler handler_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<http::Request> requests_;
  http::Response reply_ = http::Response::Text(200, "");
  bool hold_ = false;
  bool released_ = false;
  std::condition_variable released_cv_;
  bool tls_ = false;
  std::unique_ptr<http::Server> server_;
};

// Plays the service's side of the callbacks for one adapter: each request to
// CallbackPath(adapter->Name(), kind) is verified and read by the adapter (at the time `now`
// returns) and answered as the adapter says. The adapter is given after the receiver has its
// port, since the adapter needs the receiver's URL.
class CallbackReceiver {
 public:
  explicit CallbackReceiver(std::function<TimePoint()> now);

  void Use(const gateway::Gateway* adapter);
  std::string BaseUrl() const { return server_.BaseUrl(); }
  std::vector<gateway::Callback> Callbacks() const;
  std::vector<http::Response> Answers() const;
  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return server_.WaitFor(count, timeout);
  }

 private:
  http::Response Handle(const http::Request& request);

  std::function<TimePoint()> now_;
  const gateway::Gateway* adapter_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<gateway::Callback> callbacks_;
  std::vector<http::Response> answers_;
  RecordingServer server_;  // last: its threads use the members above
};

}  // namespace surveyd::testing
