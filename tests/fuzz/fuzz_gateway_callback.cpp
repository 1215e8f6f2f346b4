// libFuzzer target: the gateways' callbacks (delivery reports and citizens' texts from WMNow,
// Kannel and Twilio) through each adapter's ParseCallback and through the API's callback route
// into an in-memory store.
//
// The first byte chooses: bits 0-1 the adapter (WMNow, Kannel, Twilio, WMNow), bit 2 the kind
// (status, inbound), bit 3 whether the harness signs the request as the gateway would (WMNow's
// HMAC over timestamp and body, Kannel's secret in the query, Twilio's HMAC-SHA1 over URL and
// form), bit 4 the other method, bits 5-7 how old WMNow's signed timestamp is (within and just
// beyond its five minutes either way). The rest is the query string up to the first newline,
// then the body. Signed, the fuzzer gets past the signatures to the parsers; unsigned, it tries
// to get past them (and must not).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fakes/manual_clock.hpp"
#include "fuzz/fuzz_store.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/gateway/kannel.hpp"
#include "surveyd/gateway/twilio.hpp"
#include "surveyd/gateway/wmnow.hpp"

namespace {

namespace gw = surveyd::gateway;

constexpr char kWmnowSecret[] = "wmnow-hook-secret-0123456789";
constexpr char kKannelSecret[] = "kannel-secret-0123456789";
constexpr char kTwilioToken[] = "twilio-auth-token-0123456789";
constexpr char kTwilioAccount[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kPublicBase[] = "https://surveys.example.police.uk";
constexpr std::int64_t kNow = 1'850'000'000;
// WMNow's timestamp offsets (seconds before now): inside the window, at its edges, beyond it.
constexpr std::int64_t kSkews[] = {0, 1, 299, 300, -300, 301, -301, 86'400};

// The adapters never send here: a send would be a bug of the harness.
class NoNetwork final : public surveyd::http::ClientPool {
 public:
  std::vector<surveyd::http::ClientResponse> FetchAll(
      std::vector<surveyd::http::ClientRequest>) override {
    std::abort();
  }
};

struct Adapter {
  std::unique_ptr<gw::Gateway> gateway;
  surveyd::http::Handler handler;
};

struct Harness {
  Harness() : clock(surveyd::FromUnixSeconds(kNow)) {
    const auto client = std::make_shared<NoNetwork>();
    gw::WmnowOptions wmnow;
    wmnow.base_url = "http://127.0.0.1:9";
    wmnow.webhook_secret = kWmnowSecret;
    wmnow.client = client;
    gw::KannelOptions kannel;
    kannel.sendsms_url = "http://127.0.0.1:9/cgi-bin/sendsms";
    kannel.webhook_secret = kKannelSecret;
    kannel.public_base_url = kPublicBase;
    kannel.client = client;
    gw::TwilioOptions twilio;
    twilio.base_url = "http://127.0.0.1:9";
    twilio.account_sid = kTwilioAccount;
    twilio.auth_token = kTwilioToken;
    twilio.public_base_url = kPublicBase;
    twilio.client = client;
    adapters[0].gateway = gw::MakeWmnowGateway(wmnow);
    adapters[1].gateway = gw::MakeKannelGateway(kannel);
    adapters[2].gateway = gw::MakeTwilioGateway(twilio);
    for (auto& adapter : adapters) {
      surveyd::api::ApiOptions options;
      options.ingest = &store;
      options.outbox = &store;
      options.surveys = &store;
      options.stats = &store;
      options.clock = &clock;
      options.gateway = adapter.gateway.get();
      options.readiness = [] { return surveyd::api::Readiness{true, "{}", {}}; };
      adapter.handler = surveyd::api::MakeApiHandler(options);
    }
  }

  surveyd::fuzz::FuzzStore store;
  surveyd::testing::ManualClock clock;
  Adapter adapters[3];
};

bool SafeCode(std::string_view code) {
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

bool ValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = lead < 0x80         ? 1
                         : (lead >> 5) == 6  ? 2
                         : (lead >> 4) == 14 ? 3
                         : (lead >> 3) == 30 ? 4
                                             : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness* harness = new Harness();  // lives for the whole run, like the daemon's
  if (size == 0) return 0;
  const unsigned setup = data[0];
  const std::size_t which = (setup & 3) == 3 ? 0 : (setup & 3);
  const auto kind = (setup & 4) != 0 ? gw::CallbackKind::kInbound : gw::CallbackKind::kStatus;
  const bool sign = (setup & 8) != 0;
  const std::int64_t skew = kSkews[(setup >> 5) & 7];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto newline = rest.find('\n');
  std::string query(rest.substr(0, newline));
  const std::string body(newline == std::string_view::npos ? "" : rest.substr(newline + 1));

  Adapter& adapter = harness->adapters[which];
  const gw::Gateway& gateway = *adapter.gateway;
  surveyd::http::Request request;
  const bool natural_get = which == 1;  // Kannel calls back with GET, the others POST
  request.method = (natural_get != ((setup & 16) != 0)) ? "GET" : "POST";
  request.path = gw::CallbackPath(gateway.Name(), kind);
  request.remote_address = "192.0.2.7";
  if (sign && which == 1) {
    query = "secret=" + std::string(kKannelSecret) + (query.empty() ? "" : "&") + query;
  }
  request.query = query;
  request.target = request.path + (query.empty() ? "" : "?" + query);
  request.body = body;
  if (sign && which == 0) {
    const std::string timestamp = std::to_string(kNow - skew);
    request.headers.emplace_back("X-WMNow-Timestamp", timestamp);
    request.headers.emplace_back("X-WMNow-Signature",
                                 surveyd::crypto::SignTimestamped(kWmnowSecret, timestamp, body));
  }
  if (which == 2) {
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    if (sign) {
      request.headers.emplace_back(
          "X-Twilio-Signature",
          gw::TwilioSignature(kTwilioToken, std::string(kPublicBase) + request.target,
                              surveyd::http::ParseForm(body)));
    }
  }

  const auto now = harness->clock.Now();
  const bool verified = gateway.VerifyCallback(kind, request, now);
  const gw::Callback callback = gateway.ParseCallback(kind, request, now);
  // What the signature check says is final: unverified is refused, and nothing is read.
  if (!verified && (callback.verdict != gw::CallbackVerdict::kUnauthorized || callback.report ||
                    callback.inbound)) {
    std::abort();
  }
  // The harness's own signature always verifies (a fresh one; Twilio signs only POSTed forms).
  const bool fresh = skew >= -300 && skew <= 300;
  if (sign && !verified &&
      ((which == 0 && fresh) || which == 1 || (which == 2 && request.method == "POST"))) {
    std::abort();
  }
  if (which == 0 && sign && !fresh && verified) std::abort();  // stale is refused
  if ((callback.verdict == gw::CallbackVerdict::kOk) !=
      (callback.report.has_value() || callback.inbound.has_value())) {
    std::abort();
  }
  if (callback.report) {
    const auto& report = *callback.report;
    if (kind != gw::CallbackKind::kStatus || report.gateway != gateway.Name()) std::abort();
    if (report.gateway_message_id.empty() && report.message_ref.empty()) std::abort();
    if (!SafeCode(report.error_code)) std::abort();  // never a number or text in our records
  }
  if (callback.inbound) {
    const auto& sms = *callback.inbound;
    if (kind != gw::CallbackKind::kInbound || sms.gateway != gateway.Name()) std::abort();
    if (!sms.from_e164.empty() && sms.from_e164[0] != '+') std::abort();
    if (!ValidUtf8(sms.body)) std::abort();
  }
  // The problem is logged: a refusal names no more than 200 bytes of whatever was sent.
  if (callback.problem.size() > 200) std::abort();

  // The same request through the route, into the store.
  const auto response = adapter.handler(request);
  const int expected = callback.verdict == gw::CallbackVerdict::kUnauthorized ? 401
                       : callback.verdict == gw::CallbackVerdict::kMalformed  ? 400
                                                                              : 200;
  if (response.status != expected) std::abort();
  return 0;
}
