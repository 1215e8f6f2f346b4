#pragma once
// The citizen-facing survey pages:
//   GET  /s/{token}        the survey (or "already received" / "not valid or expired")
//   POST /s/{token}        the answers (application/x-www-form-urlencoded)
//   GET  /s/{token}/stop   "stop survey texts?" with a POST button
//   POST /s/{token}/stop   opts the number behind the survey out of every future survey
// The stop link works whether the survey is open, answered or closed, for as long as the survey
// holds its number's hash; after that it says so, and that replying STOP still works.
// A link copied with what followed it ("/s/TOKEN." or "/s/TOKEN)") goes to the link without. A
// closed survey says it closed (410) to whoever holds its whole link; any other link that leads
// nowhere asks for the whole link (404); both say how to reach the force.
// Tokens are only ever looked up by their hash and never logged, nor are answers or comments.
//
// A survey read from the store is kept in memory for a short while with the pages rendered for
// it, so that the page opened again (a citizen reloading, a link preview followed by the tap) is
// answered from memory, on the server's I/O thread (HandleFast), without the database or the
// worker pool. The first open is recorded in the background, in batches. Answers always go to the
// database, which alone decides whether a survey is still open: a survey answered through
// another instance may still show its form here for up to `cache_ttl`, but never takes a second
// answer.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "surveyd/core/alert.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/store/survey_store.hpp"
#include "surveyd/survey/page.hpp"

namespace surveyd::survey {

struct SurveyHandlerOptions {
  SurveyHandlerOptions(store::SurveyStore& store_ref, const Clock& clock_ref)
      : store(store_ref), clock(clock_ref) {}

  store::SurveyStore& store;  // outlives the handler
  const Clock& clock;         // outlives the handler
  PageContext page;
  int bad_token_limit_per_minute = 30;  // unknown/expired tokens per client; <= 0: no limit
  std::size_t rate_limit_max_clients = 10000;
  // What an answer raises (the alert rules in force), decided before it is stored and stored
  // with it; a safeguarding alert also puts where to get help on the thank-you page. Null: none.
  store::AlertFn raise_alerts;
  std::chrono::milliseconds cache_ttl{10000};  // 0: every request reads the store
  std::size_t cache_max_surveys = 5000;
  // Queued first opens are written at least this often (and at Stop).
  std::chrono::milliseconds open_flush_interval{500};
  std::size_t max_queued_opens = 100000;  // past it the oldest are dropped, and counted
};

struct SurveyPagesStatus {
  std::size_t cached_surveys = 0;
  std::size_t queued_opens = 0;
  std::uint64_t opens_recorded = 0;
  std::uint64_t opens_dropped = 0;  // queue full, or the store down at Stop
};

class SurveyPages {
 public:
  explicit SurveyPages(SurveyHandlerOptions options);  // starts the open recorder
  ~SurveyPages();                                      // Stop()
  SurveyPages(const SurveyPages&) = delete;
  SurveyPages& operator=(const SurveyPages&) = delete;

  // Any survey request; may block on the store.
  http::Response Handle(const http::Request& request);
  // Never blocks: answers a GET or HEAD of a survey in the cache, and malformed links; nullopt
  // for everything else (then call Handle, on a thread that may block).
  std::optional<http::Response> HandleFast(const http::Request& request);

  // Writes the queued first opens now (false: the store is down; they stay queued).
  bool FlushOpens();
  // Stops the recorder after writing what it holds (retrying briefly if the store is down).
  // Call it once no request is being handled any more.
  void Stop();

  SurveyPagesStatus Status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Content-Security-Policy of every survey response.
const std::string& SurveyContentSecurityPolicy();

}  // namespace surveyd::survey
