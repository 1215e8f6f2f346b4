#pragma once
// The WMNow-style messaging API adapter (../shared/spec/gateway.md, section 1): JSON sends with
// a bearer key and an idempotency key (client_ref); callbacks signed with
// X-WMNow-Signature: sha256=HMAC-SHA256(webhook_secret, X-WMNow-Timestamp + "." + body), at most
// five minutes old.
#include <chrono>
#include <memory>
#include <string>

#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway {

struct WmnowOptions {
  std::string base_url;  // "https://api.wmnow.example" or "http://127.0.0.1:8090"
  std::string api_key;   // Bearer token
  std::string sender = "Police";
  std::string status_callback;  // absolute URL of /api/v1/gateway/wmnow/status
  std::string webhook_secret;   // checks status and inbound callbacks; empty: refuse them all
  std::chrono::milliseconds timeout{10000};
  // The CAs (PEM) to trust when the URL is https: a gateway behind a proxy with a certificate
  // of the force's own CA; empty: the system's.
  std::string ca_file;
  // Kept-alive connections, shared by every send (at most its max_in_flight at once); null: a
  // pool of the adapter's own.
  std::shared_ptr<http::ClientPool> client;
};

// Oldest (and furthest in the future) a signed callback's timestamp may be.
inline constexpr std::chrono::seconds kWmnowMaxSignatureAge{300};

std::unique_ptr<Gateway> MakeWmnowGateway(const WmnowOptions& options);

}  // namespace surveyd::gateway
