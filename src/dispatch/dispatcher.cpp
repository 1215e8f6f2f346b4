#include "surveyd/dispatch/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "surveyd/core/failpoint.hpp"
#include "surveyd/core/log_context.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::dispatch {

using store::MessageKind;
using store::OutboxMessage;

namespace {

// The outcome label of surveyd_messages_total for an attempt's result.
const char* OutcomeName(store::SendState state) {
  switch (state) {
    case store::SendState::kAccepted:
      return "accepted";
    case store::SendState::kRetry:
      return "retry";
    case store::SendState::kFailed:
      return "failed";
    case store::SendState::kInDoubt:
      return "in_doubt";
  }
  return "failed";
}

}  // namespace

std::chrono::milliseconds Backoff(int attempt, std::chrono::seconds base, std::chrono::seconds max,
                                  double random01) {
  const double exponent = std::min(std::max(attempt - 1, 0), 30);
  const double full = std::min(static_cast<double>(base.count()) * std::pow(2.0, exponent),
                               static_cast<double>(max.count()));
  const double jittered = full / 2 + full / 2 * std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(jittered * 1000));
}

store::SendRecord Classify(const gateway::SendResult& result, const std::string& gateway_name,
                           bool gateway_idempotent, int attempt, bool sent_before,
                           const DispatcherOptions& options, TimePoint now, double random01) {
  using gateway::SendStatus;
  store::SendRecord record;
  record.gateway = gateway_name;
  record.gateway_message_id = result.message_id;
  record.http_status = result.http_status;
  record.error = result.error;
  const auto backoff = Backoff(attempt, options.backoff_base, options.backoff_max, random01);
  const bool attempts_left = attempt < options.max_attempts;

  switch (result.status) {
    case SendStatus::kAccepted:
      record.state = store::SendState::kAccepted;
      record.error.clear();
      break;
    case SendStatus::kPermanent:
      record.state = store::SendState::kFailed;
      break;
    case SendStatus::kTransient:
      record.state = attempts_left ? store::SendState::kRetry : store::SendState::kFailed;
      record.next_attempt_at = now + backoff;
      if (!attempts_left)
        record.error = "gave up after " + std::to_string(attempt) + " attempts: " + result.error;
      break;
    case SendStatus::kThrottled: {
      // The gateway told us how long to wait: never come back sooner (but after the longest
      // pause of the breaker at most, as the breaker waits: a bad header must not expire every
      // text). Being slowed down says nothing of the message, so it counts no attempt against
      // it: it goes when the gateway takes it, or expires on time.
      const auto asked = std::min(result.retry_after.value_or(std::chrono::seconds(1)),
                                  options.breaker.max_open_for);
      auto wait = std::max<Duration>(backoff, asked);
      record.state = store::SendState::kRetry;
      record.counts_attempt = false;
      record.next_attempt_at = now + wait;
      break;
    }
    case SendStatus::kAuth:
      // Our credentials are wrong, not the message: wait long (no tight loop) and let an operator
      // fix it; the message still expires on time if nobody does.
      record.state = store::SendState::kRetry;
      record.next_attempt_at = now + options.backoff_max;
      record.counts_attempt = false;
      break;
    case SendStatus::kInDoubt:
      // The request may have reached the gateway. Resending is safe only where the gateway
      // deduplicates on client_ref; elsewhere the delivery reports settle it.
      record.maybe_sent = true;
      if (gateway_idempotent && attempts_left) {
        record.state = store::SendState::kRetry;
        record.next_attempt_at = now + backoff;
      } else {
        record.state = store::SendState::kInDoubt;
      }
      break;
  }
  if (record.state == store::SendState::kFailed && sent_before) {
    // Given up on, but an earlier request may have reached the gateway (an in-doubt answer
    // retried with the same client_ref): it may have reached the handset, so it is held in
    // doubt for its delivery reports to settle, as when it is cancelled or expires. Called
    // failed, it would take no report (a failed message is final).
    record.state = store::SendState::kInDoubt;
    record.error += "; an earlier request may have reached the gateway";
  }
  return record;
}

