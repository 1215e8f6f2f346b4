#pragma once
// The dispatcher drains the durable outbox in batches. Each worker, in a loop:
//   1. takes send slots for its batch (the gateway's rate, shared by every instance through the
//      database) while the circuit breaker lets it send;
//   2. claims that many due messages (FOR UPDATE SKIP LOCKED, so instances never take the same);
//   3. decides each again under the rules in force with everything now stored about its incident
//      and number (a text now ruled out is cancelled, quiet hours defer a survey text);
//   4. begins the one request of each claim still its own (one statement for the batch);
//   5. sends the batch through the gateway at once (kept-alive connections, the gateway's limit on
//      requests in flight);
//   6. records every answer (one statement): transient failures retry with exponential backoff
//      and jitter, permanent ones stop, sends in doubt are resent with the same client_ref only
//      through an idempotent gateway and otherwise wait for the delivery reports.
// A new message anywhere has a worker look when it is due (WakeAt, from this instance's ingest or
// the database's notification, which says when); otherwise workers look again every
// poll_interval.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "surveyd/core/clock.hpp"
#include "surveyd/core/failure_log.hpp"
#include "surveyd/core/heartbeat.hpp"
#include "surveyd/dispatch/flow_control.hpp"
#include "surveyd/gateway/gateway.hpp"
#include "surveyd/metrics/metrics.hpp"
#include "surveyd/rules/rule_set.hpp"
#include "surveyd/store/ops_store.hpp"
#include "surveyd/store/outbox_store.hpp"

namespace surveyd::dispatch {

using RulesProvider = std::function<std::shared_ptr<const rules::RuleSet>()>;

struct DispatcherOptions {
  int workers = 2;
  int batch_size = 20;                           // claimed, begun, sent and recorded together
  std::chrono::milliseconds poll_interval{500};  // with nothing to wake a worker
  std::chrono::seconds lease{60};                // a claim still deciding then is given up
  std::chrono::seconds send_lease{60};           // one request: more than the gateway's timeout
  int max_attempts = 8;
  std::chrono::seconds backoff_base{5};
  std::chrono::seconds backoff_max{600};
  std::chrono::milliseconds expiry_interval{5000};  // how often overdue messages are expired
  double rate_per_second = 20;  // per gateway, across every instance; 0: no limit
  BreakerOptions breaker;
  std::string public_base_url;  // the link is {public_base_url}/s/{token}
  std::string token_secret;
  std::string worker_id = "surveyd";     // host/pid, to tell instances apart in the outbox
  metrics::Registry* metrics = nullptr;  // optional: outcomes and gateway latency
  // While it answers true, nothing is claimed, sent, recovered or expired here: this instance's
  // clock cannot be trusted (app/components.hpp ClockComponent); other instances go on.
  std::function<bool()> hold_sends;
  // How far this instance's clock is ahead of the database's, as last measured (ClockComponent;
  // within max_clock_skew, or nothing is sent). The rate's buckets go by the database's time, so
  // that instances whose clocks differ count their sends in one shared window: by its own clock,
  // an instance two seconds behind would count in buckets the others had left, and each would
  // send the whole rate. Empty: none.
  std::function<Duration()> clock_skew;
  // The hold ops opened on every text (store::OpsStore::ActiveSendHold), read at most once
  // every `ops_hold_interval`: while one is open only help texts (where to get help, answering
  // a citizen's own text) are claimed and sent, and overdue messages still expire. The claims
  // check it themselves (in the database), so a hold opened since the last read is kept all the
  // same; this is what the status and surveyd_sends_held_by_ops report.
  std::function<std::optional<store::SendHold>()> ops_hold;
  std::chrono::milliseconds ops_hold_interval{1000};
  // How often the wait the gateway asked of another instance (a 429's Retry-After, shared
  // through the database: OutboxStore::GatewayHold) is read.
  std::chrono::milliseconds gateway_wait_interval{1000};
};

// Delay before the next attempt after `attempt` failures: base * 2^(attempt-1), capped, with
// "equal jitter" (half fixed, half random) so that retries from many messages spread out.
std::chrono::milliseconds Backoff(int attempt, std::chrono::seconds base, std::chrono::seconds max,
                                  double random01);

// What one gateway answer means for the message (pure, so it is tested without a gateway).
// `sent_before`: an earlier request for it may have reached the gateway (OutboxMessage::
// maybe_sent), so giving up holds it in doubt rather than failing it.
store::SendRecord Classify(const gateway::SendResult& result, const std::string& gateway_name,
                           bool gateway_idempotent, int attempt, bool sent_before,
                           const DispatcherOptions& options, TimePoint now, double random01);

struct DispatcherStatus {
  std::int64_t sent = 0, retried = 0, failed = 0, in_doubt = 0, deferred = 0, expired = 0;
  std::int64_t cancelled = 0;         // ruled out when decided again before sending
  std::int64_t recovered = 0;         // found mid-request after their sender stopped
  std::int64_t throttled = 0;         // 429 answers
  std::int64_t auth_refused = 0;      // 401/403 answers
  bool gateway_auth_failing = false;  // 401/403 since the last success: configuration is wrong
  std::string breaker = "closed";  // closed, open (also while the gateway's wait lasts), half_open
  // While the gateway's own wait lasts (a 429's Retry-After, here or at another instance): what
  // it asked for (at most dispatch.breaker_max_open_s), and until when nothing is sent.
  std::optional<std::chrono::seconds> gateway_wait;
  TimePoint gateway_wait_until;
  std::int64_t breaker_opened = 0;          // times the breaker opened
  bool sends_held = false;                  // hold_sends or an ops hold said so at the last pass
  std::optional<store::SendHold> ops_hold;  // the ops hold open at the last read
  std::string last_error;

