// The parts of the store interface that need no database (so the fuzz targets link without pqxx).
#include <algorithm>

#include "surveyd/store/alert_store.hpp"
#include "surveyd/store/ingest_store.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::store {

const char* IngestOutcomeName(IngestOutcome outcome) {
  switch (outcome) {
    case IngestOutcome::kAccepted:
      return "accepted";
    case IngestOutcome::kDuplicate:
      return "duplicate";
    case IngestOutcome::kRejected:
      return "rejected";
  }
  return "unknown";
}

const char* IngestCountName(const IngestResult& result) {
  return result.replayed ? "replayed" : IngestOutcomeName(result.outcome);
}

std::optional<TimePoint> EarliestSend(const std::vector<IngestResult>& results) {
  std::optional<TimePoint> earliest;
  for (const IngestResult& r : results) {
    if (r.outcome != IngestOutcome::kAccepted || !r.send_at) continue;
    if (!earliest || *r.send_at < *earliest) earliest = r.send_at;
  }
  return earliest;
}

const char* AlertStatusName(AlertStatus status) {
  switch (status) {
    case AlertStatus::kOpen:
      return "open";
    case AlertStatus::kAcknowledged:
      return "acknowledged";
    case AlertStatus::kResolved:
      return "resolved";
  }
  return "open";
}

std::optional<AlertStatus> ParseAlertStatus(std::string_view name) {
  for (AlertStatus status :
       {AlertStatus::kOpen, AlertStatus::kAcknowledged, AlertStatus::kResolved}) {
    if (name == AlertStatusName(status)) return status;
  }
  return std::nullopt;
}

const char* NoticeChannelName(NoticeChannel channel) {
  return channel == NoticeChannel::kWebhook ? "webhook" : "email";
}

SurveyAnswers TextAsComment(const SurveyView& view, const std::string& text) {
  SurveyAnswers answers;
  // Whole, though a stored comment keeps its first 2,000 characters: a disclosure after them
  // must still raise its alert (and call for help). A text is as long as its gateway or the
  // page's form let it be.
  answers.comment = text;
  answers.language = view.language;
  return answers;
}

bool CallsForHelp(const AlertFn& raise_alerts, const SurveyView& view,
                  const SurveyAnswers& answers) {
  return raise_alerts && RaisesSafeguarding(raise_alerts(view, answers));
}

}  // namespace surveyd::store
