// Reading the `alerts:` section of the rules file and evaluating an answer against it.
#include "surveyd/alerts/alert_rules.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "alerts/yaml_diagnostics.hpp"

namespace surveyd::alerts {
namespace {

constexpr int kQuestions = 5;

AlertSeverity DefaultSeverity(AlertKind kind) {
  switch (kind) {
    case AlertKind::kSafeguarding:
      return AlertSeverity::kUrgent;
    case AlertKind::kComplaint:
      return AlertSeverity::kHigh;
    case AlertKind::kLowScores:
      return AlertSeverity::kNormal;
  }
  return AlertSeverity::kUrgent;
}

// Lower rank: more severe.
int Rank(AlertSeverity severity) { return static_cast<int>(severity); }

class ConfigLoader : private detail::YamlDiagnostics {
 public:
  ConfigLoader(std::string file, std::string base_dir)
      : YamlDiagnostics(std::move(file)), base_dir_(std::move(base_dir)) {}

  AlertConfigLoad Load(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      // The survey rules loader reports the syntax error with its place; say it once more here
      // only so that this load fails too.
      SyntaxError(text, e);
      return Finish(nullptr);
    }
    const YAML::Node section = root.IsMap() ? root["alerts"] : YAML::Node();
    if (!section) {
      warnings_.push_back({file_, 0, 0,
                           "no 'alerts:' section: no answer raises an alert, however alarming "
                           "its comment (see the shipped config/rules.yaml)",
                           true});
      auto config = std::make_shared<AlertConfig>();
      config->lexicon = std::make_shared<const Lexicon>(
          std::vector<Lexicon::Entry>{}, std::vector<Lexicon::Negation>{},
          std::vector<std::string>{}, std::vector<std::string>{});
      return Finish(std::move(config));
    }
    std::set<std::string> groups;
    if (const YAML::Node list = root["groups"]; list && list.IsSequence()) {
      for (const auto& group : list) {
        if (group.IsMap() && group["id"] && group["id"].IsScalar()) {
          groups.insert(group["id"].Scalar());
        }
      }
    }
    if (!section.IsMap()) {
      Error(section.Mark(), "'alerts' must be a map (lexicon:, renotify_after:, rules:)");
      return Finish(nullptr);
    }
    CheckDuplicateKeys(section);
    auto config = std::make_shared<AlertConfig>();
    config->renotify_after = {{AlertSeverity::kUrgent, std::chrono::minutes(15)},
                              {AlertSeverity::kHigh, std::chrono::hours(24)}};
    bool has_lexicon = false;
    for (const auto& item : section) {
      const std::string key = item.first.Scalar();
      const YAML::Node& value = item.second;
      if (key == "lexicon") {
        has_lexicon = true;
        if (!value.IsScalar() || value.Scalar().empty()) {
          Error(value.Mark(), "alerts.lexicon must name the lexicon file");
          continue;
        }
        config->lexicon_path = value.Scalar();
        const bool relative = config->lexicon_path.front() != '/';
        if (relative && !base_dir_.empty()) {
          config->lexicon_path = base_dir_ + "/" + config->lexicon_path;
        }
        auto loaded = LoadLexiconFile(config->lexicon_path);
        errors_.insert(errors_.end(), loaded.errors.begin(), loaded.errors.end());
        // Rules given as a stream (`rules check /dev/stdin`, a shell's <(...)) have no directory
        // of their own to look in.
        const bool stream = file_.rfind("/dev/", 0) == 0 || file_.rfind("/proc/", 0) == 0;
        if (relative && stream && !loaded.lexicon) {
          Error(value.Mark(), "alerts.lexicon '" + value.Scalar() +
                                  "' is looked for next to the rules file, and " + file_ +
                                  " is a stream, not a file in a directory: name the lexicon by "
                                  "its full path");
        }
        warnings_.insert(warnings_.end(), loaded.warnings.begin(), loaded.warnings.end());
        if (loaded.errors.empty() && !loaded.lexicon) {
          Error(value.Mark(), "cannot load the lexicon " + config->lexicon_path);
        }
        config->lexicon = loaded.lexicon;
      } else if (key == "renotify_after") {
        ReadRenotify(value, *config);
      } else if (key == "max_renotify") {
        const auto n = value.IsScalar() ? YamlWholeNumber(value.Scalar()) : std::nullopt;
        if (!n || *n < 0 || *n > 20) {
          Error(value.Mark(), "alerts.max_renotify must be a whole number from 0 to 20");
        } else {
          config->max_renotify = *n;
        }
      } else if (key == "rules") {
        ReadRules(value, groups, *config);
      } else {
        Error(item.first.Mark(),
              "unknown key '" + key + "' in alerts (lexicon, renotify_after, max_renotify, rules)");
      }
    }
    if (!has_lexicon) Error(section.Mark(), "alerts needs 'lexicon:' (e.g. alert_lexicon.yaml)");
    if (config->lexicon) {
      for (std::size_t i = 0; i < config->rules.size(); ++i) {
        for (const auto& category : config->rules[i].categories) {
          if (!config->lexicon->HasCategory(category)) {
            Error(category_marks_[i], "alert rule '" + config->rules[i].id +
                                          "' names lexicon category '" + category +
                                          "', which has no entries");
          }
        }
      }
    }
    const bool safeguarding =
        std::any_of(config->rules.begin(), config->rules.end(),
                    [](const AlertRule& rule) { return rule.kind == AlertKind::kSafeguarding; });
    if (!safeguarding && errors_.empty()) {
      Warn(section.Mark(),
           "no safeguarding alert rule: nobody is told when a comment says the "
           "person is in danger");
    }
    if (!errors_.empty()) return Finish(nullptr);
    return Finish(std::move(config));
  }

