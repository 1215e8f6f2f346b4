#pragma once
// Surveys as the citizen's pages and replies see them: look-up by token hash, first open,
// answers, and opting out.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/event.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

struct SurveyView {
  std::int64_t survey_id = 0;
  std::string group;     // survey group id
  std::string language;  // "en", "pl", ...
  EventType event_type = EventType::kCallEnded;
  std::optional<std::string> channel;  // for "your call to 101"
  TimePoint contact_at;                // occurred_at of the event
  TimePoint expires_at;                // the survey takes answers until then (surveys.closes_at)
  bool responded = false;
  std::optional<TimePoint> opened_at;
};

struct SurveyAnswers {
  std::optional<int> q[5];  // 0-10 or blank
  std::string comment;      // at most 2,000 characters; personal data
  std::string language;
};

enum class SubmitOutcome { kStored, kAlreadyAnswered, kExpired, kNotFound };

struct SurveyOpen {
  std::int64_t survey_id = 0;
  TimePoint at;
};

class SurveyStore {
 public:
  virtual ~SurveyStore() = default;

  virtual std::optional<SurveyView> FindSurveyByTokenHash(const std::string& token_hash) = 0;
  virtual void MarkOpened(std::int64_t survey_id, TimePoint now) = 0;  // first open only
  // Several first opens at once (the survey pages queue them); each counts only for a survey not
  // opened yet. All or none: on Unavailable, none was recorded.
  virtual void MarkOpenedBatch(const std::vector<SurveyOpen>& opens) {
    for (const auto& open : opens) MarkOpened(open.survey_id, open.at);
  }
  virtual SubmitOutcome SubmitResponse(std::int64_t survey_id, const SurveyAnswers& answers,
                                       TimePoint now) = 0;

  // Opt-out of every future survey for this number (E.164); idempotent. Queued texts to the
  // number are cancelled in the same transaction.
  virtual void OptOut(const std::string& e164, const std::string& source, TimePoint now) = 0;
  // Opt-out through the survey link: the number behind that survey.
  virtual bool OptOutBySurvey(std::int64_t survey_id, const std::string& source, TimePoint now) = 0;
};

}  // namespace surveyd::store
