#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/logging.hpp"
#include "app/rules_file.hpp"
#include "commands.hpp"
#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/app/app.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/sms.hpp"
#include "surveyd/core/statistics.hpp"
#include "surveyd/feed/event_parser.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/pg_alerts.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/page.hpp"

namespace surveyd::app {
namespace {

constexpr const char* kUsage = R"(usage: surveyd COMMAND [OPTIONS]

  serve   -c FILE               run the daemon (feed, rules, dispatch, survey pages, API)
  config check [-c FILE]        check the configuration (file and environment) without starting
  erase -c FILE --phone NUMBER|- [--reference REF] [--forget-opt-out] [--dry-run]
                                remove everything held about one number (a data subject's
                                request; - reads it from standard input, out of the shell's
                                history); --dry-run: say what is held, change nothing
  keys rotate -c FILE           re-encrypt numbers and raw events with the active key, re-hash
                                numbers with the active hash key
  retention run -c FILE         run retention once now (serve runs it every retention.interval_s)
  migrate -c FILE               apply database migrations and exit
  replay  -c FILE FILE|-        ingest newline-delimited events from a file or stdin
  report  -c FILE               print the funnel, the scores and the alerts from the database
  token create --role R --name N [-c FILE]   issue an API token (printed once, on the last line)
  token list [-c FILE]          API tokens: id, role, created, last used, revoked, name
  token revoke ID [-c FILE]     revoke an API token
  sends hold --reason TEXT [-c FILE]
                                hold every text to the public, on every instance (a critical
                                incident, a wrong template, a database restored): events are still
                                taken and decided, texts wait
  sends release [--note TEXT] [--cancel-waiting] [-c FILE]
                                send again; --cancel-waiting: cancel the texts that fell due
                                while held
  sends status [-c FILE]        whether texts are held, since when, by whom and why
  rules check FILE [--sample CODES] [-c FILE]
                                validate a rules file: file:line:column: message per error, and
                                warnings on likely mistakes; CODES: the force's type codes (one
                                per line, or NDJSON events); -c: the real link length and sender
  rules explain FILE EVENT.json [--related EVENTS]
                                the decision for one event, and every rule that matched; EVENTS:
                                NDJSON of the other events of its incident and of its number
  rules explain FILE --answer ANSWER.json|-
                                the alerts one answer raises ({"comment": "...", "q1": 0, ...,
                                "group": "..."}): every lexicon match and alert rule
  rules explain FILE --answers ANSWERS.ndjson|-
                                the kinds of alert each answer raises, one line per answer
                                ("complaint low_scores", or "none"), for checkers
  --version                     print the version
  --help                        this text

Every configuration key can be overridden by an environment variable (SURVEYD_DATABASE_URL,
SURVEYD_HTTP_LISTEN, ...) or a file named in SURVEYD_..._FILE: see docs/configuration.md.
)";

// Pulls "NAME FILE" (or "ALIAS FILE") out of args; the rest stays positional.
bool TakeOption(std::vector<std::string>& args, const std::string& name, std::string& path,
                std::ostream& err, const std::string& alias = "") {
  for (auto it = args.begin(); it != args.end(); ++it) {
    if (*it == name || (!alias.empty() && *it == alias)) {
      if (std::next(it) == args.end()) {
        err << "surveyd: " << *it << " needs a file name\n";
        return false;
      }
      path = *std::next(it);
      args.erase(it, it + 2);
      return true;
    }
  }
  return true;
}

// Pulls "-c FILE" / "--config FILE" out of args.
bool TakeConfig(std::vector<std::string>& args, std::string& path, std::ostream& err) {
  return TakeOption(args, "-c", path, err, "--config");
}

bool ReadWholeFile(const std::string& path, std::string& text) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  std::ostringstream buffer;
  buffer << file.rdbuf();
  text = buffer.str();
  return true;
}