Dispatcher::Meters::Meters(metrics::Registry& registry)
    : messages(registry.Counters("surveyd_messages_total",
                                 "Messages handled by the dispatcher, by what became of them.",
                                 {"outcome"})),
      send_seconds(registry.Histograms("surveyd_gateway_send_seconds",
                                       "Time the gateway took to answer a send, by result.",
                                       {"gateway", "result"}, metrics::LatencyBuckets())),
      held_by_ops(registry
                      .Gauges("surveyd_sends_held_by_ops",
                              "1 while ops hold every text (surveyd sends hold), else 0; absent "
                              "while the hold cannot be read.")
                      .With({})),
      held_by_ops_read(registry
                           .Gauges("surveyd_sends_held_by_ops_last_success_timestamp_seconds",
                                   "When the ops hold was last read for surveyd_sends_held_by_ops "
                                   "(Unix time; 0: not yet).")
                           .With({})) {
  held_by_ops.Unset();  // not read yet
}

void Dispatcher::Count(const char* outcome, std::size_t n) {
  if (meters_ && n > 0) meters_->messages.With({outcome}).Inc(static_cast<std::uint64_t>(n));
}

Dispatcher::Dispatcher(DispatcherOptions options, store::OutboxStore& store,
                       gateway::Sender& gateway, const Clock& clock, RulesProvider rules,
                       std::unique_ptr<store::OutboxListener> listener)
    : options_(std::move(options)),
      store_(store),
      gateway_(gateway),
      clock_(clock),
      rules_(std::move(rules)),
      listener_(std::move(listener)),
      rate_(store, gateway.Name(), options_.rate_per_second),
      breaker_(options_.breaker),
      random_(std::random_device{}()) {
  if (options_.metrics != nullptr) meters_ = std::make_unique<Meters>(*options_.metrics);
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  stopping_ = false;
  progress_ = std::make_unique<Heartbeat[]>(static_cast<std::size_t>(options_.workers));
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
  if (listener_) listen_thread_ = std::thread([this] { ListenLoop(); });
}

