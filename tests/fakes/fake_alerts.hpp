// An alert store with no alerts, for API tests that exercise routing and roles rather than
// alerts themselves (those run against PostgreSQL in tests/integration/alerts_test.cpp).
#pragma once

#include <vector>

#include "surveyd/store/alert_store.hpp"

namespace surveyd::testing {

class EmptyAlertStore : public store::AlertStore {
 public:
  std::vector<store::AlertView> ListAlerts(const store::AlertFilter&) override { return {}; }
  std::optional<store::AlertDetail> GetAlert(std::int64_t) override { return std::nullopt; }
  store::AlertUpdate Acknowledge(std::int64_t, const store::Actor&, const std::string&,
                                 TimePoint) override {
    return store::AlertUpdate::kNotFound;
  }
  store::AlertUpdate Resolve(std::int64_t, const store::Actor&, const std::string&,
                             TimePoint) override {
    return store::AlertUpdate::kNotFound;
  }
  store::Reveal RevealNumber(std::int64_t, const store::Actor&, const std::string&,
                             TimePoint) override {
    store::Reveal reveal;
    reveal.outcome = store::Reveal::Outcome::kNotFound;
    return reveal;
  }
  int ScheduleNotices(TimePoint, const store::NoticePolicy&, int) override { return 0; }
  std::vector<store::Notice> ClaimNotices(TimePoint, int, const std::string&, std::chrono::seconds,
                                          std::optional<store::NoticeChannel>) override {
    return {};
  }
  void RecordNotice(const store::Notice&, const store::NoticeResult&, TimePoint) override {}
  store::RecognitionData Recognition(const store::RecognitionFilter&) override { return {}; }
  std::vector<std::string> TeamsWithAnswers(TimePoint, TimePoint) override { return {}; }
  bool CreateDigest(const store::NewDigest&, TimePoint) override { return false; }
  store::AlertSummary Summary() override { return {}; }
};

}  // namespace surveyd::testing
