#pragma once
// A small blocking SMTP client for alert and digest e-mails through the force's relay: plain
// SMTP, STARTTLS when asked (then required: never falls back to plain text), AUTH PLAIN only
// over TLS. One message, one recipient per call. Failures are values: only a 5xx to RCPT TO (the
// recipient refused) is permanent; every other refusal (4xx, transport errors, a 5xx to the
// greeting, EHLO, AUTH, MAIL FROM or DATA: the relay refusing us, which ops can put right) is
// worth retrying.
#include <chrono>
#include <cstdint>
#include <string>

#include "surveyd/core/time.hpp"

namespace surveyd::alerts {

struct SmtpOptions {
  std::string host;  // empty: no e-mail
  std::uint16_t port = 25;
  bool starttls = false;  // upgrade with STARTTLS; refuses to go on if the server cannot
  std::string ca_file;    // TLS: trust this CA (PEM) instead of the system's
  bool verify_tls = true;
  std::string username;  // AUTH PLAIN when set (only ever over TLS)
  std::string password;
  std::string helo_name = "surveyd";
  std::chrono::milliseconds timeout{20000};  // the whole conversation
};

struct MailMessage {
  std::string from;  // an address: "alerts@force.police.uk"
  std::string to;
  std::string subject;     // UTF-8; sent as an RFC 2047 encoded word when not ASCII
  std::string body;        // UTF-8 plain text; sent base64-encoded
  std::string message_id;  // "<notice-12@surveyd>"; empty: none
  TimePoint date;
};

struct SmtpResult {
  enum class Status { kSent, kTransient, kPermanent };
  Status status = Status::kTransient;
  int code = 0;       // the last SMTP reply code; 0 when the conversation broke before one
  std::string error;  // what went wrong, without the message's content
};

SmtpResult SendMail(const SmtpOptions& options, const MailMessage& message);

// The message as sent after DATA (headers, base64 body, CRLF line ends), before dot-stuffing.
std::string FormatMail(const MailMessage& message);

}  // namespace surveyd::alerts
