#include "analytics.hpp"

#include <spdlog/spdlog.h>

#include "surveyd/core/crypto.hpp"
#include "surveyd/core/failure_log.hpp"
#include "surveyd/survey/page.hpp"

namespace surveyd::app {
namespace {

using namespace std::chrono_literals;

// Surveys are counted as closed a few minutes after closing, so that an answer committing at
// the last moment is always seen first. Queued changes are folded into the rollups often, so
// that the queue stays short and a read rarely has anything to fold.
constexpr auto kSweepInterval = 60s;
constexpr auto kFoldInterval = 250ms;
constexpr auto kSweepLag = std::chrono::minutes(5);

std::string BootstrapToken(const config::Config& config) {
  if (!config.api.bootstrap_token.empty()) return config.api.bootstrap_token;
  if (!config.api.analyst_token.empty()) {
    spdlog::warn(
        "api.analyst_token (SURVEYD_ANALYST_TOKEN) is deprecated: it is now an administrator's "
        "bootstrap token; rename it api.bootstrap_token (SURVEYD_API_BOOTSTRAP_TOKEN) and issue "
        "analysts their own tokens with `surveyd token create`");
  }
  return config.api.analyst_token;
}

// The noise's own key, from the survey links' secret, which serve requires and every instance
// shares: the same cell draws the same noise on each. Rotating that secret draws new noise (a few
// more looks at each cell). Without it, a random key: noise that no one can predict.
std::string FiguresNoiseKey(const config::Config& config) {
  if (!config.api.figures_noise) return {};
  if (config.survey.token_secret.empty()) return crypto::RandomBytes(32);
  return crypto::HmacSha256(config.survey.token_secret, "surveyd figures noise");
}

}  // namespace

Analytics::Analytics(const config::Config& config, const Clock& clock)
    : clock_(clock),
      min_cell_size_(config.api.min_cell_size),
      figures_noise_key_(FiguresNoiseKey(config)),
      bad_token_limit_(config.api.bad_token_limit_per_minute) {
  store::PgAnalyticsOptions options;
  options.url =
      config.database.analytics_url.empty() ? config.database.url : config.database.analytics_url;
  options.pool_size = config.database.analytics_pool_size;
  options.statement_timeout = config.database.analytics_statement_timeout;
  // Tokens, the sweeper's folds and the folds before reads; and, on three connections more, every
  // API call's token look-up and audit row.
  access_ = store::MakePgAccessStore(config.database.url, 3);
  options.rollups = access_.get();
  analytics_ = store::MakePgAnalyticsStore(options);
  queue_ =
      std::make_unique<WorkQueue>(config.database.analytics_pool_size, config.api.analytics_queue);
  authenticator_ = api::MakeStoreAuthenticator(*access_, clock_, BootstrapToken(config));
}

Analytics::~Analytics() { Stop(); }

void Analytics::Wire(api::ApiOptions& options) {
  options.analytics = analytics_.get();
  options.tokens = access_.get();
  options.audit = access_.get();
  options.authenticator = authenticator_.get();
  options.analytics_queue = queue_.get();
  options.min_cell_size = min_cell_size_;
  options.figures_noise_key = figures_noise_key_;
  options.bad_token_limit_per_minute = bad_token_limit_;
  options.question_texts = survey::QuestionTexts("en");
  options.question_labels = survey::QuestionLabels();
}

void Analytics::Start() {
  sweeper_ = std::thread([this] { Sweep(); });
}

void Analytics::Sweep() {
  std::unique_lock lock(mutex_);
  auto next_sweep = std::chrono::steady_clock::now();
  // Each said once an outage, not four times a second.
  FailureLog fold_failures("analytics: folding the queued changes", clock_);
  FailureLog sweep_failures("analytics: sweeping closed surveys", clock_);
  while (!stopping_) {
    lock.unlock();
    try {
      // Another instance folding now takes these changes, or its next fold does.
      access_->FoldRollupsIfFree();
      fold_failures.Succeeded();
    } catch (const std::exception& e) {
      fold_failures.Failed(e.what());
    }
    if (std::chrono::steady_clock::now() >= next_sweep) {
      next_sweep += kSweepInterval;
      try {
        const int counted = access_->SweepClosedSurveys(clock_.Now() - kSweepLag);
        if (counted > 0) spdlog::debug("analytics: {} survey(s) closed unanswered", counted);
        sweep_failures.Succeeded();
      } catch (const std::exception& e) {
        sweep_failures.Failed(e.what());
      }
    }
    lock.lock();
    wake_.wait_for(lock, kFoldInterval, [this] { return stopping_; });
  }
}

void Analytics::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  if (queue_) queue_->Stop();
}

}  // namespace surveyd::app