  // Sending paused by the gateway: it keeps failing or asked us to wait (the breaker is not
  // closed), or refuses our credentials. The health's "degraded" and surveyd_gateway_sending
  // both read it.
  bool sending_paused() const { return gateway_auth_failing || breaker != "closed"; }
};

class Dispatcher {
 public:
  // `listener` (optional) wakes the workers when any instance queues a message.
  Dispatcher(DispatcherOptions options, store::OutboxStore& store, gateway::Sender& gateway,
             const Clock& clock, RulesProvider rules,
             std::unique_ptr<store::OutboxListener> listener = nullptr);
  ~Dispatcher();

  void Start();        // starts the worker threads (and the listener's)
  void RequestStop();  // claims nothing more; returns at once (Stop waits)
  void Stop();         // finishes the batch in hand, leaves unbegun claims due; safe to call twice
  void Wake();         // a new message may be due: skip the rest of the poll wait
  // A new message is due at `due`: a worker looks then (at once if it is due already), and
  // none before it for that message. A text queued with a delay (every survey group has one)
  // costs one claim when it is due instead of one on arrival that finds nothing.
  void WakeAt(TimePoint due) { WakeAt(due, kDueGrain); }

  // One pass of one worker: recover and expire what is overdue, take slots, claim a batch and
  // send it. Returns how many messages were claimed. The workers loop on this; tests call it.
  int RunOnce(const std::string& worker_id);

  DispatcherStatus Status() const;

  // The oldest of the workers' last progress (a worker beats after every pass, idle passes
  // included, and after every batch it sends); nullopt while not started.
  std::optional<Heartbeat::SteadyTime> LastProgress() const;

 private:
  // Now by the database's clock (DispatcherOptions::clock_skew): the rate's buckets' time.
  TimePoint RateTime() const;
  // What to do with one claimed message, decided before anything goes out: what the claim
  // writes of it, and the text of one begun.
  struct Plan {
    store::ClaimOutcome outcome;  // kLeave until decided
    gateway::OutgoingSms sms;     // kBegin
  };

