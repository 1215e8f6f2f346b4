// SMTP over a blocking socket with per-operation timeouts, and OpenSSL for STARTTLS.
#include "surveyd/alerts/smtp.hpp"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "surveyd/core/crypto.hpp"

namespace surveyd::alerts {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A header value on one line: CR and LF would let a value add headers of its own.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string EncodeHeaderWord(std::string_view text) {
  if (IsAscii(text)) return std::string(text);
  return "=?UTF-8?B?" + crypto::Base64(text) + "?=";
}

std::string RfcDate(TimePoint t) {
  const std::time_t seconds = static_cast<std::time_t>(ToUnixSeconds(t));
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  return buffer;
}

SmtpResult Failure(SmtpResult::Status status, int code, std::string error) {
  return SmtpResult{status, code, std::move(error)};
}

class Connection {
 public:
  Connection(const SmtpOptions& options)
      : options_(options), deadline_(SteadyClock::now() + options.timeout) {}
  ~Connection() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Empty on success, else why not.
  std::string Connect() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(options_.port);
    if (const int rc = getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return std::string("cannot resolve the SMTP host: ") + gai_strerror(rc);
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
    std::string error = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      const int fd =
          socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        error = std::strerror(errno);
        close(fd);
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      const int ready = poll(&p, 1, RemainingMs());
      int so_error = 0;
      socklen_t length = sizeof so_error;
      if (ready <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0 ||
          so_error != 0) {
        error = ready <= 0 ? "connect timed out" : std::strerror(so_error);
        close(fd);
        continue;
      }
      fd_ = fd;
      return "";
    }
    return "cannot connect to the SMTP relay: " + error;
  }

  // One reply (all its lines); code 0 when none could be read.
  int ReadReply(std::string& text) {
    text.clear();
    for (;;) {
      std::string line;
      if (!ReadLine(line)) return 0;
      if (line.size() < 3) return 0;
      text += line + "\n";
      if (line.size() == 3 || line[3] == ' ') {
        int code = 0;
        for (int i = 0; i < 3; ++i) {
          if (line[i] < '0' || line[i] > '9') return 0;
          code = code * 10 + (line[i] - '0');
        }
        return code;
      }
      if (line[3] != '-') return 0;
    }
  }