void Dispatcher::RequestStop() {
  stopping_ = true;
  {
    std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

std::optional<Heartbeat::SteadyTime> Dispatcher::LastProgress() const {
  if (workers_.empty() || !progress_) return std::nullopt;
  auto oldest = progress_[0].Last();
  for (std::size_t i = 1; i < workers_.size(); ++i) oldest = std::min(oldest, progress_[i].Last());
  return oldest;
}

void Dispatcher::Stop() {
  RequestStop();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
  if (listen_thread_.joinable()) listen_thread_.join();
}

void Dispatcher::Wake() {
  {
    std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

void Dispatcher::WakeAt(TimePoint due, std::chrono::milliseconds grain) {
  const auto until = due - clock_.Now();
  if (until <= TimePoint::duration::zero()) {
    Wake();
    return;
  }
  using Steady = std::chrono::steady_clock;
  // Rounded up to the grain, so that the texts of a burst share one look.
  const auto grains = (std::chrono::duration_cast<Steady::duration>(until) +
                       Steady::now().time_since_epoch() + grain - Steady::duration(1)) /
                      grain;
  const Steady::time_point at(grains * grain);
  {
    std::lock_guard lock(wake_mutex_);
    if (!dues_.insert(at).second) return;  // a worker looks then already
    // Past the bound, the latest are forgotten: the poll finds those texts, as it would have.
    if (dues_.size() > kMaxDues) dues_.erase(std::prev(dues_.end()));
    if (at != *dues_.begin()) return;
  }
  wake_.notify_all();  // the waiting workers shorten their wait
}

DispatcherStatus Dispatcher::Status() const {
  std::lock_guard lock(status_mutex_);
  DispatcherStatus status = status_;
  const TimePoint now = clock_.Now();
  status.breaker = BreakerStateName(breaker_.state(now));
  if (const auto wait = breaker_.gateway_wait(now)) {
    status.gateway_wait = wait->asked;
    status.gateway_wait_until = wait->until;
  }
  status.breaker_opened = breaker_.times_opened();
  status.gateway_auth_failing = breaker_.credentials_refused();
  return status;
}

void Dispatcher::ListenLoop() {
  auto failure_wait = std::chrono::milliseconds(500);
  while (!stopping_) {
    try {
      // Short waits, so that Stop is never held up for long.
      if (const auto due = listener_->Wait(std::chrono::milliseconds(250))) {
        WakeAt(*due + kNotifiedAfter, kNotifiedGrain);
      }
      listen_failures_.Succeeded();
      failure_wait = std::chrono::milliseconds(500);
    } catch (const std::exception& e) {
      // The workers still poll; the listener reconnects after a pause.
      listen_failures_.Failed(e.what());
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, failure_wait, [this] { return stopping_.load(); });
      failure_wait = std::min(failure_wait * 2, std::chrono::milliseconds(10000));
    }
  }
}

void Dispatcher::WorkerLoop(int index) {
  const std::string worker_id = options_.worker_id + "/" + std::to_string(index);
  Heartbeat& progress = progress_[static_cast<std::size_t>(index)];
  auto failure_wait = std::chrono::milliseconds(500);
  while (!stopping_) {
    progress.Beat();
    Pass pass;
    try {
      pass = RunPass(worker_id);
      progress.Beat();
      worker_failures_.Succeeded();
      failure_wait = std::chrono::milliseconds(500);
    } catch (const std::exception& e) {
      // Caught once here: log (once an outage, whichever worker meets it), remember for the
      // health check, back off, go on.
      worker_failures_.Failed(e.what());
      {
        std::lock_guard lock(status_mutex_);
        status_.last_error = e.what();
      }
      failure_wait = std::min(failure_wait * 2, std::chrono::milliseconds(10000));
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, failure_wait, [this] { return stopping_.load(); });
      continue;
    }
    // A full claim: more may be due right away. One short of it took everything due (what
    // another worker holds aside), and what falls due from now on wakes a worker: a pass now
    // would only find nothing, at the price of a claim and the rate's accounting.
    if (pass.claimed > 0 && pass.claimed >= pass.asked) continue;
    // Nothing more to claim: the rate's slots are used up, the breaker is open, or nothing is due.
    auto wait = options_.poll_interval;
    if (pass.rate_limited) wait = std::min(wait, std::chrono::milliseconds(RateLimiter::kBucket));
    const TimePoint now = clock_.Now();
    if (breaker_.state(now) == CircuitBreaker::State::kOpen) {
      wait = std::min(
          wait, std::chrono::duration_cast<std::chrono::milliseconds>(breaker_.reopens_at() - now) +
                    std::chrono::milliseconds(1));
    }
    WaitForWork(wait);
  }
}

// Until Wake, a due time told by WakeAt, or `poll` has passed.
void Dispatcher::WaitForWork(std::chrono::milliseconds poll) {
  using Steady = std::chrono::steady_clock;
  const Steady::time_point polled = Steady::now() + poll;
  std::unique_lock lock(wake_mutex_);
  while (!woken_ && !stopping_) {
    const Steady::time_point until = dues_.empty() ? polled : std::min(polled, *dues_.begin());
    if (Steady::now() >= until) break;
    wake_.wait_until(lock, until);  // WakeAt notifies to shorten it
  }
  woken_ = false;
  // This pass looks for everything due by now.
  dues_.erase(dues_.begin(), dues_.upper_bound(Steady::now()));
}

void Dispatcher::Maintain() {
  const auto steady_now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(status_mutex_);
    if (steady_now - last_maintenance_ < options_.expiry_interval) return;
    last_maintenance_ = steady_now;
  }
  if (int recovered = store_.RecoverStale(clock_.Now(), gateway_.Idempotent()); recovered > 0) {
    spdlog::warn("dispatch: {} message(s) found mid-request after their sender stopped: {}",
                 recovered,
                 gateway_.Idempotent() ? "due again with the same client_ref"
                                       : "held in doubt for the delivery reports");
    Count("recovered", static_cast<std::size_t>(recovered));
    std::lock_guard lock(status_mutex_);
    status_.recovered += recovered;
  }
  if (int expired = store_.ExpireOverdue(clock_.Now()); expired > 0) {
    spdlog::info("dispatch: {} message(s) expired before they could be sent", expired);
    Count("expired", static_cast<std::size_t>(expired));
    std::lock_guard lock(status_mutex_);
    status_.expired += expired;
  }
}

int Dispatcher::RunOnce(const std::string& worker_id) { return RunPass(worker_id).claimed; }

std::optional<store::SendHold> Dispatcher::OpsHold() {
  if (!options_.ops_hold) return std::nullopt;
  const auto steady_now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(status_mutex_);
    if (last_hold_read_ && steady_now - *last_hold_read_ < options_.ops_hold_interval) {
      return status_.ops_hold;
    }
    last_hold_read_ = steady_now;
  }
  std::optional<store::SendHold> hold;
  try {
    hold = options_.ops_hold();
  } catch (...) {
    // Not known, rather than the last value read: a dashboard would show "not held" through a
    // database outage (alert SurveydSendHoldNotRead reads when it was last read).
    if (meters_) meters_->held_by_ops.Unset();
    throw;
  }
  if (meters_) {
    meters_->held_by_ops.Set(hold ? 1 : 0);
    meters_->held_by_ops_read.Set(static_cast<double>(ToUnixSeconds(clock_.Now())));
  }
  std::lock_guard lock(status_mutex_);
  if (hold.has_value() != status_.ops_hold.has_value()) {
    // The reason is ops' own words, never a citizen's.
    if (hold) {
      spdlog::warn("dispatch: every text held by ops since {} ({}): {}",
                   FormatRfc3339(hold->held_at), hold->held_by, hold->reason);
    } else {
      spdlog::warn("dispatch: the ops hold on texts was released; sending again");
    }
  }
  status_.ops_hold = hold;
  return hold;
}

