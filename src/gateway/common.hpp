#pragma once
// What the adapters share: error-code hygiene, Retry-After, transport failures, answers.
// Private to src/gateway/.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/client.hpp"

namespace surveyd::gateway::detail {

// A gateway's own error code ("invalid_number", "21211"), reduced to characters that cannot carry
// a phone number's digits or message text into our logs and database unless the code is all
// digits (Twilio's codes are numbers; a number echoed back would be longer than 8 digits).
std::string SafeCode(std::string_view code);

// "Retry-After: 7" -> 7 s (capped at a day); nullopt for the HTTP-date form or anything odd.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

// A send that got no HTTP answer: transient when the request provably never went out, in doubt
// when it may have reached the gateway.
SendResult FromTransportFailure(const http::ClientResponse& response);

// Sends the batch over `client` at once, one request per text made by `request`, and reads each
// answer with `read`; a request that got no answer is FromTransportFailure's. Logs each outcome
// by client_ref, never the request (its URL or body holds the number and the text).
std::vector<SendResult> SendOver(
    http::ClientPool& client, std::string_view gateway, const std::vector<OutgoingSms>& batch,
    const std::function<http::ClientRequest(const OutgoingSms&)>& request,
    SendResult (*read)(const http::ClientResponse&));

// The answers a gateway without an idempotency key (Kannel, Twilio) reads alike, once its own
// 2xx and 4xx meanings are read: 429 throttled (with Retry-After), 503 turned away (nothing sent:
// transient), any other 5xx in doubt (the message may have gone out: never resent
// automatically, the delivery reports settle it), anything else transient.
void ReadOtherStatus(const http::ClientResponse& response, SendResult& result);

// A form-encoded request's fields (Kannel's and Twilio's callbacks), in the order they came.
using Params = std::vector<std::pair<std::string, std::string>>;

// The first value of the field `name`, or empty.
std::string Param(const Params& params, std::string_view name);
bool HasParam(const Params& params, std::string_view name);

// A JSON body read as an object; an empty object when it is not one.
nlohmann::json ParseObject(const std::string& body);

// "base/" -> "base".
std::string WithoutTrailingSlash(std::string text);

// The JSON answers WMNow and Twilio get for refused callbacks ({"error":..., "message":...}).
http::Response JsonRefusal(CallbackVerdict verdict, std::string_view problem);

}  // namespace surveyd::gateway::detail