 private:
  AlertConfigLoad Finish(std::shared_ptr<const AlertConfig> config) {
    AlertConfigLoad result;
    if (errors_.empty()) result.config = std::move(config);
    result.errors = std::move(errors_);
    result.warnings = std::move(warnings_);
    return result;
  }

  // "15m", "1h", "2d", "1h30m", or "never".
  std::optional<Duration> ReadDuration(const YAML::Node& node, const std::string& what) {
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    std::chrono::seconds total{0};
    std::size_t i = 0;
    bool ok = !text.empty();
    while (ok && i < text.size()) {
      std::int64_t number = 0;
      std::size_t digits = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 7) {
        number = number * 10 + (text[i++] - '0');
        ++digits;
      }
      if (digits == 0 || i >= text.size()) {
        ok = false;
        break;
      }
      const char unit = text[i++];
      const std::int64_t seconds = unit == 's'   ? 1
                                   : unit == 'm' ? 60
                                   : unit == 'h' ? 3600
                                   : unit == 'd' ? 86400
                                                 : 0;
      if (seconds == 0) ok = false;
      total += std::chrono::seconds(number * seconds);
    }
    if (!ok || total.count() <= 0 || total > std::chrono::hours(24 * 30)) {
      Error(node.Mark(), what +
                             " must be a duration from 1s to 30d such as 15m, 4h, 1d, or "
                             "never");
      return std::nullopt;
    }
    return std::chrono::duration_cast<Duration>(total);
  }

  void ReadRenotify(const YAML::Node& node, AlertConfig& config) {
    if (!node.IsMap()) {
      Error(node.Mark(),
            "alerts.renotify_after must map severities (urgent, high, normal) to "
            "durations");
      return;
    }
    for (const auto& item : node) {
      const auto severity = ParseAlertSeverity(item.first.Scalar());
      if (!severity) {
        Error(item.first.Mark(),
              "unknown severity '" + item.first.Scalar() + "' (urgent, high, normal)");
        continue;
      }
      if (item.second.IsScalar() && item.second.Scalar() == "never") {
        config.renotify_after.erase(*severity);
        continue;
      }
      if (auto duration = ReadDuration(item.second, "renotify_after." + item.first.Scalar())) {
        config.renotify_after[*severity] = *duration;
      }
    }
  }