// The usage of one command: its lines of kUsage (those naming it, and what follows them
// indented); all of it for a command it does not name.
std::string CommandUsage(const std::string& command) {
  std::istringstream lines(kUsage);
  std::string line, usage;
  bool in_command = false;
  while (std::getline(lines, line)) {
    const auto text = line.find_first_not_of(' ');
    if (text == std::string::npos) {
      in_command = false;
      continue;
    }
    // A command's line starts two spaces in; its description's continuation lines, further.
    if (text == 2) in_command = line.compare(2, command.size() + 1, command + " ") == 0;
    if (in_command) usage += line + "\n";
  }
  return usage.empty() ? kUsage : "usage: surveyd COMMAND [OPTIONS]\n\n" + usage;
}

}  // namespace

int Run(const std::vector<std::string>& all_args, std::istream& in, std::ostream& out,
        std::ostream& err) {
  std::vector<std::string> args = all_args;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    out << "surveyd " << SURVEYD_VERSION << "\n";
    return 0;
  }

  const std::string command = args[0];
  args.erase(args.begin());
  // Help anywhere after a command is its usage, and nothing else: never "migrate --help"
  // migrating, nor "rules check --help" reading a file named --help.
  if (std::any_of(args.begin(), args.end(),
                  [](const std::string& a) { return a == "--help" || a == "-h"; })) {
    out << CommandUsage(command);
    return 0;
  }

  if (command == "rules") {
    const std::string sub = args.empty() ? "" : args[0];
    if (!args.empty()) args.erase(args.begin());
    if (sub == "check") {
      RulesCheckOptions options;
      if (TakeConfig(args, options.config_path, err) &&
          TakeOption(args, "--sample", options.sample_path, err) && args.size() == 1) {
        options.rules_path = args[0];
        return RulesCheck(options, out, err);
      }
    } else if (sub == "explain") {
      std::string related_path;
      std::string answer_path;
      std::string answers_path;
      if (TakeOption(args, "--answer", answer_path, err) && !answer_path.empty() &&
          args.size() == 1) {
        return RulesExplainAnswer(args[0], answer_path, in, out, err);
      }
      if (answer_path.empty() && TakeOption(args, "--answers", answers_path, err) &&
          !answers_path.empty() && args.size() == 1) {
        return RulesExplainAnswers(args[0], answers_path, in, out, err);
      }
      if (answer_path.empty() && answers_path.empty() &&
          TakeOption(args, "--related", related_path, err) && args.size() == 2) {
        return RulesExplain(args[0], args[1], related_path, in, out, err);
      }
    }
    err << "usage: surveyd rules check FILE [--sample CODES] [-c CONFIG]\n"
           "       surveyd rules explain FILE EVENT.json [--related EVENTS.ndjson]\n"
           "       surveyd rules explain FILE --answer ANSWER.json|-\n"
           "       surveyd rules explain FILE --answers ANSWERS.ndjson|-\n";
    return 2;
  }

  if (command == "config") {
    std::string config_path;
    if (!TakeConfig(args, config_path, err)) return 2;
    if (args.size() == 1 && args[0] == "check") {
      return ConfigCheck(config_path, config::ProcessEnvironment(), out, err);
    }
    err << "usage: surveyd config check [-c FILE]\n";
    return 2;
  }

  if (command != "serve" && command != "migrate" && command != "replay" && command != "report" &&
      command != "erase" && command != "keys" && command != "retention" && command != "token" &&
      command != "sends") {
    err << "surveyd: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
  }

  std::string config_path;
  if (!TakeConfig(args, config_path, err)) return 2;
  config::Config config;
  try {
    config = config::Load(config_path, config::ProcessEnvironment());
  } catch (const config::ConfigError& e) {
    err << "surveyd: configuration error: " << e.what() << "\n";
    return 2;
  }

  if (command == "serve") {
    if (!args.empty()) {
      err << "surveyd serve: unexpected argument '" << args[0] << "'\n";
      return 2;
    }
    return Serve(config, err);
  }
  // The commands that take nothing else: an argument they would ignore is a mistake, said
  // before anything is done.
  if ((command == "migrate" || command == "report") && !args.empty()) {
    err << "surveyd " << command << ": unexpected argument '" << args[0] << "'\n\n"
        << CommandUsage(command);
    return 2;
  }
  if (command == "migrate") return Migrate(config, out, err);
  if (command == "keys") {
    if (args.size() == 1 && args[0] == "rotate") return KeysRotate(config, out, err);
    err << "usage: surveyd keys rotate -c FILE\n";
    return 2;
  }
  if (command == "retention") {
    if (args.size() == 1 && args[0] == "run") return RetentionRun(config, out, err);
    err << "usage: surveyd retention run -c FILE\n";
    return 2;
  }
  if (command == "erase") {
    std::string number;
    std::string reference;
    bool forget_opt_out = false;
    bool dry_run = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--phone" && i + 1 < args.size()) {
        number = args[++i];
      } else if (args[i] == "--reference" && i + 1 < args.size()) {
        reference = args[++i];
      } else if (args[i] == "--forget-opt-out") {
        forget_opt_out = true;
      } else if (args[i] == "--dry-run") {
        dry_run = true;
      } else {
        number.clear();
        break;
      }
    }
    if (number == "-") {
      // Read from standard input, so that the number of a person who asked to be forgotten is
      // not copied into the shell's history, `ps` and the sudo log, where no erasure reaches.
      std::getline(in, number);
      if (number.empty()) {
        err << "surveyd erase: no number on standard input\n";
        return 2;
      }
    }
    if (number.empty()) {
      err << "usage: surveyd erase -c FILE --phone NUMBER|- [--reference REF] [--forget-opt-out] "
             "[--dry-run]\n";
      return 2;
    }
    return Erase(config, number, reference.empty() ? "(none given)" : reference, forget_opt_out,
                 dry_run, out, err);
  }
  if (command == "report") return Report(config, out, err);
  if (command == "token") return Token(config, args, out, err);
  if (command == "sends") return Sends(config, args, out, err);

  // replay
  if (args.size() != 1) {
    err << "usage: surveyd replay -c FILE FILE|-\n";
    return 2;
  }
  if (args[0] == "-") return Replay(config, in, out, err);
  std::ifstream file(args[0]);
  if (!file) {
    err << "surveyd replay: cannot read " << args[0] << "\n";
    return 2;
  }
  return Replay(config, file, out, err);
}

