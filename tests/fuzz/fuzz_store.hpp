#pragma once
// An in-memory store for the HTTP fuzz target: one survey behind a known token, ingest that
// decides nothing, stats from counters. It checks what a store would refuse (scores out of range),
// so that a handler passing nonsense through is a crash the fuzzer finds.
#include <cstdlib>
#include <mutex>

#include "fakes/empty_outbox.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/store/store.hpp"

namespace surveyd::fuzz {

inline constexpr char kToken[] = "4vGMtB_QEyI2oH0EpkDUgw";

class FuzzStore final : public testing::EmptyOutbox<store::Store> {
 public:
  FuzzStore() {
    view_.survey_id = 1;
    view_.group = "force_contact";
    view_.language = "en";
    view_.channel = "101";
    view_.contact_at = FromUnixSeconds(1'800'000'000);
    view_.expires_at = FromUnixSeconds(1'900'000'000);
  }

  bool Ping() override { return true; }
  std::vector<store::IngestResult> IngestBatch(const std::vector<store::IngestItem>& items,
                                               const store::DecideFn& decide,
                                               const std::string&) override {
    std::vector<store::IngestResult> results;
    for (const auto& item : items) {
      if (!item.event) {
        results.push_back({item.event_id, store::IngestOutcome::kRejected, item.reject_reason});
        continue;
      }
      const Decision decision = decide(*item.event, ContactHistory{}, RelatedEvents{});
      results.push_back({item.event_id, store::IngestOutcome::kAccepted, decision.reason});
    }
    return results;
  }
  std::optional<std::int64_t> FeedCursor(const std::string&) override { return std::nullopt; }
  // Nothing stored here is read back, so nothing needs screening.
  ScreenPass ScreenEvents(const EventScreen&, TimePoint, TimePoint, int) override { return {}; }
  bool ApplyDeliveryReport(const DeliveryReport& report) override {
    if (report.gateway_message_id.empty() && report.message_ref.empty()) std::abort();
    return false;
  }
  store::ReplyOutcome ReceiveReply(const InboundSms& sms, const store::ReplyFn&,
                                   const store::AlertFn&, TimePoint) override {
    if (sms.gateway.empty()) std::abort();  // an adapter always names itself
    return {};
  }
  void OptOut(const std::string& e164, const std::string&, TimePoint) override {
    if (e164.empty() || e164[0] != '+') std::abort();  // only normalised numbers reach the store
  }
  bool OptOutBySurvey(std::int64_t id, const std::string&, TimePoint) override {
    return id == view_.survey_id;
  }
  bool KeepLateText(std::int64_t id, const std::string& text, const std::vector<NewAlert>&,
                    TimePoint) override {
    if (text.empty()) std::abort();  // only words are kept, never an empty form
    return id == view_.survey_id;
  }
  std::optional<store::SurveyView> FindSurveyByTokenHash(const std::string& hash) override {
    std::lock_guard lock(mutex_);
    if (hash != token::TokenHash(kToken)) return std::nullopt;
    return view_;
  }
  void MarkOpened(std::int64_t, TimePoint now) override {
    std::lock_guard lock(mutex_);
    if (!view_.opened_at) view_.opened_at = now;
  }
  store::SubmitOutcome SubmitResponse(std::int64_t, const store::SurveyAnswers& answers,
                                      TimePoint) override {
    for (const auto& q : answers.q) {
      if (q && (*q < 0 || *q > 10)) std::abort();
    }
    return store::SubmitOutcome::kStored;  // stays open, so every input can reach the form
  }
  store::Funnel GetFunnel(const store::StatsFilter&) override { return {}; }
  std::vector<store::QuestionStat> GetQuestionStats(const store::StatsFilter&) override {
    return {};
  }
  store::QueueStats GetQueueStats(TimePoint) override { return {}; }
  std::optional<store::SendHold> ActiveSendHold() override { return std::nullopt; }
  store::HoldOutcome HoldSends(const std::string&, const std::string&) override { return {}; }
  store::ReleaseOutcome ReleaseSends(const std::string&, const std::string&, bool,
                                     TimePoint) override {
    return {};
  }
  store::RetentionReport RunRetention(const store::RetentionPolicy&, TimePoint,
                                      const std::string&) override {
    return {};
  }
  store::RekeyReport Rekey(TimePoint) override { return {}; }
  store::ErasureReport Erase(const std::string&, const std::string&, bool, bool,
                             TimePoint) override {
    return {};
  }

 private:
  std::mutex mutex_;
  store::SurveyView view_;
};

}  // namespace surveyd::fuzz
