// SMS gateway callbacks: delivery reports and citizens' replies, through whichever adapter is in
// use. The adapter owns the wire format (signatures, parameters, status words, the answer); these
// routes only apply what it read.
#include <spdlog/spdlog.h>

#include "routes.hpp"
#include "surveyd/core/sms_reply.hpp"

namespace surveyd::api {
namespace {

// Without rules to answer with, a text still opts its number out; nothing is sent back.
store::ReplyFn OptOutsOnly() {
  return [](const store::ReplyContext& context, const std::string& body) {
    store::ReplyPlan plan;
    plan.survey_id = context.latest_survey_id;
    if (sms_reply::IsOptOut(body)) {
      plan.disposition = "opt_out";
      plan.opt_out = true;
    }
    return plan;
  };
}

}  // namespace

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
    if (!options.outbox->ApplyDeliveryReport(*report)) {
      // Kept unmatched: applied when a send's answer names the same gateway id.
      spdlog::warn("{} report '{}' for a message not known (yet)", report->gateway,
                   DeliveryStateName(report->state));
    }
  }
  if (const auto& inbound = callback.inbound) {
    // A text without the gateway's id (Kannel's get-url as the operators have it, without
    // &id=%I) is read like any other: it answers the number's open two-way conversation (the
    // store picks it: SurveyStore::ReceiveReply). The same text delivered twice (smsbox's retry
    // after an answer it lost, a replayed request) is known by Kannel's time of it (&ts=%T), or
    // without that by coming again within seconds (kInboundRepeatWindow); a later copy without
    // either would answer the next question too, which reading no Kannel reply at all would not
    // make up for.
    const store::ReplyFn replier = options.replier ? options.replier() : OptOutsOnly();
    // Never the number or the text in the log: they are the citizen's.
    const store::ReplyOutcome outcome = options.surveys->ReceiveReply(
        *inbound, replier, options.raise_alerts, options.clock->Now());
    if (outcome.duplicate) {
      spdlog::info("text through {} delivered again: kept once", inbound->gateway);
    } else {
      spdlog::info("text through {}: {}{}{}", inbound->gateway, outcome.disposition,
                   outcome.texts_queued > 0
                       ? " (" + std::to_string(outcome.texts_queued) + " text(s) queued)"
                       : std::string(),
                   outcome.alerts_raised > 0
                       ? " with " + std::to_string(outcome.alerts_raised) + " alert(s)"
                       : std::string());
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
