#pragma once
// The analysts' side of `serve`, wired in one place: the analytics store on connections and
// threads of its own (database.analytics_url may point at a read replica), the access store on
// the primary (tokens, audit trail), the authenticator, and the sweeper that counts surveys
// closing unanswered into the rollups once a minute.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "surveyd/api/api.hpp"
#include "surveyd/config/config.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/work_queue.hpp"
#include "surveyd/store/pg_analytics.hpp"

namespace surveyd::app {

class Analytics {
 public:
  Analytics(const config::Config& config, const Clock& clock);
  ~Analytics();  // Stop()
  Analytics(const Analytics&) = delete;
  Analytics& operator=(const Analytics&) = delete;

  // Points the API at these components.
  void Wire(api::ApiOptions& options);
  void Start();  // the sweeper
  void Stop();   // the sweeper, then the queue (requests in hand finish)

 private:
  void Sweep();

  const Clock& clock_;
  const int min_cell_size_;
  const std::string figures_noise_key_;  // empty: exact figures
  const int bad_token_limit_;
  std::unique_ptr<store::AccessStore> access_;  // before analytics_, which folds through it
  std::unique_ptr<store::AnalyticsStore> analytics_;
  std::unique_ptr<WorkQueue> queue_;
  std::unique_ptr<api::Authenticator> authenticator_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace surveyd::app
