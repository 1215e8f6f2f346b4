// SMS gateway callbacks: delivery reports and citizens' replies, through whichever adapter is in
// use. The adapter owns the wire format (signatures, parameters, status words, the answer); these
// routes only apply what it read.
#include <spdlog/spdlog.h>

#include "routes.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/sms_reply.hpp"

namespace surveyd::api {

http::Response HandleGatewayCallback(const ApiOptions& options, gateway::CallbackKind kind,
                                     const http::Request& request) {
  const gateway::Gateway& adapter = *options.gateway;
  const gateway::Callback callback = adapter.ParseCallback(kind, request, options.clock->Now());
  if (callback.verdict == gateway::CallbackVerdict::kUnauthorized ||
      callback.verdict == gateway::CallbackVerdict::kMalformed) {
    spdlog::warn("{} {} callback refused ({}): {}", adapter.Name(), gateway::CallbackKindName(kind),
                 gateway::CallbackVerdictName(callback.verdict), callback.problem);
    return adapter.CallbackAnswer(kind, callback.verdict, callback.problem);
  }
  if (const auto& report = callback.report) {
    store::DeliveryStatus status;
    status.gateway = report->gateway;
    status.gateway_message_id = report->gateway_message_id;
    status.client_ref = report->message_ref;
    status.status = DeliveryStateName(report->state);
    status.error_code = report->error_code;
    status.at = report->at;
    if (!options.outbox->ApplyDeliveryStatus(status)) {
      spdlog::warn("{} report '{}' for an unknown message (message_id length {})", report->gateway,
                   status.status, report->gateway_message_id.size());
    }
  }
  if (const auto& inbound = callback.inbound) {
    if (sms_reply::IsOptOut(inbound->body) && !inbound->from_e164.empty()) {
      options.surveys->OptOut(inbound->from_e164, "sms_reply", options.clock->Now());
      spdlog::info("opt-out by SMS reply through {} from {}", inbound->gateway,
                   phone::Mask(inbound->from_e164));
    }
  }
  return adapter.CallbackAnswer(kind, callback.verdict, callback.problem);
}

void AddGatewayRoutes(Router& router, const ApiOptions& options) {
  if (options.gateway == nullptr) return;
  // Only the adapter in use has routes; the others' paths are 404. Kannel calls back with GET,
  // WMNow and Twilio with POST: both are routed and the adapter refuses what its gateway never
  // sends.
  for (auto kind : {gateway::CallbackKind::kStatus, gateway::CallbackKind::kInbound}) {
    for (const char* method : {"GET", "POST"}) {
      router.Add({method, gateway::CallbackPath(options.gateway->Name(), kind), std::nullopt, "",
                  [&options, kind](const Call& call) {
                    return HandleGatewayCallback(options, kind, call.request);
                  }});
    }
  }
}

}  // namespace surveyd::api