int Migrate(const config::Config& config, std::ostream& out, std::ostream& err) {
  try {
    auto report = store::Migrate(config.database.url);
    for (const auto& version : report.applied) out << "applied " << version << "\n";
    out << report.applied.size() << " migration(s) applied, " << report.already_applied
        << " already in place\n";
    return 0;
  } catch (const std::exception& e) {
    err << "surveyd migrate: " << e.what() << "\n";
    return 1;
  }
}

int Replay(const config::Config& config, std::istream& input, std::ostream& out,
           std::ostream& err) {
  SetUpLogging(config.log.format, config.log.level);  // stderr: stdout is for scripts
  auto loaded = rules::LoadFile(config.rules.path);
  if (!loaded.rules) {
    for (const auto& e : loaded.errors) err << e.ToString() << "\n";
    return 2;
  }
  try {
    if (config.database.migrate_on_start) store::Migrate(config.database.url);
    auto store = store::MakePgStore(StoreOptions(config, 1, nullptr));
    SystemClock clock;
    const auto rule_set = loaded.rules;
    const store::DecideFn decide(
        [&](const Event& event, const ContactHistory& history, const RelatedEvents& related) {
          return rules::Decide(*rule_set, event, history, related, clock.Now());
        },
        rules::ScreenUnder(rule_set));

    std::int64_t counts[3] = {0, 0, 0};
    std::vector<std::string> lines;
    auto flush = [&] {
      if (lines.empty()) return;
      std::vector<store::IngestItem> items;
      items.reserve(lines.size());
      for (const auto& line : lines) items.push_back(feed::ParseEvent(line, "replay"));
      for (const auto& result : store->IngestBatch(items, decide)) {
        ++counts[static_cast<int>(result.outcome)];
      }
      lines.clear();
    };
    std::string line;
    while (std::getline(input, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      lines.push_back(std::move(line));
      if (lines.size() >= 500) flush();
    }
    flush();
    out << "replay: " << counts[0] << " accepted, " << counts[1] << " duplicate, " << counts[2]
        << " rejected\n";
    return 0;
  } catch (const std::exception& e) {
    err << "surveyd replay: " << e.what() << "\n";
    return 1;
  }
}

int Report(const config::Config& config, std::ostream& out, std::ostream& err) {
  try {
    auto store = store::MakePgStore(StoreOptions(config, 1, nullptr));
    const auto f = store->GetFunnel({});
    auto row = [&](int indent, const std::string& label, std::int64_t value, std::int64_t of = -1) {
      std::string text(static_cast<std::size_t>(indent), ' ');
      text += label;
      if (text.size() < 40) text.resize(40, ' ');
      out << text << std::setw(8) << value;
      if (of > 0) {
        auto [low, high] = stats::WilsonInterval(value, of);
        out << std::fixed << std::setprecision(1) << "  " << std::setw(5)
            << 100 * stats::Rate(value, of) << "%  (95% CI " << 100 * low << "-" << 100 * high
            << "%)";
      }
      out << "\n";
    };
    if (const auto hold = store->ActiveSendHold()) {
      out << "EVERY TEXT IS HELD by ops (hold " << hold->id << ") since "
          << FormatRfc3339(hold->held_at) << ", by " << hold->held_by << ": " << hold->reason
          << "\n  (surveyd sends release, when it is time)\n\n";
    }
    out << "Funnel\n";
    row(2, "events received", f.events_received);
    row(4, "rejected (malformed)", f.events_rejected);
    row(4, "duplicate deliveries", f.events_duplicate);
    row(4, "no survey group", f.events_ignored);
    row(4, "excluded", f.events_excluded);
    for (const auto& [reason, count] : f.excluded_by_reason) row(6, reason, count);
    row(2, "surveys created", f.surveys_created);
    row(4, "waiting to send", f.pending);
    row(4, "texts sent", f.sms_accepted);
    row(4, "delivered", f.sms_delivered, f.sms_accepted);
    row(4, "failed", f.sms_failed);
    row(4, "expired unsent", f.sms_expired);
    row(4, "cancelled before sending", f.cancelled);
    for (const auto& [reason, count] : f.cancelled_by_reason) row(6, reason, count);
    row(4, "opened", f.opened, f.sms_accepted);
    row(4, "answered", f.answered, f.sms_accepted);

    const auto& labels = survey::QuestionLabels();
    out << "\nScores (0-10)                         n     mean  % scoring 8-10 (95% CI)\n";
    std::size_t index = 0;
    for (const auto& q : store->GetQuestionStats({})) {
      std::string label = index < labels.size() ? labels[index] : q.question;
      ++index;
      label.resize(34, ' ');
      out << "  " << label << std::setw(6) << q.respondents;
      if (q.respondents > 0) {
        auto [low, high] = stats::WilsonInterval(q.top_box, q.respondents);
        out << std::fixed << std::setprecision(1) << std::setw(9) << q.mean << std::setw(9)
            << 100 * stats::Rate(q.top_box, q.respondents) << "%  (" << 100 * low << "-"
            << 100 * high << "%)";
        if (q.respondents < 30) out << "  small sample";
      }
      out << "\n";
    }

    // Whether the loop closes: what answers raised, and whether it reached anyone.
    auto alert_store = store::MakePgAlertStore(
        config.database.url, 1,
        crypto::KeyRing::Parse(config.privacy.phone_keys, config.privacy.phone_key_active));
    const auto alerts = alert_store->Summary();
    out << "\nAlerts raised by answers                open  acknowledged  resolved\n";
    if (alerts.kinds.empty()) out << "  none yet\n";
    for (const auto& kind : alerts.kinds) {
      std::string label = "  " + kind.kind;
      label.resize(40, ' ');
      out << label << std::setw(4) << kind.open << std::setw(14) << kind.acknowledged
          << std::setw(10) << kind.resolved << "\n";
    }
    row(2, "notices delivered (webhook, e-mail)", alerts.notices_sent);
    row(2, "notices still to deliver", alerts.notices_waiting);
    row(2, "notices failed after every attempt", alerts.notices_failed);
    row(2, "weekly praise digests", alerts.digests);
    row(4, "e-mailed", alerts.digests_sent);
    return 0;
  } catch (const std::exception& e) {
    err << "surveyd report: " << e.what() << "\n";
    return 1;
  }
}

int RulesCheck(const RulesCheckOptions& options, std::ostream& out, std::ostream& err) {
  const std::string& path = options.rules_path;
  rules::LoadOptions load;
  if (!options.sample_path.empty()) {
    std::string text;
    if (!ReadWholeFile(options.sample_path, text)) {
      err << "surveyd rules check: cannot read " << options.sample_path << "\n";
      return 2;
    }
    const rules::TypeCodeSample sample = rules::ReadTypeCodeSample(text);
    out << options.sample_path << ": " << sample.codes.size() << " type codes";
    if (sample.skipped_lines > 0) {
      out << " (" << sample.skipped_lines << " events without a readable type code skipped)";
    }
    out << "\n";
    load.sample_type_codes = sample.codes;
    load.sample_name = options.sample_path;
  }

  // The link as long as the real ones: the configured base URL, or a placeholder.
  constexpr std::string_view kPlaceholderBase = "https://surveys.example-forces.police.uk";
  static_assert(kPlaceholderBase.size() == 40);
  constexpr const char* kToken = "AbCdEfGhIjKlMnOpQrStUv";  // a survey token is 22 characters
  std::optional<config::Config> config;
  if (!options.config_path.empty()) {
    try {
      config = config::Load(options.config_path, config::ProcessEnvironment());
    } catch (const config::ConfigError& e) {
      err << "surveyd: configuration error: " << e.what() << "\n";
      return 2;
    }
  }
  const std::string base = config ? config->http.public_base_url : std::string(kPlaceholderBase);
  const std::string link = base + "/s/" + kToken;
  load.link = link;

  // The alerts: section and its lexicon, checked with the rest, in the same read of the file.
  const RulesFile rules_file = LoadRulesFile(path, load);
  const rules::LoadResult& loaded = rules_file.rules;
  const alerts::AlertConfigLoad& alerts_loaded = rules_file.alerts;
  for (const auto& w : loaded.warnings) err << w.ToString() << "\n";
  for (const auto& w : alerts_loaded.warnings) err << w.ToString() << "\n";
  if (!loaded.rules || !alerts_loaded.config) {
    // Both loaders parse the whole file, so both report a YAML syntax error: said once.
    std::vector<std::string> errors;
    for (const auto& e : loaded.errors) errors.push_back(e.ToString());
    for (const auto& e : alerts_loaded.errors) {
      if (std::find(errors.begin(), errors.end(), e.ToString()) == errors.end()) {
        errors.push_back(e.ToString());
      }
    }
    for (const auto& e : errors) err << e << "\n";
    err << errors.size() << " error(s) in " << path << "\n";
    return 1;
  }

  out << path << ": texts with a survey link of " << link.size() << " characters";
  if (config) {
    out << " (" << base << "/s/ and a token)";
  } else {
    out << " (a " << base.size()
        << "-character placeholder base URL: give -c CONFIG for the real one)";
  }
  out << ":\n";
  auto print = [&out](const rules::TemplateLength& t) {
    out << "  " << t.group << "/" << t.language << ": " << t.length.segments
        << (t.length.segments == 1 ? " SMS" : " SMS segments") << " ("
        << sms::EncodingName(t.length.encoding) << ", " << t.length.units
        << (t.length.encoding == sms::Encoding::kGsm7 ? " septets" : " UTF-16 units")
        << " at most; one SMS holds " << t.length.single_limit() << ")\n";
  };
  for (const rules::TemplateLength& t : rules::MeasureTemplates(*loaded.rules, link)) print(t);
  const auto replies = rules::MeasureReplyTexts(*loaded.rules);
  if (!replies.empty())
    out << "texts sent back (two-way questions and closed, opt-out confirmation, help now, "
           "link reply):\n";
  for (const rules::TemplateLength& t : replies) print(t);

  if (config) {
    // What the reload would refuse (RulesComponent), said before the signal is sent.
    if (const auto problems = RulesAgainstConfig(*config, *loaded.rules); !problems.empty()) {
      for (const auto& problem : problems) err << options.config_path << ": " << problem << "\n";
      err << problems.size() << " error(s) in " << path << " with " << options.config_path << "\n";
      return 1;
    }
  }
  std::size_t warnings = loaded.warnings.size() + alerts_loaded.warnings.size();
  if (config) {
    for (const std::string& warning :
         config::SenderWarnings(*config, rules::AsksForReplies(*loaded.rules))) {
      err << options.config_path << ": warning: " << warning << "\n";
      ++warnings;
    }
  } else {
    out << "  (the sender name is checked with -c CONFIG)\n";
  }

  out << path << ": alerts: " << alerts_loaded.config->Summary() << "\n";
  out << path << ": OK: " << loaded.rules->Summary();
  if (warnings > 0) out << " (" << warnings << " warning" << (warnings == 1 ? "" : "s") << ")";
  out << "\n";
  return 0;
}

int RulesExplain(const std::string& rules_path, const std::string& event_path,
                 const std::string& related_path, std::istream& in, std::ostream& out,
                 std::ostream& err) {
  auto loaded = rules::LoadFile(rules_path);
  if (!loaded.rules) {
    for (const auto& e : loaded.errors) err << e.ToString() << "\n";
    return 1;
  }
  std::string text;
  if (event_path == "-") {
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  } else if (!ReadWholeFile(event_path, text)) {
    err << "surveyd rules explain: cannot read " << event_path << "\n";
    return 2;
  }
  auto item = feed::ParseEvent(text, "explain");
  if (!item.event) {
    err << "surveyd rules explain: the event is rejected: " << item.reject_reason << "\n";
    return 1;
  }
  // Other events of the incident go in same_incident, the rest in same_number.
  RelatedEvents related;
  if (!related_path.empty()) {
    std::string lines;
    if (!ReadWholeFile(related_path, lines)) {
      err << "surveyd rules explain: cannot read " << related_path << "\n";
      return 2;
    }
    int n = 0;
    for (std::string_view line : feed::SplitLines(lines)) {
      ++n;
      auto other = feed::ParseEvent(line, "explain");
      if (!other.event) {
        err << "surveyd rules explain: " << related_path << " line " << n
            << " is rejected: " << other.reject_reason << "\n";
        return 1;
      }
      auto& list = other.event->incident.id == item.event->incident.id ? related.same_incident
                                                                       : related.same_number;
      list.push_back(std::move(*other.event));
    }
  }
  // Explains as if this number had no history and the event had just been received.
  auto now = SystemClock().Now();
  auto decision = rules::Decide(*loaded.rules, *item.event, ContactHistory{}, related, now);
  out << rules::ExplainText(decision, loaded.rules->zone());
  // Which pattern took the code, for each exclusion in the trace (on the event, or on the
  // related event it names): an exclusion may have fifteen, and a stem inside a longer word
  // ("*MENTAL*" in ENVIRONMENTAL) is found so.
  const auto event_named = [&](std::string_view id) -> const Event* {
    if (id.empty()) return &*item.event;
    for (const auto* list : {&related.same_incident, &related.same_number}) {
      for (const Event& e : *list) {
        if (e.event_id == id) return &e;
      }
    }
    return nullptr;
  };
  bool headed = false;
  for (const std::string& rule : decision.trace) {
    if (rule.rfind("exclusion:", 0) != 0) continue;
    std::string_view rest = std::string_view(rule).substr(std::string_view("exclusion:").size());
    std::string_view on;
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
      const auto colon = rest.find(':', at);
      on = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      rest = rest.substr(0, at);
    }
    const Event* event = event_named(on);
    if (event == nullptr) continue;
    const std::string matched = rules::MatchedPatterns(*loaded.rules, rest, *event);
    if (matched.empty()) continue;
    if (!headed) out << "type codes matched:\n";
    headed = true;
    out << "  " << rule << ": " << matched << "\n";
  }
  return 0;
}

}  // namespace surveyd::app