void Dispatcher::ReadGatewayWait() {
  const auto steady_now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(status_mutex_);
    if (last_wait_read_ && steady_now - *last_wait_read_ < options_.gateway_wait_interval) return;
    last_wait_read_ = steady_now;
  }
  // The time left, not the database's time of its end: this instance's clock may differ.
  if (const auto wait = store_.GatewayHold(gateway_.Name())) {
    const TimePoint now = clock_.Now();
    breaker_.HeldElsewhere(now, now + wait->left, wait->asked);
  }
}

Dispatcher::Pass Dispatcher::RunPass(const std::string& worker_id) {
  Pass pass;
  // Read first, so that its gauge says what is known of the hold whatever holds this instance.
  const bool ops_held = OpsHold().has_value();
  const bool clock_held = options_.hold_sends && options_.hold_sends();
  {
    std::lock_guard lock(status_mutex_);
    if (clock_held != clock_held_) {
      clock_held_ = clock_held;
      if (clock_held) {
        spdlog::error("dispatch: sending held: this instance's clock is not trusted");
      } else {
        spdlog::warn("dispatch: sending again: this instance's clock is trusted again");
      }
    }
    status_.sends_held = clock_held;
  }
  if (clock_held) return pass;
  if (ops_held) {
    std::lock_guard lock(status_mutex_);
    status_.sends_held = true;
  }
  // Overdue messages expire under an ops hold as ever. What is claimed under it is where to get
  // help alone (the claim reads the hold itself, store::OutboxStore::ClaimAndBegin): it answers a
  // citizen who just texted that they are in danger, which no hold should leave unanswered.
  Maintain();
  ReadGatewayWait();
  const int allowed = breaker_.Allow(options_.batch_size, clock_.Now());
  if (allowed == 0) return pass;
  RateLimiter::Grant grant = rate_.Take(allowed, RateTime());
  if (grant.slots == 0) {
    breaker_.NothingSent();
    pass.rate_limited = true;
    return pass;
  }
  pass.asked = grant.slots;
  int sent = 0;
  try {
    // One set of rules for the claim (which events of each number it reads back) and the
    // decisions made on what it read.
    auto rules = rules_ ? rules_() : nullptr;
    Decided decided;
    std::vector<OutboxMessage> begun = store_.ClaimAndBegin(
        clock_.Now(), grant.slots, worker_id, options_.lease, options_.send_lease,
        rules::ScreenUnder(rules), [&](const std::vector<OutboxMessage>& claimed) {
          return Decide(claimed, rules.get(), decided);
        });
    pass.claimed = decided.claimed;
    Tally(decided);
    sent = SendBegun(std::move(begun), decided, grant);
  } catch (...) {
    rate_.Settle(grant, 0, RateTime());  // nothing if the requests went
    breaker_.NothingSent();
    throw;
  }
  rate_.Settle(grant, 0, RateTime());  // what no request used
  if (sent == 0) breaker_.NothingSent();
  return pass;
}

// What becomes of each claimed message, decided while the claim holds them: nothing goes out
// and nothing is counted until the store has committed it.
std::vector<store::ClaimOutcome> Dispatcher::Decide(const std::vector<OutboxMessage>& claimed,
                                                    const rules::RuleSet* rules,
                                                    Decided& decided) const {
  using Action = store::ClaimOutcome::Action;
  decided.claimed = static_cast<int>(claimed.size());
  std::vector<store::ClaimOutcome> outcomes(claimed.size());
  if (stopping_) {
    // Left as they were, due: another instance need not wait for anything.
    decided.handed_back = claimed.size();
    return outcomes;
  }
  const TimePoint now = clock_.Now();
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    const OutboxMessage& message = claimed[i];
    const ScopedLogContext log_context({"", message.survey_id});
    Plan plan = PlanMessage(message, rules, now);
    switch (plan.outcome.action) {
      case Action::kBegin:
        decided.texts.emplace(message.id, std::move(plan.sms));
        break;
      case Action::kCancel:
        decided.cancelled.push_back({message.id, message.survey_id, plan.outcome.reason});
        break;
      case Action::kDueAt:
        ++decided.deferred;
        break;
      case Action::kLeave:
        break;
    }
    outcomes[i] = std::move(plan.outcome);
  }
  if (stopping_) {
    // Stopped while deciding: nothing has gone out, so nothing is begun.
    for (auto& outcome : outcomes) {
      if (outcome.action == Action::kBegin) {
        outcome.action = Action::kLeave;
        ++decided.handed_back;
      }
    }
    decided.texts.clear();
  }
  return outcomes;
}

