#pragma once
// A faithful fake of Twilio's Messages API, for the adapter's tests and for wmnow-sim (which
// speaks it beside WMNow's API). Like Twilio it checks HTTP basic auth (401, code 20003), the
// account in the path (404, 20404) and the parameters (400 with Twilio's codes: 21604 no To,
// 21603 no From, 21602 no Body, 21211 a To that is not a number, 21617 a body over 1,600
// characters, 21609 a bad StatusCallback), answers 201 with a message resource, and posts status
// callbacks and incoming messages as form posts signed with X-Twilio-Signature.
//
// Faults can be injected: 503 (nothing created), 429 (throttled, nothing created), 500 after
// the message was created (the in-doubt case), or a late answer.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "surveyd/http/client.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::sim {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// Twilio's request signature, written here from Twilio's documentation, independently of the
// adapter's check: base64(HMAC-SHA1(auth_token, url + name1 + value1 + ..., sorted by name)).
std::string SignLikeTwilio(std::string_view auth_token, std::string_view url, FormParams params);

struct TwilioMessage {
  std::string sid;  // "SM" + 32 hex digits
  std::string to;
  std::string from;
  std::string messaging_service_sid;  // "MG...": Twilio picks the sender (From is then empty)
  std::string body;
  std::string status_callback;  // empty: none asked for
  std::string status = "queued";
};

struct TwilioApiOptions {
  std::string account_sid = "AC00000000000000000000000000000000";
  std::string auth_token = "test-token";
  double fail_rate = 0;      // answered 503, nothing created
  double throttle_rate = 0;  // answered 429 (code 20429), nothing created
  double error_rate = 0;     // created, then answered 500: the client cannot know
  double hang_rate = 0;      // created, answered only after `hang`
  double reset_rate = 0;     // created, then the connection reset unanswered
  std::chrono::milliseconds hang{15000};
  std::uint64_t seed = 1;
  bool verify_tls = true;  // for the callbacks it posts
};

class TwilioApi {
 public:
  using OnCreated = std::function<void(const TwilioMessage&)>;

  explicit TwilioApi(TwilioApiOptions options, OnCreated on_created = {});

  // True for requests under /2010-04-01/.
  static bool Handles(const http::Request& request);
  // POST .../Accounts/{sid}/Messages.json creates; GET .../Messages/{sid}.json fetches.
  http::Response Handle(const http::Request& request);

  // A status callback as Twilio posts it to the message's StatusCallback.
  http::ClientResponse PostStatus(const TwilioMessage& message, std::string_view status,
                                  std::string_view error_code = "") const;
  // An incoming message as Twilio posts it to a number's messaging webhook.
  http::ClientResponse PostInbound(const std::string& url, const std::string& from,
                                   const std::string& to, const std::string& body) const;

  std::vector<TwilioMessage> Messages() const;
  void SetStatus(const std::string& sid, const std::string& status);
  nlohmann::json Stats() const;

 private:
  http::Response Create(const http::Request& request);
  http::Response Fetch(const std::string& sid) const;
  http::ClientResponse PostSigned(const std::string& url, const FormParams& params) const;
  double Uniform() const;
  std::string NewSid(const char* prefix) const;

  const TwilioApiOptions options_;
  const OnCreated on_created_;
  mutable std::mutex mutex_;
  mutable std::mt19937_64 random_;
  std::vector<TwilioMessage> messages_;
  struct {
    long created = 0, unauthorized = 0, invalid = 0, failed = 0, throttled = 0, errors = 0,
         hung = 0, resets = 0;
  } counters_;
};

}  // namespace surveyd::sim
