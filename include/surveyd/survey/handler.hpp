#pragma once
// The citizen-facing survey pages, as a function from request to response:
//   GET  /s/{token}        the survey (or "already received" / "not valid or expired")
//   POST /s/{token}        the answers (application/x-www-form-urlencoded)
//   GET  /s/{token}/stop   "stop survey texts?" with a POST button
//   POST /s/{token}/stop   opts the number behind the survey out of every future survey
// Tokens are only ever looked up by their hash and never logged, nor are answers or comments.
#include <functional>
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
  std::function<std::vector<NewAlert>(const store::SurveyView&, const store::SurveyAnswers&)>
      raise_alerts;
};

// The Content-Security-Policy of every survey response.
const std::string& SurveyContentSecurityPolicy();

http::Handler MakeSurveyHandler(SurveyHandlerOptions options);

}  // namespace surveyd::survey