  std::vector<std::string> Strings(const YAML::Node& node, const std::string& what) {
    std::vector<std::string> out;
    if (!node.IsSequence()) {
      Error(node.Mark(), what + " must be a list, e.g. [a, b]");
      return out;
    }
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        Error(item.Mark(), "each entry of " + what + " must be text");
        continue;
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  void ReadRules(const YAML::Node& node, const std::set<std::string>& groups, AlertConfig& config) {
    if (!node.IsSequence()) {
      Error(node.Mark(), "alerts.rules must be a list of alert rules");
      return;
    }
    std::set<std::string> ids;
    for (const auto& item : node) {
      if (!item.IsMap()) {
        Error(item.Mark(), "each alert rule must be a map (id:, kind:, ...)");
        continue;
      }
      AlertRule rule;
      bool ok = true;
      std::optional<AlertSeverity> severity;
      YAML::Mark categories_mark = item.Mark();
      bool has_kind = false, has_questions = false, has_threshold = false, has_lexicon = false;
      for (const auto& field : item) {
        const std::string key = field.first.Scalar();
        const YAML::Node& value = field.second;
        if (key == "id") {
          const std::string text = value.IsScalar() ? value.Scalar() : "";
          const bool good = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
          });
          if (!good) {
            Error(value.Mark(), "alert rule id must be lower-case letters, digits and _");
            ok = false;
          } else if (!ids.insert(text).second) {
            Error(value.Mark(), "duplicate alert rule id '" + text + "'");
          }
          rule.id = text;
        } else if (key == "description") {
          rule.description = value.IsScalar() ? value.Scalar() : "";
        } else if (key == "kind") {
          has_kind = true;
          const auto kind = value.IsScalar() ? ParseAlertKind(value.Scalar()) : std::nullopt;
          if (!kind) {
            Error(value.Mark(), "kind must be safeguarding, complaint or low_scores");
            ok = false;
          } else {
            rule.kind = *kind;
          }
        } else if (key == "severity") {
          severity = value.IsScalar() ? ParseAlertSeverity(value.Scalar()) : std::nullopt;
          if (!severity) Error(value.Mark(), "severity must be urgent, high or normal");
        } else if (key == "lexicon") {
          has_lexicon = true;
          categories_mark = value.Mark();
          rule.categories = Strings(value, "lexicon");
        } else if (key == "questions") {
          has_questions = true;
          for (const auto& name : Strings(value, "questions")) {
            if (name.size() == 2 && name[0] == 'q' && name[1] >= '1' &&
                name[1] < '1' + kQuestions) {
              rule.questions.push_back(name[1] - '1');
            } else {
              Error(value.Mark(), "unknown question '" + name + "' (q1 to q5)");
            }
          }
        } else if (key == "at_or_below") {
          has_threshold = true;
          const auto score = value.IsScalar() ? YamlWholeNumber(value.Scalar()) : std::nullopt;
          if (!score || *score < 0 || *score > 10) {
            Error(value.Mark(), "at_or_below must be a score from 0 to 10");
          } else {
            rule.at_or_below = *score;
          }
        } else if (key == "match") {
          const std::string text = value.IsScalar() ? value.Scalar() : "";
          if (text != "all" && text != "any") Error(value.Mark(), "match must be all or any");
          rule.match_all = text != "any";
        } else if (key == "groups") {
          for (const auto& group : Strings(value, "groups")) {
            if (!groups.empty() && !groups.count(group)) {
              Error(value.Mark(), "unknown survey group '" + group + "'");
            }
            rule.groups.push_back(group);
          }
        } else {
          Error(field.first.Mark(), "unknown key '" + key +
                                        "' in an alert rule (id, description, kind, severity, "
                                        "lexicon, questions, at_or_below, match, groups)");
        }
      }
      if (rule.id.empty()) {
        Error(item.Mark(), "alert rule without 'id'");
        ok = false;
      }
      if (!has_kind) {
        Error(item.Mark(), "alert rule '" + rule.id + "' has no kind");
        ok = false;
      }
      rule.severity = severity.value_or(DefaultSeverity(rule.kind));
      if (rule.kind == AlertKind::kLowScores) {
        if (!has_questions || rule.questions.empty()) {
          Error(item.Mark(), "low_scores rule '" + rule.id + "' needs questions: [q1, ...]");
        }
        if (!has_threshold) {
          Error(item.Mark(), "low_scores rule '" + rule.id + "' needs at_or_below: N");
        }
        if (has_lexicon) Error(categories_mark, "a low_scores rule reads scores, not the lexicon");
      } else {
        if (has_questions || has_threshold) {
          Error(item.Mark(), "rule '" + rule.id +
                                 "' reads the comment: questions and "
                                 "at_or_below are for low_scores rules");
        }
        if (!has_lexicon) rule.categories = {AlertKindName(rule.kind)};
        if (rule.categories.empty()) Error(categories_mark, "lexicon: names no category");
      }
      if (ok) {
        category_marks_.push_back(categories_mark);
        config.rules.push_back(std::move(rule));
      }
    }
  }

  std::string base_dir_;
  std::vector<YAML::Mark> category_marks_;  // per accepted rule
};

