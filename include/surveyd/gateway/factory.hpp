#pragma once
// One adapter per gateway, chosen by gateway.kind. The app fills GatewayConfig from the
// configuration (config/surveyd.yaml, gateway.*) and hands the adapter to the dispatcher (sends)
// and to the API (callbacks on CallbackPath(kind, ...)).
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "surveyd/gateway/gateway.hpp"

namespace surveyd::gateway {

struct GatewayConfig {
  std::string kind = "wmnow";  // one of GatewayKinds()
  // Where the gateway reaches us: callbacks land on {public_base_url}{CallbackPath(kind, ...)}.
  std::string public_base_url = "http://127.0.0.1:8080";
  std::string sender = "Police";  // WMNow's sender, Kannel's from= (Twilio uses twilio.from)
  std::chrono::milliseconds timeout{10000};  // per send; after the request went out: in doubt
  int max_in_flight = 32;                    // requests to the gateway at once, from this instance
  std::string ca_file;  // the CAs (PEM) the adapter in use trusts for https; empty: the system's

  struct Wmnow {
    std::string base_url = "http://127.0.0.1:8090";
    std::string api_key;
    std::string webhook_secret;
  } wmnow;

  struct Kannel {
    std::string sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms";
    std::string username;
    std::string password;
    std::string webhook_secret;     // in every dlr-url and in the operator's sms-service get-url
    std::string smsc;               // optional smsc id to route through
    std::string callback_base_url;  // its dlr-url's base, when not public_base_url
  } kannel;

  struct Twilio {
    std::string base_url = "https://api.twilio.com";
    std::string account_sid;
    std::string auth_token;
    std::string from;
  } twilio;
};

// "wmnow", "kannel", "twilio".
const std::vector<std::string>& GatewayKinds();

// Throws std::invalid_argument for a kind not in GatewayKinds().
std::unique_ptr<Gateway> MakeGateway(const GatewayConfig& config);

}  // namespace surveyd::gateway
