#pragma once
// The `surveyd` commands; cli.cpp parses arguments and calls one of these.
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "surveyd/config/config.hpp"
#include "surveyd/metrics/metrics.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::rules {
class RuleSet;
}

namespace surveyd::app {

int Serve(const config::Config& config, std::ostream& err);
// What serve does first: keeps the secrets it holds and the personal data it decrypts out of core
// dumps (RLIMIT_CORE 0, whatever `dumpable`), and, unless `dumpable`, out of reach of other
// processes of the same user too (PR_SET_DUMPABLE 0). "" when done, else what failed.
std::string KeepMemoryPrivate(bool dumpable);
int Migrate(const config::Config& config, std::ostream& out, std::ostream& err);
int Replay(const config::Config& config, std::istream& input, std::ostream& out, std::ostream& err);
int Report(const config::Config& config, std::ostream& out, std::ostream& err);
// Personal data (privacy_commands.cpp).
int Erase(const config::Config& config, const std::string& number, const std::string& reference,
          bool forget_opt_out, bool dry_run, std::ostream& out, std::ostream& err);
int KeysRotate(const config::Config& config, std::ostream& out, std::ostream& err);
int RetentionRun(const config::Config& config, std::ostream& out, std::ostream& err);
// The store's options from the configuration; throws crypto::KeyError for a bad key ring.
store::PgOptions StoreOptions(const config::Config& config, int pool_size,
                              metrics::Registry* metrics);
store::RetentionPolicy RetentionPolicyOf(const config::Config& config);
std::string DescribeRetention(const store::RetentionReport& report);
std::string DescribeRekey(const store::RekeyReport& report);
// The steps of a pass that failed, with why ("2 step(s) failed: ...").
std::string DescribeFailures(const store::RetentionReport& report);

// Loads the configuration from `path` and `env` and checks everything `serve` needs.
int ConfigCheck(const std::string& path, const std::map<std::string, std::string>& env,
                std::ostream& out, std::ostream& err);
// What `serve` would refuse in a loaded configuration (beyond the loading errors), with the rules
// file as `rules_file` read it (rules_file.hpp).
struct RulesFile;
std::vector<std::string> ConfigProblems(const config::Config& config, const RulesFile& rules_file);
// What in a set of rules the configuration cannot keep: a number's hash kept for less time than
// the rules look back over it (the frequency cap, a number's related events). Checked at start,
// by `config check`, by `rules check -c` and on every reload, which keeps the rules in force.
std::vector<std::string> RulesAgainstConfig(const config::Config& config,
                                            const rules::RuleSet& rules);
// The force's name on the survey page, in alert e-mails and digests: survey.force_name, or when
// it is not set the rules' force_name, which signs the texts (a citizen who reads one name in
// the text and another on the page has reason to take the link for a scam).
std::string ForceName(const config::Config& config, const rules::RuleSet& rules);
// A survey.force_name set otherwise than the rules' force_name: said at start and by `config
// check`, not refused (a page may give the name in full where a text abbreviates it).
std::vector<std::string> ForceNameWarnings(const config::Config& config,
                                           const rules::RuleSet& rules);
int Token(const config::Config& config, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err);
// `surveyd sends status|hold|release` (send_hold.cpp).
int Sends(const config::Config& config, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err);
struct RulesCheckOptions {
  std::string rules_path;
  std::string sample_path;  // --sample: the force's type codes; empty: none
  std::string config_path;  // -c: the real link length and sender; empty: a placeholder link
};
int RulesCheck(const RulesCheckOptions& options, std::ostream& out, std::ostream& err);
// `related_path`: NDJSON of other events; empty: none.
int RulesExplain(const std::string& rules_path, const std::string& event_path,
                 const std::string& related_path, std::istream& in, std::ostream& out,
                 std::ostream& err);

// The alerts one answer (JSON: comment, q1..q5, group) raises under the rules file's alerts:.
int RulesExplainAnswer(const std::string& rules_path, const std::string& answer_path,
                       std::istream& in, std::ostream& out, std::ostream& err);
// The kinds each answer of an NDJSON file raises, one line per answer ("none" for none).
int RulesExplainAnswers(const std::string& rules_path, const std::string& answers_path,
                        std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace surveyd::app
