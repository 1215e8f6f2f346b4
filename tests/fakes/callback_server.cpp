#include "fakes/callback_server.hpp"

namespace surveyd::testing {

RecordingServer::RecordingServer(http::Handler handler)
    : RecordingServer(std::move(handler), "", "") {}

RecordingServer::RecordingServer(http::Handler handler, const std::string& tls_cert_file,
                                 const std::string& tls_key_file)
    : handler_(std::move(handler)), tls_(!tls_cert_file.empty()) {
  http::ServerOptions options;
  options.port = 0;
  options.worker_threads = 4;
  options.tls_cert_file = tls_cert_file;
  options.tls_key_file = tls_key_file;
  server_ =
      http::MakeServer(options, [this](const http::Request& request) { return Handle(request); });
  server_->Start();
}

RecordingServer::~RecordingServer() {
  Release();
  server_->Stop();
}

std::string RecordingServer::BaseUrl() const {
  // The name the certificate carries; the server listens on 127.0.0.1, where it leads.
  return (tls_ ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(server_->Port());
}

void RecordingServer::Reply(int status, std::string body, http::Headers headers) {
  std::lock_guard lock(mutex_);
  reply_ = http::Response::Text(status, std::move(body));
  for (auto& [name, value] : headers) reply_.Set(name, value);
}

void RecordingServer::HoldAnswers() {
  std::lock_guard lock(mutex_);
  hold_ = true;
}

void RecordingServer::Release() {
  {
    std::lock_guard lock(mutex_);
    released_ = true;
  }
  released_cv_.notify_all();
}

std::vector<http::Request> RecordingServer::Requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool RecordingServer::WaitFor(std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

http::Response RecordingServer::Handle(const http::Request& request) {
  http::Response reply;
  {
    std::unique_lock lock(mutex_);
    if (hold_) released_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
    reply = reply_;
  }
  if (handler_) reply = handler_(request);
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(request);
  }
  arrived_.notify_all();
  return reply;
}

CallbackReceiver::CallbackReceiver(std::function<TimePoint()> now)
    : now_(std::move(now)),
      server_([this](const http::Request& request) { return Handle(request); }) {}

void CallbackReceiver::Use(const gateway::Gateway* adapter) {
  std::lock_guard lock(mutex_);
  adapter_ = adapter;
}

http::Response CallbackReceiver::Handle(const http::Request& request) {
  std::lock_guard lock(mutex_);
  if (adapter_ == nullptr) return http::Response::Text(503, "no adapter yet");
  auto kind = gateway::CallbackKind::kStatus;
  if (request.path == gateway::CallbackPath(adapter_->Name(), gateway::CallbackKind::kInbound)) {
    kind = gateway::CallbackKind::kInbound;
  } else if (request.path !=
             gateway::CallbackPath(adapter_->Name(), gateway::CallbackKind::kStatus)) {
    return http::Response::Text(404, "no such callback");
  }
  gateway::Callback callback = adapter_->ParseCallback(kind, request, now_());
  http::Response answer = adapter_->CallbackAnswer(kind, callback.verdict, callback.problem);
  callbacks_.push_back(std::move(callback));
  answers_.push_back(answer);
  return answer;
}

std::vector<gateway::Callback> CallbackReceiver::Callbacks() const {
  std::lock_guard lock(mutex_);
  return callbacks_;
}

std::vector<http::Response> CallbackReceiver::Answers() const {
  std::lock_guard lock(mutex_);
  return answers_;
}

}  // namespace surveyd::testing
