#pragma once
// The citizen-facing survey pages, as a function from request to response:
//   GET  /s/{token}        the survey (or "already received" / "not valid or expired")
//   POST /s/{token}        the answers (application/x-www-form-urlencoded)
//   GET  /s/{token}/stop   "stop survey texts?" with a POST button
//   POST /s/{token}/stop   opts the number behind the survey out of every future survey
// Tokens are only ever looked up by their hash and never logged, nor are answers or comments.
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
};

// The Content-Security-Policy of every survey response.
const std::string& SurveyContentSecurityPolicy();

http::Handler MakeSurveyHandler(SurveyHandlerOptions options);

}  // namespace surveyd::survey
