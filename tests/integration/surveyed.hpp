#pragma once
// A contact decided "survey" and stored, as the integration tests need one: what they test is
// the store, not the rules engine, so the decision is written out here once.
#include <functional>
#include <string>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/store/ingest_store.hpp"

namespace surveyd::testing {

// Surveyed in the force_contact group, in English, through the caller's number: texted at
// `send_at`, the text may go until `expires_at`, the survey takes answers until `closes_at`.
inline Decision SurveyDecision(const Event& event, TimePoint send_at, TimePoint expires_at,
                               TimePoint closes_at,
                               std::string sms_template =
                                   "West Midlands Police: how did we do? "
                                   "{link}") {
  Decision d;
  d.outcome = Decision::Outcome::kSurvey;
  d.group = "force_contact";
  d.reason = "survey";
  d.phone = phone::Normalize(*event.caller->phone);
  d.language = "en";
  d.sms_template = std::move(sms_template);
  d.send_at = send_at;
  d.expires_at = expires_at;
  d.survey_closes_at = closes_at;
  return d;
}

// Stores `event` as a push would, decided by `decide`.
inline std::vector<store::IngestResult> PushOne(
    store::IngestStore& store, const Event& event,
    const std::function<Decision(const Event&)>& decide) {
  store::IngestItem item;
  item.source = "push";
  item.raw = "{}";
  item.event_id = event.event_id;
  item.event = event;
  return store.IngestBatch({item}, [&](const Event& e, const ContactHistory&,
                                       const RelatedEvents&) { return decide(e); });
}

}  // namespace surveyd::testing
