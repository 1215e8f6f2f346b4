#include "app/alerts_component.hpp"

#include <spdlog/spdlog.h>

#include "surveyd/alerts/webhook.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/pg_alerts.hpp"

namespace surveyd::app {

AlertsComponent::AlertsComponent(const config::Config& config, std::string force_name,
                                 std::string worker_id, const Clock& clock,
                                 alerts::ZoneProvider zone,
                                 std::function<std::string(const std::string&)> group_name)
    : rules_path_(config.rules.path),
      store_(store::MakePgAlertStore(
          config.database.url, 2,
          crypto::KeyRing::Parse(config.privacy.phone_keys, config.privacy.phone_key_active))) {
  alerts::NotifierOptions options;
  options.worker_id = std::move(worker_id);
  options.poll_interval = config.alerts.poll_interval;
  options.max_attempts = config.alerts.max_attempts;
  options.backoff_base = config.alerts.backoff_base;
  options.backoff_max = config.alerts.backoff_max;
  options.webhook = {config.alerts.webhook_url, config.alerts.webhook_secret,
                     config.alerts.webhook_timeout, config.alerts.webhook_ca_file};
  options.email_to = config.alerts.email_to;
  options.email_by_kind = config.alerts.email_by_kind;
  options.escalate_to = config.alerts.escalate_to;
  options.email_from = config.alerts.email_from;
  options.smtp.host = config.smtp.host;
  options.smtp.port = static_cast<std::uint16_t>(config.smtp.port);
  options.smtp.starttls = config.smtp.starttls;
  options.smtp.ca_file = config.smtp.ca_file;
  options.smtp.username = config.smtp.username;
  options.smtp.password = config.smtp.password;
  options.smtp.timeout = config.smtp.timeout;
  // A lease outlasts the slowest send, so a slow relay is never taken for a dead notifier
  // (config check refuses a lease_s that does not).
  options.lease = config.alerts.lease.count() > 0
                      ? config.alerts.lease
                      : std::chrono::duration_cast<std::chrono::seconds>(
                            std::max(config.smtp.timeout, config.alerts.webhook_timeout)) +
                            std::chrono::seconds(60);
  options.public_base_url = config.http.public_base_url;
  options.force_name = std::move(force_name);
  options.group_name = std::move(group_name);
  options.min_cell_size = config.recognition.min_cell_size;
  options.digest.enabled = !config.recognition.digest_to.empty();
  options.digest.schedule = {config.recognition.digest_weekday, config.recognition.digest_minute};
  for (const auto& [team, address] : config.recognition.digest_to) {
    if (team == "*") {
      options.digest.default_recipient = address;
    } else {
      options.digest.recipients[team] = address;
    }
  }
  if (options.webhook.url.empty() && options.email_to.empty() && options.email_by_kind.empty()) {
    spdlog::warn(
        "alerts: no webhook and no e-mail address configured (alerts.webhook_url, "
        "alerts.email_to): alerts are stored and listed by the API, but nobody is told");
  }
  notifier_ = std::make_unique<alerts::Notifier>(
      std::move(options), *store_, clock, [this] { return Current(); }, std::move(zone));
}

AlertsComponent::~AlertsComponent() { Stop(); }

std::vector<std::string> AlertsComponent::Problems(const config::Config& config) {
  std::vector<std::string> problems;
  // A secret that is missing is said as such by config::ValidateForServe.
  if (!config.alerts.webhook_url.empty() && !config.alerts.webhook_secret.empty() &&
      !alerts::WebhookKey(config.alerts.webhook_secret)) {
    problems.push_back(
        "alerts.webhook_secret (SURVEYD_ALERT_WEBHOOK_SECRET) starts with whsec_ but the rest is "
        "not base64");
  }
  return problems;
}

std::vector<rules::RuleError> AlertsComponent::Stage(std::string_view text) {
  auto loaded = alerts::LoadAlertConfigFile(rules_path_, text);
  for (const auto& warning : loaded.warnings) spdlog::warn("alert rules: {}", warning.ToString());
  std::lock_guard lock(mutex_);
  staged_ = loaded.config;
  if (!loaded.config) {
    last_error_ = loaded.errors.empty() ? "unknown error" : loaded.errors.front().ToString();
    return loaded.errors.empty() ? std::vector<rules::RuleError>{{rules_path_, 0, 0,
                                                                  "the alert rules: unknown error"}}
                                 : loaded.errors;
  }
  return {};
}

void AlertsComponent::Commit() {
  std::lock_guard lock(mutex_);
  if (!staged_) return;
  current_ = std::move(staged_);
  last_error_.clear();
}

std::shared_ptr<const alerts::AlertConfig> AlertsComponent::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::vector<NewAlert> AlertsComponent::Raise(const store::SurveyView& survey,
                                             const store::SurveyAnswers& answers) const {
  const auto config = Current();
  if (!config) return {};
  alerts::Answer answer;
  for (int q = 0; q < 5; ++q) answer.q[q] = answers.q[q];
  answer.comment = answers.comment;
  answer.group = survey.group;
  return alerts::RaiseAlerts(*config, answer);
}

nlohmann::json AlertsComponent::Describe() const {
  const auto status = notifier_->Status();
  const auto config = Current();
  nlohmann::json out = {{"ok", config != nullptr},   {"channels", status.channels},
                        {"rounds", status.rounds},   {"sent", status.sent},
                        {"retried", status.retried}, {"failed", status.failed},
                        {"digests", status.digests}};
  if (config) out["summary"] = config->Summary();
  if (!status.last_error.empty()) out["last_error"] = status.last_error;
  if (status.last_error_at) out["last_error_at"] = FormatRfc3339(*status.last_error_at);
  std::lock_guard lock(mutex_);
  if (!last_error_.empty()) out["last_reload_error"] = last_error_;
  return out;
}

void AlertsComponent::Start() { notifier_->Start(); }

void AlertsComponent::Stop() {
  if (notifier_) notifier_->Stop();
}

}  // namespace surveyd::app