TimePoint Dispatcher::RateTime() const {
  return clock_.Now() - (options_.clock_skew ? options_.clock_skew() : Duration::zero());
}

// The counts and logs of a claim's decisions, once committed.
void Dispatcher::Tally(const Decided& decided) {
  for (const auto& cancelled : decided.cancelled) {
    const ScopedLogContext log_context({"", cancelled.survey_id});
    spdlog::info("dispatch: message {} cancelled before sending: {}", cancelled.message_id,
                 cancelled.reason);
  }
  Count("cancelled", decided.cancelled.size());
  Count("deferred", decided.deferred);
  Count("handed_back", decided.handed_back);
  std::lock_guard lock(status_mutex_);
  status_.cancelled += static_cast<std::int64_t>(decided.cancelled.size());
  status_.deferred += static_cast<std::int64_t>(decided.deferred);
}

// Sends the texts a claim began, and records their answers; returns how many requests were
// made. The grant is settled as the requests go.
int Dispatcher::SendBegun(std::vector<OutboxMessage> begun, Decided& decided,
                          RateLimiter::Grant& grant) {
  if (begun.empty()) return 0;
  std::vector<gateway::OutgoingSms> texts;
  texts.reserve(begun.size());
  for (const auto& message : begun) texts.push_back(std::move(decided.texts.at(message.id)));

  rate_.Settle(grant, static_cast<int>(begun.size()), RateTime());
  const auto send_started = std::chrono::steady_clock::now();
  const std::vector<gateway::SendResult> results = gateway_.SendAll(texts);
  if (meters_) {
    // The requests of a batch go out together: each is observed with the batch's time, an upper
    // bound of its own.
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - send_started;
    for (const auto& result : results) {
      meters_->send_seconds.With({gateway_.Name(), gateway::SendStatusName(result.status)})
          .Observe(took.count());
    }
  }
  // The gateway has the texts; a crash here leaves them `sending` for RecoverStale.
  SURVEYD_FAILPOINT("dispatch.after_gateway_before_commit");
  Record(begun, results);
  return static_cast<int>(begun.size());
}

Dispatcher::Plan Dispatcher::PlanMessage(const OutboxMessage& message, const rules::RuleSet* rules,
                                         TimePoint now) const {
  using Action = store::ClaimOutcome::Action;
  Plan plan;
  auto cancel = [&plan](std::string reason) {
    plan.outcome.action = Action::kCancel;
    plan.outcome.reason = std::move(reason);
    return plan;
  };
  auto due_at = [&plan](TimePoint at) {
    plan.outcome.action = Action::kDueAt;
    plan.outcome.due_at = at;
    return plan;
  };
  if (message.to_e164.empty()) {
    // Erased, or sealed under a key no longer in the ring: nobody to text.
    return cancel("insufficient_data:number");
  }
  if (message.expires_at <= now) {
    // Its time ran out while it waited: left as it is, for the expiry pass to mark.
    return plan;
  }
  if (store::DecidedAgain(message.kind)) {
    // Decided again, now, under the rules in force and with everything stored since about the
    // incident and the number: a later event (its incident flagged DOMESTIC), an opt-out or a
    // reload may have ruled it out, for the survey's link and for a notice about it ("closed",
    // "use the link") alike. (A confirmation goes to a number that opted out by design, and to
    // nobody else; a help text answers the citizen's own words of a moment ago.)
    if (!rules) {
      // Nothing decides without rules: the text waits a poll (serve never runs without them).
      spdlog::error("dispatch: no rules loaded; message {} waits", message.id);
      return due_at(now + options_.poll_interval);
    }
    if (!message.event) return cancel("insufficient_data:stored_event");
    if (const Decision again =
            rules::Decide(*rules, *message.event, message.history, message.related, now);
        ForbidsSending(again)) {
      return cancel(again.reason);
    }
  }

  plan.outcome.action = Action::kBegin;
  plan.sms.client_ref = message.client_ref;
  plan.sms.to_e164 = message.to_e164;
  if (message.kind != MessageKind::kSurvey) {
    // The next question, the thanks, a confirmation, where to get help: answers to the
    // citizen's own text, so they go at once, quiet hours or not, until their own deadline.
    plan.sms.body = message.body;
    return plan;
  }
  // A retry, a backlog or a late claim can drift into the night: quiet hours hold for every
  // attempt, not just the first, and pause the text's window as they do when it is decided.
  if (const TimePoint window = rules::NextSendWindow(*rules, now); window > now) {
    plan.outcome.expires_at = window + (message.expires_at - now);
    return due_at(window);
  }
  if (message.two_way) {
    const rules::TwoWayTexts* texts = rules->replies().TwoWay(message.language);
    if (texts == nullptr) return cancel("two_way:no_texts:" + message.language);
    plan.sms.body = rules::SmsReplies::FirstText(message.sms_template, *texts);
    return plan;
  }
  const std::string token = token::DeriveToken(options_.token_secret, message.token_nonce);
  plan.outcome.token_hash = token::TokenHash(token);
  plan.sms.body = rules::RenderTemplate(message.sms_template,
                                        {{"link", options_.public_base_url + "/s/" + token}});
  return plan;
}