std::string QuestionName(int index) { return "q" + std::to_string(index + 1); }

}  // namespace

std::optional<Duration> AlertConfig::RenotifyAfter(AlertSeverity severity) const {
  if (auto it = renotify_after.find(severity); it != renotify_after.end()) return it->second;
  return std::nullopt;
}

std::string AlertConfig::Summary() const {
  if (rules.empty() && lexicon_path.empty()) return "none (no alerts: section)";
  std::string out = std::to_string(rules.size()) + " alert rule" + (rules.size() == 1 ? "" : "s");
  if (lexicon) out += "; lexicon: " + lexicon->Summary();
  return out;
}

AlertConfigLoad LoadAlertConfigString(std::string_view yaml, const std::string& file_name,
                                      const std::string& base_dir) {
  return ConfigLoader(file_name, base_dir).Load(yaml);
}

AlertConfigLoad LoadAlertConfigFile(const std::string& rules_path) {
  std::string text;
  if (auto error = rules::ReadRulesFile(rules_path, text)) {
    AlertConfigLoad result;
    result.errors.push_back(std::move(*error));
    return result;
  }
  return LoadAlertConfigFile(rules_path, text);
}

AlertConfigLoad LoadAlertConfigFile(const std::string& rules_path, std::string_view text) {
  const auto slash = rules_path.rfind('/');
  const std::string base = slash == std::string::npos ? "." : rules_path.substr(0, slash);
  return LoadAlertConfigString(text, rules_path, base);
}

