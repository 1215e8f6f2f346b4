#pragma once
// Alerts in `serve`: the alert rules in force (reloaded with the survey rules on SIGHUP), the
// alert store, and the notifier that pushes alerts to the webhook and by e-mail and sends the
// weekly recognition digests.
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/alerts/notifier.hpp"
#include "surveyd/config/config.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/store/alert_store.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::app {

class AlertsComponent {
 public:
  // `force_name` heads the e-mails (ForceName); `group_name`: a survey group's name in the rules
  // in force ("" if none), for the e-mails.
  AlertsComponent(const config::Config& config, std::string force_name, std::string worker_id,
                  const Clock& clock, alerts::ZoneProvider zone,
                  std::function<std::string(const std::string&)> group_name);
  ~AlertsComponent();

  // What `serve` must refuse to start with (a webhook secret that is not usable).
  static std::vector<std::string> Problems(const config::Config& config);

  // The alert rules are loaded with the survey rules, from the same text of the rules file, and
  // put in force together or not at all (RulesComponent::Companion): Stage loads them aside from
  // `text` and returns the errors; Commit puts what was staged in force.
  std::vector<rules::RuleError> Stage(std::string_view text);
  void Commit();
  std::shared_ptr<const alerts::AlertConfig> Current() const;

  // What an answer raises under the rules in force (store::AlertFn): for the survey pages before
  // storing an answer, and for the store as a two-way answer by text grows.
  std::vector<NewAlert> Raise(const store::SurveyView& survey,
                              const store::SurveyAnswers& answers) const;

  store::AlertStore& store() { return *store_; }
  alerts::Notifier& notifier() { return *notifier_; }
  nlohmann::json Describe() const;  // for /api/v1/health

  void Start();
  void Stop();

 private:
  const std::string rules_path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const alerts::AlertConfig> current_;
  std::shared_ptr<const alerts::AlertConfig> staged_;
  std::string last_error_;
  std::unique_ptr<store::AlertStore> store_;
  std::unique_ptr<alerts::Notifier> notifier_;
};

}  // namespace surveyd::app
