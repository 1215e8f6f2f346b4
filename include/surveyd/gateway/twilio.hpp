#pragma once
// The Twilio-compatible REST adapter (../shared/spec/gateway.md, section 3): form-encoded sends
// with HTTP basic auth, delivery reports to a StatusCallback and replies to the number's
// messaging webhook, both signed with X-Twilio-Signature.
//
// The StatusCallback URL carries the service's own ref ({public_base_url}/api/v1/gateway/
// twilio/status?ref=<client_ref>), so a send in doubt is settled by its reports. Twilio has no
// idempotency key: such a send is never resent automatically. Point the number's "A message
// comes in" webhook (HTTP POST) at {public_base_url}/api/v1/gateway/twilio/inbound.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway {

struct TwilioOptions {
  std::string base_url = "https://api.twilio.com";
  std::string account_sid;  // "AC..."; basic-auth user and part of the URL
  std::string auth_token;   // basic-auth password and the callbacks' signing key
  std::string from;         // a number, an alphanumeric sender id, or "MG..." (messaging service)
  // Where Twilio reaches us. Signatures cover the URL exactly as Twilio called it, which is
  // this + the request target: behind a proxy that strips a prefix, include the prefix here.
  std::string public_base_url;
  std::chrono::milliseconds timeout{10000};
  // The CAs (PEM) to trust when the URL is https: a gateway behind a proxy with a certificate
  // of the force's own CA; empty: the system's.
  std::string ca_file;
  // Kept-alive connections, shared by every send (at most its max_in_flight at once); null: a
  // pool of the adapter's own.
  std::shared_ptr<http::ClientPool> client;
};

// X-Twilio-Signature: base64(HMAC-SHA1(auth_token, url + each parameter's name and value,
// sorted by name)).
std::string TwilioSignature(std::string_view auth_token, std::string_view url,
                            std::vector<std::pair<std::string, std::string>> params);

// A messaging service id ("MG" and 32 hex digits) rather than a sender: sent as
// MessagingServiceSid, and Twilio picks the sender from the service's own.
inline bool IsMessagingServiceSid(std::string_view from) {
  return from.size() == 34 && from.substr(0, 2) == "MG" &&
         std::all_of(from.begin() + 2, from.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::unique_ptr<Gateway> MakeTwilioGateway(const TwilioOptions& options);

}  // namespace surveyd::gateway