  bool Write(std::string_view data) {
    while (!data.empty()) {
      ssize_t written = 0;
      if (ssl_ != nullptr) {
        if (!WaitFor(POLLOUT)) return false;
        const int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (n <= 0) {
          const int err = SSL_get_error(ssl_, n);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;
          return false;
        }
        written = n;
      } else {
        if (!WaitFor(POLLOUT)) return false;
        written = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (written < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          return false;
        }
      }
      data.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
  }

  std::string StartTls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return "cannot create a TLS context";
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (options_.verify_tls) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      const bool loaded =
          options_.ca_file.empty()
              ? SSL_CTX_set_default_verify_paths(ctx_) == 1
              : SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) == 1;
      if (!loaded) return "cannot load the CA certificates for the SMTP relay";
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return "cannot create a TLS session";
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, options_.host.c_str());
    if (options_.verify_tls) {
      // The certificate must name the relay we asked for.
      SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl_, options_.host.c_str());
    }
    for (;;) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) return "";
      const int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ && WaitFor(POLLIN)) continue;
      if (err == SSL_ERROR_WANT_WRITE && WaitFor(POLLOUT)) continue;
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        return std::string("the SMTP relay's certificate is not trusted: ") +
               X509_verify_cert_error_string(verify);
      }
      return "TLS handshake with the SMTP relay failed";
    }
  }

  bool Tls() const { return ssl_ != nullptr; }

 private:
  int RemainingMs() const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(left.count());
  }

  bool WaitFor(short events) {
    if (events == POLLIN && ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, events, 0};
    for (;;) {
      const int ready = poll(&p, 1, RemainingMs());
      if (ready > 0) return true;
      if (ready < 0 && errno == EINTR) continue;
      return false;
    }
  }

  bool ReadLine(std::string& line) {
    for (;;) {
      if (const auto end = buffer_.find("\r\n"); end != std::string::npos) {
        line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return true;
      }
      if (buffer_.size() > 64 * 1024) return false;  // no SMTP reply line is that long
      char chunk[4096];
      if (!WaitFor(POLLIN)) return false;
      ssize_t n = 0;
      if (ssl_ != nullptr) {
        const int rc = SSL_read(ssl_, chunk, sizeof chunk);
        if (rc <= 0) {
          const int err = SSL_get_error(ssl_, rc);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;
          return false;
        }
        n = rc;
      } else {
        n = recv(fd_, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  const SmtpOptions& options_;
  const SteadyClock::time_point deadline_;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

// Whom a refusal is about. A 5xx to RCPT TO refuses that recipient: sending again gets the same
// answer. Every other reply is about the relay and us (its greeting, EHLO, AUTH after a password
// rotation, MAIL FROM while it denies us relaying, DATA, even the message's end: a relay that
// does not yet let our address send says so there): ops can put that right, and the notice must
// still go when they have, so it is retried like a 4xx, up to alerts.max_attempts.
enum class Refused { kRecipient, kSession };

SmtpResult::Status StatusOf(int code, Refused refused) {
  if (code >= 500 && code < 600 && refused == Refused::kRecipient) {
    return SmtpResult::Status::kPermanent;
  }
  return SmtpResult::Status::kTransient;
}

// The first line of a reply, short: for the attempt record (replies name addresses at most).
std::string Summary(const std::string& reply) {
  std::string line = reply.substr(0, reply.find('\n'));
  if (line.size() > 200) line.resize(200);
  return line;
}

}  // namespace

std::string FormatMail(const MailMessage& message) {
  std::string out;
  out += "From: " + OneLine(message.from) + "\r\n";
  out += "To: " + OneLine(message.to) + "\r\n";
  out += "Subject: " + EncodeHeaderWord(OneLine(message.subject)) + "\r\n";
  out += "Date: " + RfcDate(message.date) + "\r\n";
  if (!message.message_id.empty()) out += "Message-ID: " + OneLine(message.message_id) + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: base64\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "\r\n";
  const std::string encoded = crypto::Base64(message.body);
  for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
  return out;
}

SmtpResult SendMail(const SmtpOptions& options, const MailMessage& message) {
  using Status = SmtpResult::Status;
  if (options.host.empty()) return Failure(Status::kPermanent, 0, "no SMTP relay configured");
  if (message.from.empty() || message.to.empty()) {
    return Failure(Status::kPermanent, 0, "no sender or recipient");
  }
  Connection connection(options);
  if (auto error = connection.Connect(); !error.empty()) {
    return Failure(Status::kTransient, 0, error);
  }
  std::string reply;
  // Sends a command (unless empty) and expects a reply in [low, high].
  auto step = [&](const std::string& command, int low, int high, const char* what,
                  SmtpResult& failure, Refused refused = Refused::kSession) {
    if (!command.empty() && !connection.Write(command + "\r\n")) {
      failure = Failure(Status::kTransient, 0, std::string("connection lost at ") + what);
      return false;
    }
    const int code = connection.ReadReply(reply);
    if (code == 0) {
      failure = Failure(Status::kTransient, 0, std::string("no reply to ") + what);
      return false;
    }
    if (code < low || code > high) {
      // The step and the relay's own words, for the log and the notice's last_error: ops see
      // that the relay refuses us, and where.
      failure = Failure(
          StatusOf(code, refused), code,
          refused == Refused::kRecipient
              ? std::string(what) + " refused: " + Summary(reply)
              : std::string("the SMTP relay refused us at ") + what + ": " + Summary(reply));
      return false;
    }
    return true;
  };
  SmtpResult failure;
  if (!step("", 220, 220, "the greeting", failure)) return failure;
  if (!step("EHLO " + OneLine(options.helo_name), 250, 250, "EHLO", failure)) return failure;
  if (options.starttls) {
    if (reply.find("STARTTLS") == std::string::npos) {
      return Failure(Status::kTransient, 0, "the SMTP relay does not offer STARTTLS");
    }
    if (!step("STARTTLS", 220, 220, "STARTTLS", failure)) return failure;
    if (auto error = connection.StartTls(); !error.empty()) {
      return Failure(Status::kTransient, 0, error);
    }
    if (!step("EHLO " + OneLine(options.helo_name), 250, 250, "EHLO", failure)) return failure;
  }
  if (!options.username.empty()) {
    if (!connection.Tls()) {
      // Fail closed: the password never crosses the network in clear. Configuration, like a
      // relay that refuses us: the notice waits for it to be put right.
      return Failure(Status::kTransient, 0, "refusing to authenticate without TLS (smtp.starttls)");
    }
    std::string credentials;
    credentials.push_back('\0');
    credentials += options.username;
    credentials.push_back('\0');
    credentials += options.password;
    if (!step("AUTH PLAIN " + crypto::Base64(credentials), 235, 235, "AUTH", failure)) {
      return failure;
    }
  }
  if (!step("MAIL FROM:<" + OneLine(message.from) + ">", 250, 250, "MAIL FROM", failure) ||
      !step("RCPT TO:<" + OneLine(message.to) + ">", 250, 251, "RCPT TO", failure,
            Refused::kRecipient) ||
      !step("DATA", 354, 354, "DATA", failure)) {
    return failure;
  }
  // Dot-stuffing: a line that starts with "." gets another. (The body is base64, but headers
  // could start with one.)
  std::string data = FormatMail(message);
  std::string stuffed;
  stuffed.reserve(data.size() + 16);
  bool line_start = true;
  for (char c : data) {
    if (line_start && c == '.') stuffed.push_back('.');
    stuffed.push_back(c);
    line_start = c == '\n';
  }
  stuffed += ".";
  if (!step(stuffed, 250, 250, "the message", failure)) return failure;
  const int code = 250;
  connection.Write("QUIT\r\n");  // the message is accepted whatever QUIT says
  return SmtpResult{Status::kSent, code, ""};
}

}  // namespace surveyd::alerts
