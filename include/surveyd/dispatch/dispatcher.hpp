#pragma once
// The dispatcher drains the durable outbox: workers claim due messages in batches (FOR UPDATE SKIP
// LOCKED, so several instances never take the same one), decide each again under the rules in
// force with everything now stored about its incident and number (a text that is now ruled out is
// cancelled), begin its one request only while the claim is still theirs, build the personal link,
// send through the gateway at the configured rate, and record every attempt. Transient failures
// retry with exponential backoff and jitter; permanent ones stop; quiet hours reached while
// retrying defer.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "surveyd/core/clock.hpp"
#include "surveyd/gateway/gateway.hpp"
#include "surveyd/rules/rule_set.hpp"
#include "surveyd/store/outbox_store.hpp"

namespace surveyd::dispatch {

using RulesProvider = std::function<std::shared_ptr<const rules::RuleSet>()>;

struct DispatcherOptions {
  int workers = 2;
  int batch_size = 20;
  std::chrono::milliseconds poll_interval{500};
  std::chrono::seconds lease{60};       // a claim not begun by then is claimed again
  std::chrono::seconds send_lease{60};  // one request: more than the gateway's timeout
  int max_attempts = 8;
  std::chrono::seconds backoff_base{5};
  std::chrono::seconds backoff_max{600};
  std::chrono::milliseconds expiry_interval{5000};  // how often overdue messages are expired
  double rate_per_second = 20;
  std::string public_base_url;  // the link is {public_base_url}/s/{token}
  std::string token_secret;
  std::string worker_id = "surveyd";  // host/pid, to tell instances apart in the outbox
};

// Delay before the next attempt after `attempt` failures: base * 2^(attempt-1), capped, with
// "equal jitter" (half fixed, half random) so that retries from many messages spread out.
std::chrono::milliseconds Backoff(int attempt, std::chrono::seconds base, std::chrono::seconds max,
                                  double random01);

// What one gateway answer means for the message (pure, so it is tested without a gateway).
store::SendRecord Classify(const gateway::SendResult& result, const std::string& gateway_name,
                           bool gateway_idempotent, int attempt, const DispatcherOptions& options,
                           TimePoint now, double random01);

struct DispatcherStatus {
  std::int64_t sent = 0, retried = 0, failed = 0, in_doubt = 0, deferred = 0, expired = 0;
  std::int64_t cancelled = 0;         // ruled out when decided again before sending
  std::int64_t lost_claims = 0;       // another worker held the message by the time it was begun
  std::int64_t recovered = 0;         // found mid-request after their sender stopped
  bool gateway_auth_failing = false;  // 401/403 on the last attempt: configuration is wrong
  std::string last_error;
};

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, store::OutboxStore& store, gateway::Sender& gateway,
             const Clock& clock, RulesProvider rules);
  ~Dispatcher();

  void Start();  // starts the worker threads
  void Stop();   // finishes the message in hand, then returns; safe to call twice
  void Wake();   // a new message may be due: skip the rest of the poll wait

  // One pass of one worker: expire what is overdue, claim a batch and send it. Returns how many
  // messages were handled. The workers loop on this; tests call it directly.
  int RunOnce(const std::string& worker_id);

  DispatcherStatus Status() const;

 private:
  void WorkerLoop(int index);
  void SendOne(store::OutboxMessage message);
  void Pace();  // holds the gateway to rate_per_second across all workers

  DispatcherOptions options_;
  store::OutboxStore& store_;
  gateway::Sender& gateway_;
  const Clock& clock_;
  RulesProvider rules_;

  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool woken_ = false;

  std::mutex pace_mutex_;
  std::chrono::steady_clock::time_point next_send_slot_{};

  mutable std::mutex status_mutex_;
  DispatcherStatus status_;
  std::mt19937_64 random_;
  std::chrono::steady_clock::time_point last_expiry_run_{};
};

}  // namespace surveyd::dispatch
