// `surveyd config check [-c FILE]`: everything `serve` would refuse, found without starting
// anything, every problem named.
#include <ostream>

#include "app/alerts_component.hpp"
#include "app/rules_file.hpp"
#include "commands.hpp"
#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/http/server.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::app {

std::vector<std::string> RulesAgainstConfig(const config::Config& config,
                                            const rules::RuleSet& rules) {
  // Retention drops a number's hash (on its surveys, its events and their findings) after
  // phone_hash_days: whatever the rules look back for through it is gone after that.
  std::vector<std::string> problems;
  const int kept = config.retention.phone_hash_days;
  const auto& policy = rules.policy();
  if (kept < policy.frequency_cap_days) {
    problems.push_back("retention.phone_hash_days (" + std::to_string(kept) +
                       ") is shorter than the rules' frequency_cap_days (" +
                       std::to_string(policy.frequency_cap_days) +
                       "): the cap would forget numbers surveyed within it");
  }
  if (const auto lookback = static_cast<int>(policy.number_lookback.count()); kept < lookback) {
    problems.push_back("retention.phone_hash_days (" + std::to_string(kept) +
                       ") is shorter than the rules' number_lookback_days (" +
                       std::to_string(lookback) +
                       "): a number's earlier contacts (a domestic abuse flag, an under-16) "
                       "would be forgotten before the rules stop looking for them");
  }
  // A two-way conversation is deleted phone_hash_days after it started, whatever its state
  // (retention): one that lasts longer would lose its place and start again at the first
  // question.
  if (!rules.replies().two_way.empty() &&
      rules.replies().conversation_lasts > std::chrono::days(kept)) {
    problems.push_back("retention.phone_hash_days (" + std::to_string(kept) +
                       ") is shorter than the rules' two_way lasts: a conversation would be "
                       "deleted while it may still be answered");
  }
  return problems;
}

std::string ForceName(const config::Config& config, const rules::RuleSet& rules) {
  return config.survey.force_name.empty() ? rules.force_name() : config.survey.force_name;
}

std::vector<std::string> ForceNameWarnings(const config::Config& config,
                                           const rules::RuleSet& rules) {
  if (config.survey.force_name.empty() || config.survey.force_name == rules.force_name()) return {};
  return {"survey.force_name (SURVEYD_FORCE_NAME) '" + config.survey.force_name +
          "' is not the rules' force_name '" + rules.force_name() +
          "', which signs the texts: a citizen reads one name in the text and another on the "
          "page; leave survey.force_name unset to use the rules' everywhere"};
}

std::vector<std::string> ConfigProblems(const config::Config& config, const RulesFile& rules_file) {
  std::vector<std::string> problems = config::ValidateForServe(config);
  for (auto& problem : AlertsComponent::Problems(config)) problems.push_back(std::move(problem));
  const rules::LoadResult& loaded = rules_file.rules;
  for (const auto& e : loaded.errors) problems.push_back("rules.path: " + e.ToString());
  // The rules' alerts: section and the lexicon it names, which serve loads as it starts.
  if (loaded.rules) {
    for (const auto& e : rules_file.alerts.errors) {
      problems.push_back("rules.path (alerts): " + e.ToString());
    }
  }
  if (loaded.rules) {
    for (auto& problem : RulesAgainstConfig(config, *loaded.rules)) {
      problems.push_back(std::move(problem));
    }
  }
  for (const auto& [key, file] : config::CaFilesInUse(config)) {
    if (auto error = http::CheckCaFile(file); !error.empty())
      problems.push_back(key + ": " + error);
  }
  if (!config.http.tls_cert_file.empty() && !config.http.tls_key_file.empty()) {
    if (auto error = http::CheckTlsFiles(config.http.tls_cert_file, config.http.tls_key_file);
        !error.empty()) {
      problems.push_back("http.tls_cert_file/http.tls_key_file: " + error);
    }
  }
  return problems;
}

int ConfigCheck(const std::string& path, const std::map<std::string, std::string>& env,
                std::ostream& out, std::ostream& err) {
  auto result = config::LoadAll(path, env);
  std::vector<std::string> problems = result.errors;
  // Read once, for the problems and for whether the rules ask for replies (the sender's warning).
  const RulesFile rules_file = LoadRulesFile(result.config.rules.path);
  // A file that could not be read says nothing of the rules' path: checking the default's
  // would only add a false error.
  if (result.file_read) {
    for (auto& p : ConfigProblems(result.config, rules_file)) problems.push_back(std::move(p));
  }
  const std::string name = path.empty() ? "the environment" : path;
  // A misspelt variable is often why a setting is missing: said with the problems too, as is a
  // sender the network may refuse (the same check as `rules check -c`).
  std::vector<std::string> warnings;
  for (const auto& unknown : config::UnknownVariables(env)) {
    warnings.push_back("the environment: warning: " + unknown);
  }
  // Rules that do not load ask for no replies: their errors are said on their own.
  const auto& rule_set = rules_file.rules.rules;
  for (const auto& sender :
       config::SenderWarnings(result.config, rule_set && rules::AsksForReplies(*rule_set))) {
    warnings.push_back(name + ": warning: " + sender);
  }
  for (const auto& page : config::PageWarnings(result.config)) {
    warnings.push_back(name + ": warning: " + page);
  }
  if (rule_set) {
    for (const auto& named : ForceNameWarnings(result.config, *rule_set)) {
      warnings.push_back(name + ": warning: " + named);
    }
  }
  // The rules' own (a qualifier that will never match, no exclusions), as `rules check` says
  // them: an ExecStartPre that runs this is where ops look.
  if (rule_set) {
    for (const auto& w : rules_file.rules.warnings) warnings.push_back(w.ToString());
  }
  if (!problems.empty()) {
    for (const auto& warning : warnings) err << warning << "\n";
    for (const auto& p : problems) err << "surveyd: " << p << "\n";
    // Each line names its setting or file (a rules file's problems are in that file).
    err << problems.size() << " problem(s) in the configuration ("
        << (path.empty() ? "the environment" : path + " and the environment") << ")\n";
    return 1;
  }
  const auto& c = result.config;
  for (const auto& warning : warnings) out << warning << "\n";
  out << name << ": OK: listening on " << c.http.listen
      << (c.http.tls_cert_file.empty() ? " (plain HTTP)" : " (TLS)") << ", links at "
      << c.http.public_base_url << ", rules " << c.rules.path << ", gateway " << c.gateway.kind
      << ", TCP feed " << (c.feed.tcp.empty() ? "off" : c.feed.tcp) << "\n";
  // Not refused (the dashboard's Alerts view may be how a force works them), but said: an answer
  // that discloses risk would otherwise wait for someone to look.
  if (c.alerts.webhook_url.empty() && c.alerts.email_to.empty() && c.alerts.email_by_kind.empty()) {
    out << name
        << ": warning: no webhook and no e-mail address for alerts (alerts.webhook_url, "
           "alerts.email_to): alerts are stored and shown on the dashboard, but nobody is told\n";
  }
  return 0;
}

}  // namespace surveyd::app