  // One pass, and why it claimed nothing (so the loop knows how long to wait).
  struct Pass {
    int claimed = 0;
    int asked = 0;              // the most it could claim (the rate's slots, the breaker)
    bool rate_limited = false;  // the rate's slots are used up until a later bucket
  };
  Pass RunPass(const std::string& worker_id);
  void WakeAt(TimePoint due, std::chrono::milliseconds grain);
  void WorkerLoop(int index);
  void WaitForWork(std::chrono::milliseconds poll);
  void ListenLoop();
  void Maintain();
  // What a claim's decisions leave to do once they are committed.
  struct Decided {
    int claimed = 0;
    std::unordered_map<std::int64_t, gateway::OutgoingSms> texts;  // by message: those begun
    struct Cancelled {
      std::int64_t message_id = 0, survey_id = 0;
      std::string reason;
    };
    std::vector<Cancelled> cancelled;
    std::size_t deferred = 0, handed_back = 0;
  };
  std::vector<store::ClaimOutcome> Decide(const std::vector<store::OutboxMessage>& claimed,
                                          const rules::RuleSet* rules, Decided& decided) const;
  void Tally(const Decided& decided);
  int SendBegun(std::vector<store::OutboxMessage> begun, Decided& decided,
                RateLimiter::Grant& grant);
  Plan PlanMessage(const store::OutboxMessage& message, const rules::RuleSet* rules,
                   TimePoint now) const;
  void Record(const std::vector<store::OutboxMessage>& begun,
              const std::vector<gateway::SendResult>& results);
  double Random01();

  DispatcherOptions options_;
  store::OutboxStore& store_;
  gateway::Sender& gateway_;
  const Clock& clock_;
  RulesProvider rules_;
  std::unique_ptr<store::OutboxListener> listener_;
  RateLimiter rate_;
  CircuitBreaker breaker_;

  struct Meters {
    explicit Meters(metrics::Registry& registry);
    metrics::CounterFamily& messages;
    metrics::HistogramFamily& send_seconds;
    metrics::Gauge& held_by_ops;       // absent while the hold cannot be read
    metrics::Gauge& held_by_ops_read;  // when it was last read (Unix time)
  };
  // The ops hold, read again when `ops_hold_interval` has passed since the last read.
  std::optional<store::SendHold> OpsHold();
  // The wait the gateway asked of any instance, read again when `gateway_wait_interval` has
  // passed since the last read, and held here too.
  void ReadGatewayWait();
  std::unique_ptr<Meters> meters_;
  void Count(const char* outcome, std::size_t n = 1);

  std::vector<std::thread> workers_;
  std::thread listen_thread_;
  std::unique_ptr<Heartbeat[]> progress_;  // one per worker
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  // The due times told by WakeAt that have not come yet (steady clock), each rounded up to
  // kDueGrain, at most kMaxDues of them (30 s of a steady flow of batches).
  static constexpr std::chrono::milliseconds kDueGrain{10};
  static constexpr std::size_t kMaxDues = 4096;
  // A notification (LISTEN surveyd_outbox) wakes a worker a little after the text is due, and
  // the notifications of a tenth of a second share one look. The instance that queued a text
  // has woken its own dispatcher already (WakeAt, from ingest), and any of its passes claims
  // every due text, whoever queued it: the notifications are the fallback for an instance that
  // cannot send (held, stopping, or no direct wake: replies queued by the gateway's routes).
  // Taken at once, each group of new texts woke a worker on every instance, and two of the
  // three passes of the soak's two instances claimed nothing (bench/soak.sh's statement table).
  static constexpr std::chrono::milliseconds kNotifiedAfter{50};
  static constexpr std::chrono::milliseconds kNotifiedGrain{100};
  std::set<std::chrono::steady_clock::time_point> dues_;

  mutable std::mutex status_mutex_;
  DispatcherStatus status_;
  std::mt19937_64 random_;
  // The workers' failures, and the listener's, said once an outage (FailureLog).
  FailureLog worker_failures_{"dispatch", clock_};
  FailureLog listen_failures_{"dispatch: outbox notifications", clock_};
  std::chrono::steady_clock::time_point last_maintenance_{};
  std::optional<std::chrono::steady_clock::time_point> last_hold_read_;
  std::optional<std::chrono::steady_clock::time_point> last_wait_read_;
  bool clock_held_ = false;  // hold_sends at the last pass
};

}  // namespace surveyd::dispatch
