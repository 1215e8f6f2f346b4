#include "surveyd/dispatch/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "surveyd/core/phone.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::dispatch {

std::chrono::milliseconds Backoff(int attempt, std::chrono::seconds base, std::chrono::seconds max,
                                  double random01) {
  const double exponent = std::min(std::max(attempt - 1, 0), 30);
  const double full = std::min(static_cast<double>(base.count()) * std::pow(2.0, exponent),
                               static_cast<double>(max.count()));
  const double jittered = full / 2 + full / 2 * std::clamp(random01, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(jittered * 1000));
}

store::SendRecord Classify(const gateway::SendResult& result, const std::string& gateway_name,
                           bool gateway_idempotent, int attempt, const DispatcherOptions& options,
                           TimePoint now, double random01) {
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
      // The gateway told us how long to wait: never come back sooner.
      auto wait = std::max<Duration>(backoff, result.retry_after.value_or(std::chrono::seconds(1)));
      record.state = attempts_left ? store::SendState::kRetry : store::SendState::kFailed;
      record.next_attempt_at = now + wait;
      break;
    }
    case SendStatus::kAuth:
      // Our credentials are wrong, not the message: wait long (no tight loop) and let an operator
      // fix it; the message still expires on time if nobody does.
      record.state = store::SendState::kRetry;
      record.next_attempt_at = now + options.backoff_max;
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
  return record;
}

Dispatcher::Dispatcher(DispatcherOptions options, store::OutboxStore& store,
                       gateway::Sender& gateway, const Clock& clock, RulesProvider rules)
    : options_(std::move(options)),
      store_(store),
      gateway_(gateway),
      clock_(clock),
      rules_(std::move(rules)),
      random_(std::random_device{}()) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  stopping_ = false;
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

void Dispatcher::Stop() {
  stopping_ = true;
  Wake();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

void Dispatcher::Wake() {
  {
    std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

DispatcherStatus Dispatcher::Status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void Dispatcher::WorkerLoop(int index) {
  const std::string worker_id = options_.worker_id + "/" + std::to_string(index);
  auto failure_wait = std::chrono::milliseconds(500);
  while (!stopping_) {
    int handled = 0;
    try {
      handled = RunOnce(worker_id);
      failure_wait = std::chrono::milliseconds(500);
    } catch (const std::exception& e) {
      // Caught once here: log, remember for readiness, back off, go on.
      spdlog::error("dispatch worker {}: {}", worker_id, e.what());
      {
        std::lock_guard lock(status_mutex_);
        status_.last_error = e.what();
      }
      failure_wait = std::min(failure_wait * 2, std::chrono::milliseconds(10000));
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, failure_wait, [this] { return stopping_.load(); });
      continue;
    }
    if (handled > 0) continue;  // more may be due right away
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, options_.poll_interval, [this] { return woken_ || stopping_; });
    woken_ = false;
  }
}

int Dispatcher::RunOnce(const std::string& worker_id) {
  const auto steady_now = std::chrono::steady_clock::now();
  bool run_expiry = false;
  {
    std::lock_guard lock(status_mutex_);
    if (steady_now - last_expiry_run_ >= options_.expiry_interval) {
      last_expiry_run_ = steady_now;
      run_expiry = true;
    }
  }
  if (run_expiry) {
    if (int recovered = store_.RecoverStale(clock_.Now(), gateway_.Idempotent()); recovered > 0) {
      spdlog::warn("dispatch: {} message(s) found mid-request after their sender stopped: {}",
                   recovered,
                   gateway_.Idempotent() ? "due again with the same client_ref"
                                         : "held in doubt for the delivery reports");
      std::lock_guard lock(status_mutex_);
      status_.recovered += recovered;
    }
    if (int expired = store_.ExpireOverdue(clock_.Now()); expired > 0) {
      spdlog::info("dispatch: {} message(s) expired before they could be sent", expired);
      std::lock_guard lock(status_mutex_);
      status_.expired += expired;
    }
  }

  auto batch = store_.ClaimDue(clock_.Now(), options_.batch_size, worker_id, options_.lease);
  const int claimed = static_cast<int>(batch.size());
  for (auto& message : batch) {
    if (stopping_) {
      // Hand unsent claims back at once, so another instance need not wait for the lease.
      store_.Reschedule(message, clock_.Now());
      continue;
    }
    SendOne(std::move(message));
  }
  return claimed;
}

void Dispatcher::SendOne(store::OutboxMessage message) {
  const TimePoint now = clock_.Now();
  const auto rules = rules_ ? rules_() : nullptr;
  // Decided again, now, under the rules in force and with everything stored since about the
  // incident and the number: a later event, an opt-out or a reload may have ruled the text out.
  if (!rules) {
    // Nothing decides without rules: the text waits (serve never runs without them).
    spdlog::error("dispatch: no rules loaded; message {} waits", message.id);
    store_.Reschedule(message, now + options_.poll_interval);
    return;
  }
  std::string ruled_out;
  if (!message.event) {
    ruled_out = "insufficient_data:stored_event";
  } else if (const Decision again =
                 rules::Decide(*rules, *message.event, message.history, message.related, now);
             ForbidsSending(again)) {
    ruled_out = again.reason;
  }
  if (!ruled_out.empty()) {
    store_.Cancel(message, ruled_out, "dispatch", now);
    spdlog::info("dispatch: message {} cancelled before sending: {}", message.id, ruled_out);
    std::lock_guard lock(status_mutex_);
    ++status_.cancelled;
    return;
  }
  // A retry can drift into the night: quiet hours hold for every attempt, not just the first.
  if (const TimePoint window = rules::NextSendWindow(*rules, now); window > now) {
    store_.Reschedule(message, window);
    std::lock_guard lock(status_mutex_);
    ++status_.deferred;
    return;
  }

  const std::string token = token::DeriveToken(options_.token_secret, message.token_nonce);
  const std::string link = options_.public_base_url + "/s/" + token;
  gateway::OutgoingSms sms{message.client_ref, message.to_e164,
                           rules::RenderTemplate(message.sms_template, {{"link", link}})};

  // The one request of this claim, and only if the claim is still ours: a worker that took too
  // long over its batch finds the message claimed again by another and leaves it.
  if (!store_.BeginSend(message, token::TokenHash(token), clock_.Now(), options_.send_lease)) {
    spdlog::info("dispatch: message {} was claimed again by another worker; left to it",
                 message.id);
    std::lock_guard lock(status_mutex_);
    ++status_.lost_claims;
    return;
  }
  Pace();
  const auto result = gateway_.Send(sms);
  double random01 = 0;
  {
    std::lock_guard lock(status_mutex_);
    random01 = std::uniform_real_distribution<double>(0, 1)(random_);
  }
  const auto record = Classify(result, gateway_.Name(), gateway_.Idempotent(), message.attempts,
                               options_, clock_.Now(), random01);
  store_.RecordAttempt(message, record, clock_.Now());

  std::lock_guard lock(status_mutex_);
  status_.gateway_auth_failing = result.status == gateway::SendStatus::kAuth;
  switch (record.state) {
    case store::SendState::kAccepted:
      ++status_.sent;
      spdlog::debug("dispatch: message {} to {} accepted by {}", message.id,
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

void Dispatcher::Pace() {
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(1.0 / options_.rate_per_second));
  std::chrono::steady_clock::time_point slot;
  {
    std::lock_guard lock(pace_mutex_);
    slot = std::max(std::chrono::steady_clock::now(), next_send_slot_);
    next_send_slot_ = slot + interval;
  }
  std::this_thread::sleep_until(slot);
}

}  // namespace surveyd::dispatch