namespace surveyd::app {

namespace {

// An answer as `rules explain` takes it: {"comment": "...", "group": "...", "q1": 0-10|null, ...}.
// Empty when it is one; otherwise what is wrong.
std::string ParseAnswer(const nlohmann::json& json, alerts::Answer& answer) {
  if (!json.is_object()) {
    return "the answer must be a JSON object such as {\"comment\": \"...\", \"q1\": 0}";
  }
  for (const auto& [key, value] : json.items()) {
    if (key == "comment" && value.is_string()) {
      answer.comment = value.get<std::string>();
    } else if (key == "group" && value.is_string()) {
      answer.group = value.get<std::string>();
    } else if (key.size() == 2 && key[0] == 'q' && key[1] >= '1' && key[1] <= '5' &&
               (value.is_null() ||
                (value.is_number_integer() && value.get<int>() >= 0 && value.get<int>() <= 10))) {
      if (!value.is_null()) answer.q[key[1] - '1'] = value.get<int>();
    } else {
      return "unexpected '" + key + "' (comment: text, group: text, q1..q5: 0-10 or null)";
    }
  }
  return {};
}

bool ReadInput(const std::string& path, std::istream& in, std::string& text) {
  if (path != "-") return ReadWholeFile(path, text);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return true;
}

// The alert rules and the answers to judge by them; or, when either cannot be read, the exit
// status to stop with (the problem said on `err`).
struct AlertRulesInput {
  std::shared_ptr<const alerts::AlertConfig> config;
  std::string text;
  int status = 0;
};

AlertRulesInput LoadAlertRulesAndInput(const std::string& rules_path, const std::string& input_path,
                                       std::istream& in, std::ostream& err) {
  AlertRulesInput input;
  const auto loaded = alerts::LoadAlertConfigFile(rules_path);
  for (const auto& w : loaded.warnings) err << w.ToString() << "\n";
  if (!loaded.config) {
    for (const auto& e : loaded.errors) err << e.ToString() << "\n";
    input.status = 1;
    return input;
  }
  input.config = loaded.config;
  if (!ReadInput(input_path, in, input.text)) {
    err << "surveyd rules explain: cannot read " << input_path << "\n";
    input.status = 2;
  }
  return input;
}

}  // namespace

int RulesExplainAnswer(const std::string& rules_path, const std::string& answer_path,
                       std::istream& in, std::ostream& out, std::ostream& err) {
  const auto input = LoadAlertRulesAndInput(rules_path, answer_path, in, err);
  if (input.status != 0) return input.status;
  alerts::Answer answer;
  if (const std::string problem =
          ParseAnswer(nlohmann::json::parse(input.text, nullptr, false), answer);
      !problem.empty()) {
    err << "surveyd rules explain: " << problem << "\n";
    return 2;
  }
  out << alerts::ExplainAnswer(alerts::Evaluate(*input.config, answer), answer);
  return 0;
}

int RulesExplainAnswers(const std::string& rules_path, const std::string& answers_path,
                        std::istream& in, std::ostream& out, std::ostream& err) {
  const auto input = LoadAlertRulesAndInput(rules_path, answers_path, in, err);
  if (input.status != 0) return input.status;
  std::istringstream lines(input.text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    alerts::Answer answer;
    if (const std::string problem =
            ParseAnswer(nlohmann::json::parse(line, nullptr, false), answer);
        !problem.empty()) {
      // Nothing half done: a checker must not read a partial list as the whole.
      err << "surveyd rules explain: line " << number << ": " << problem << "\n";
      return 2;
    }
    const auto raised = alerts::RaiseAlerts(*input.config, answer);
    std::string kinds;
    for (const auto& alert : raised)
      kinds += (kinds.empty() ? "" : " ") + std::string(AlertKindName(alert.kind));
    out << (kinds.empty() ? "none" : kinds) << "\n";
  }
  return 0;
}

}  // namespace surveyd::app