Evaluation Evaluate(const AlertConfig& config, const Answer& answer) {
  Evaluation evaluation;
  if (config.lexicon && !answer.comment.empty()) {
    evaluation.matches = config.lexicon->Match(answer.comment);
  }
  for (const AlertRule& rule : config.rules) {
    RuleOutcome outcome;
    outcome.rule = &rule;
    if (!rule.groups.empty() &&
        std::find(rule.groups.begin(), rule.groups.end(), answer.group) == rule.groups.end()) {
      outcome.why = "not for survey group '" + answer.group + "'";
      evaluation.rules.push_back(std::move(outcome));
      continue;
    }
    if (rule.kind == AlertKind::kLowScores) {
      int answered = 0, low = 0;
      for (int q : rule.questions) {
        if (!answer.q[q]) continue;
        ++answered;
        if (*answer.q[q] <= rule.at_or_below) {
          ++low;
          outcome.matched.push_back(QuestionName(q) + "=" + std::to_string(*answer.q[q]));
        }
      }
      const int wanted = static_cast<int>(rule.questions.size());
      outcome.fired = rule.match_all ? low == wanted : low > 0;
      outcome.why = std::to_string(low) + " of " + std::to_string(wanted) + " question(s) at or " +
                    "below " + std::to_string(rule.at_or_below) + " (" + std::to_string(answered) +
                    " answered; needs " + (rule.match_all ? "all" : "any") + ")";
      if (!outcome.fired) outcome.matched.clear();
    } else {
      for (const LexiconMatch& match : evaluation.matches) {
        if (match.negated) continue;
        if (std::find(rule.categories.begin(), rule.categories.end(), match.category) ==
            rule.categories.end()) {
          continue;
        }
        const std::string name = MatchName(match);
        if (std::find(outcome.matched.begin(), outcome.matched.end(), name) ==
            outcome.matched.end()) {
          outcome.matched.push_back(name);
        }
      }
      outcome.fired = !outcome.matched.empty();
      outcome.why = outcome.fired ? "the comment matches the lexicon"
                                  : "no lexicon term of its categories in the comment";
    }
    if (outcome.fired) {
      auto alert = std::find_if(evaluation.alerts.begin(), evaluation.alerts.end(),
                                [&](const NewAlert& a) { return a.kind == rule.kind; });
      if (alert == evaluation.alerts.end()) {
        evaluation.alerts.push_back(NewAlert{rule.kind, rule.severity, {}, {}});
        alert = std::prev(evaluation.alerts.end());
      }
      if (Rank(rule.severity) < Rank(alert->severity)) alert->severity = rule.severity;
      alert->rules.push_back(rule.id);
      for (const auto& name : outcome.matched) {
        if (std::find(alert->matched.begin(), alert->matched.end(), name) == alert->matched.end()) {
          alert->matched.push_back(name);
        }
      }
    }
    evaluation.rules.push_back(std::move(outcome));
  }
  return evaluation;
}

std::vector<NewAlert> RaiseAlerts(const AlertConfig& config, const Answer& answer) {
  return Evaluate(config, answer).alerts;
}

std::string ExplainAnswer(const Evaluation& evaluation, const Answer& answer) {
  std::ostringstream out;
  out << "comment, as the lexicon reads it: \"" << NormalizedText(answer.comment) << "\"\n";
  out << "scores:";
  for (int i = 0; i < kQuestions; ++i) {
    out << " " << QuestionName(i) << "=" << (answer.q[i] ? std::to_string(*answer.q[i]) : "-");
  }
  out << "\n";
  if (!answer.group.empty()) out << "survey group: " << answer.group << "\n";
  out << "lexicon matches:";
  if (evaluation.matches.empty()) out << " none";
  out << "\n";
  for (const LexiconMatch& match : evaluation.matches) {
    out << "  " << match.category << " " << match.entry << ": \"" << match.term << "\"";
    if (match.negated) out << " (negated by \"" << match.negation << "\": does not count)";
    if (match.after_negation) {
      out << " after the negation \"" << match.negation << "\" (\"" << match.text << "\": counts)";
    }
    out << "\n";
  }
  out << "alert rules:\n";
  for (const RuleOutcome& outcome : evaluation.rules) {
    out << "  " << (outcome.fired ? "FIRES  " : "-      ") << outcome.rule->id << " ("
        << AlertKindName(outcome.rule->kind) << ", " << AlertSeverityName(outcome.rule->severity)
        << "): " << outcome.why;
    if (!outcome.matched.empty()) {
      out << ": ";
      for (std::size_t i = 0; i < outcome.matched.size(); ++i) {
        out << (i ? ", " : "") << outcome.matched[i];
      }
    }
    out << "\n";
  }
  out << "alerts raised:";
  if (evaluation.alerts.empty()) out << " none";
  out << "\n";
  for (const NewAlert& alert : evaluation.alerts) {
    out << "  " << AlertKindName(alert.kind) << " (" << AlertSeverityName(alert.severity) << ") by";
    for (const auto& id : alert.rules) out << " " << id;
    out << "\n";
  }
  out << "thank-you page: "
      << (RaisesSafeguarding(evaluation.alerts) ? "shows how to get help now (999, 101, helplines)"
                                                : "the usual thanks")
      << "\n";
  return out.str();
}

}  // namespace surveyd::alerts