void Dispatcher::Record(const std::vector<OutboxMessage>& begun,
                        const std::vector<gateway::SendResult>& results) {
  const TimePoint now = clock_.Now();
  std::vector<store::Attempt> attempts;
  attempts.reserve(begun.size());
  std::chrono::seconds asked_wait{0};  // the longest Retry-After of the batch (capped)
  for (std::size_t i = 0; i < begun.size(); ++i) {
    const gateway::SendResult& result = results[i];
    breaker_.Record(result.status, now, result.retry_after);
    attempts.push_back({begun[i].id, begun[i].claim_token, begun[i].attempts,
                        Classify(result, gateway_.Name(), gateway_.Idempotent(), begun[i].attempts,
                                 begun[i].maybe_sent, options_, now, Random01())});
    if (result.status == gateway::SendStatus::kThrottled && result.retry_after) {
      asked_wait = std::max(asked_wait, std::min(*result.retry_after, breaker_.LongestWait()));
    }
  }
  store_.RecordAttempts(attempts, now);
  // The gateway's wait holds every instance sending through it (the same account): written
  // after the answers, which matter more.
  if (asked_wait > std::chrono::seconds(0)) store_.HoldGateway(gateway_.Name(), asked_wait);
  for (const auto& attempt : attempts) Count(OutcomeName(attempt.record.state));

  std::lock_guard lock(status_mutex_);
  for (std::size_t i = 0; i < begun.size(); ++i) {
    const OutboxMessage& message = begun[i];
    const ScopedLogContext log_context({"", message.survey_id});
    const gateway::SendResult& result = results[i];
    const store::SendRecord& record = attempts[i].record;
    if (result.status == gateway::SendStatus::kThrottled) ++status_.throttled;
    if (result.status == gateway::SendStatus::kAuth) ++status_.auth_refused;
    switch (record.state) {
      case store::SendState::kAccepted:
        ++status_.sent;
        spdlog::debug("dispatch: {} message {} to {} accepted by {}",
                      store::MessageKindName(message.kind), message.id,
                      phone::Mask(message.to_e164), gateway_.Name());
        break;
      case store::SendState::kRetry:
        ++status_.retried;
        status_.last_error = result.error;
        spdlog::warn("dispatch: message {} attempt {} {} ({}), will retry", message.id,
                     message.attempts, gateway::SendStatusName(result.status), result.error);
        break;
      case store::SendState::kFailed:
        ++status_.failed;
        status_.last_error = record.error;
        spdlog::warn("dispatch: message {} failed: {}", message.id, record.error);
        break;
      case store::SendState::kInDoubt:
        ++status_.in_doubt;
        spdlog::warn("dispatch: message {} in doubt, held for delivery reports", message.id);
        break;
    }
  }
}

double Dispatcher::Random01() {
  std::lock_guard lock(status_mutex_);
  return std::uniform_real_distribution<double>(0, 1)(random_);
}

}  // namespace surveyd::dispatch
