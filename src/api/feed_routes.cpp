// The command-and-control system's HTTP push (delivery 2 of ../shared/spec/feed.md).
#include <nlohmann/json.hpp>

#include "routes.hpp"
#include "surveyd/core/failpoint.hpp"
#include "surveyd/feed/event_parser.hpp"

namespace surveyd::api {

http::Response HandleFeedPush(const ApiOptions& options, const http::Request& request) {
  if (!SignatureValid(request, options.feed_secret, "X-Feed-Timestamp", "X-Feed-Signature",
                      options.clock->Now())) {
    return JsonError(401, "unauthorized", "missing, stale or invalid X-Feed-Signature");
  }
  auto items = feed::ParseBody(request.body, request.Header("Content-Type"), "push");
  if (items.empty()) return JsonError(400, "empty", "the body holds no events");
  std::atomic<int>& in_flight = *options.pushes_in_flight;
  const int before = in_flight.fetch_add(1);  // counted always, refused past the limit
  if (options.max_pushes_in_flight > 0 && before >= options.max_pushes_in_flight) {
    in_flight.fetch_sub(1);
    auto busy = JsonError(503, "busy", "too many pushes at once; send it again shortly");
    busy.Set("Retry-After", "1");
    return busy;
  }
  struct Done {
    std::atomic<int>& count;
    ~Done() { count.fetch_sub(1); }
  } done{in_flight};
  auto results = options.ingest->IngestBatch(items, options.decider());
  // Stored, not answered: the pusher sends the batch again and the store must take it once.
  SURVEYD_FAILPOINT("push.after_commit_before_202");
  // Only a new survey gives the dispatcher something to send, and only once it is due: a push
  // of excluded or duplicate events does not wake it (each wake is a claim), as for the TCP
  // feed's batches.
  if (const auto due = store::EarliestSend(results); due && options.on_surveys_created) {
    options.on_surveys_created(*due);
  }

  nlohmann::json out = nlohmann::json::array();
  std::int64_t counts[3] = {0, 0, 0};
  for (const auto& r : results) {
    ++counts[static_cast<int>(r.outcome)];
    nlohmann::json entry = {{"event_id", r.event_id},
                            {"result", store::IngestOutcomeName(r.outcome)}};
    if (r.outcome == store::IngestOutcome::kRejected) entry["reason"] = r.reason;
    if (r.outcome == store::IngestOutcome::kAccepted) entry["decision"] = r.reason;
    out.push_back(std::move(entry));
  }
  nlohmann::json body = {
      {"results", out}, {"accepted", counts[0]}, {"duplicate", counts[1]}, {"rejected", counts[2]}};
  return http::Response::Json(202, body.dump());
}

void AddFeedRoutes(Router& router, const ApiOptions& options) {
  router.Add({"POST", "/api/v1/feed/events", std::nullopt, "",
              [&options](const Call& call) { return HandleFeedPush(options, call.request); }});
}

}  // namespace surveyd::api
