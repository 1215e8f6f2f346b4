#pragma once
// The Kannel adapter (../shared/spec/gateway.md, section 2): smsbox's sendsms interface, with
// delivery reports through dlr-url and citizens' replies through the operator's sms-service.
//
// Kannel signs nothing, so both callbacks carry a shared secret in the query string, compared in
// constant time:
//   dlr-url (set by us on every send):
//     {public_base_url}/api/v1/gateway/kannel/status?secret=S&ref=<client_ref>&type=%d&ts=%T
//   the operator's sms-service (docs/gateways.md; %I, Kannel's id, recognises a text sent again):
//     get-url = "{base}/api/v1/gateway/kannel/inbound?secret=S&from=%p&to=%P&text=%a&id=%I"
//     max-messages = 0     (never text our answer back to the citizen)
//     omit-empty = true
// Kannel has no idempotency key: a send whose outcome is unknown is in doubt, settled by its
// delivery reports (the ref rides in the dlr-url), never resent.
#include <chrono>
#include <memory>
#include <string>

#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway {

struct KannelOptions {
  std::string sendsms_url;  // "http://127.0.0.1:13013/cgi-bin/sendsms"
  std::string username;     // the sendsms-user group
  std::string password;
  std::string sender = "Police";  // from=
  std::string smsc;               // smsc= (route through this SMSC id); empty: Kannel decides
  // Shared with the operator's sms-service get-url. Characters [A-Za-z0-9._~-] only: it is
  // written into URLs by hand and must not meet Kannel's %-escapes.
  std::string webhook_secret;
  std::string public_base_url;  // where Kannel reaches us: dlr-url = {this}/api/v1/gateway/...
  int dlr_mask = 31;            // delivered, failed, buffered, sent to SMSC, rejected by SMSC
  std::chrono::milliseconds timeout{10000};
  // The CAs (PEM) to trust when the URL is https: a gateway behind a proxy with a certificate
  // of the force's own CA; empty: the system's.
  std::string ca_file;
  // Kept-alive connections, shared by every send (at most its max_in_flight at once); null: a
  // pool of the adapter's own.
  std::shared_ptr<http::ClientPool> client;
};

// True for a secret Kannel can carry (see KannelOptions::webhook_secret).
bool IsUrlSafeSecret(std::string_view secret);

std::unique_ptr<Gateway> MakeKannelGateway(const KannelOptions& options);

}  // namespace surveyd::gateway
