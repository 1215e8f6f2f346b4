#include "surveyd/gateway/factory.hpp"

#include "gateway/common.hpp"
#include "surveyd/gateway/kannel.hpp"
#include "surveyd/gateway/twilio.hpp"
#include "surveyd/gateway/wmnow.hpp"

namespace surveyd::gateway {

const std::vector<std::string>& GatewayKinds() {
  static const std::vector<std::string> kKinds = {"wmnow", "kannel", "twilio"};
  return kKinds;
}

std::unique_ptr<Gateway> MakeGateway(const GatewayConfig& config) {
  const std::string base = detail::WithoutTrailingSlash(config.public_base_url);
  // Every send goes over one pool of kept-alive connections: its size is the limit on requests
  // in flight.
  http::ClientPoolOptions pool;
  pool.max_in_flight = config.max_in_flight;
  std::shared_ptr<http::ClientPool> client = http::MakeClientPool(pool);
  if (config.kind == "wmnow") {
    WmnowOptions options;
    options.base_url = config.wmnow.base_url;
    options.api_key = config.wmnow.api_key;
    options.webhook_secret = config.wmnow.webhook_secret;
    options.sender = config.sender;
    options.status_callback = base + CallbackPath("wmnow", CallbackKind::kStatus);
    options.timeout = config.timeout;
    options.ca_file = config.ca_file;
    options.client = client;
    return MakeWmnowGateway(options);
  }
  if (config.kind == "kannel") {
    KannelOptions options;
    options.sendsms_url = config.kannel.sendsms_url;
    options.username = config.kannel.username;
    options.password = config.kannel.password;
    options.webhook_secret = config.kannel.webhook_secret;
    options.smsc = config.kannel.smsc;
    options.sender = config.sender;
    // smsbox may reach us by another address than citizens do (a compose network). The
    // adapter drops a trailing slash.
    options.public_base_url =
        config.kannel.callback_base_url.empty() ? base : config.kannel.callback_base_url;
    options.timeout = config.timeout;
    options.ca_file = config.ca_file;
    options.client = client;
    return MakeKannelGateway(options);
  }
  if (config.kind == "twilio") {
    TwilioOptions options;
    options.base_url = config.twilio.base_url;
    options.account_sid = config.twilio.account_sid;
    options.auth_token = config.twilio.auth_token;
    options.from = config.twilio.from;
    options.public_base_url = base;
    options.timeout = config.timeout;
    options.ca_file = config.ca_file;
    options.client = client;
    return MakeTwilioGateway(options);
  }
  throw std::invalid_argument("unknown gateway kind '" + config.kind + "'");
}

}  // namespace surveyd::gateway
