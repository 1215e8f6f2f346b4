#pragma once
// The notifier pushes each alert to the force's channels and keeps at it, like the dispatcher
// does texts: it creates each alert's rounds of notices (the first at once; another, also to the
// escalation address, every renotify_after of its severity while nobody acknowledges it), claims
// due notices with FOR UPDATE SKIP LOCKED under a lease, sends them (the signed webhook, e-mail
// through the SMTP relay), records every attempt and retries with backoff and jitter. It also
// creates each team's weekly recognition digest once (a unique row) and sends it the same way.
// Time comes from the Clock, so tests drive it with a manual clock and RunOnce.
#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/alerts/recognition.hpp"
#include "surveyd/alerts/smtp.hpp"
#include "surveyd/alerts/webhook.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/failure_log.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/store/alert_store.hpp"

namespace surveyd::alerts {

struct DigestOptions {
  bool enabled = false;
  DigestSchedule schedule;
  std::map<std::string, std::string> recipients;  // team -> address
  std::string default_recipient;  // every other team with answers that week; empty: none
};

struct NotifierOptions {
  std::string worker_id = "surveyd";
  std::chrono::milliseconds poll_interval{1000};
  // How long a notice claimed (one at a time, just before its send) is held: longer than a
  // webhook or SMTP timeout. A notifier that dies mid-send leaves that one notice for this long.
  std::chrono::seconds lease{120};
  int batch_size = 20;  // notices (and alerts' rounds) per pass
  int max_attempts = 10;
  std::chrono::seconds backoff_base{10};
  std::chrono::seconds backoff_max{900};

  WebhookTarget webhook;
  std::vector<std::string> email_to;                              // every alert
  std::map<std::string, std::vector<std::string>> email_by_kind;  // also, by kind's name
  std::vector<std::string> escalate_to;  // re-notices of alerts nobody acknowledged
  std::string email_from;
  SmtpOptions smtp;

  // Links to the dashboard: {base}/dashboard?view=alerts&alert={id}, and ?view=praise.
  std::string public_base_url;
  std::string force_name = "Police";
  // A survey group's name in the rules in force, "" for one they do not hold (the e-mail then
  // names it by its id); none set: ids.
  std::function<std::string(const std::string& group_id)> group_name;
  DigestOptions digest;
  int min_cell_size = 10;
  std::function<double()> random01;  // jitter; default: uniform
};

struct NotifierStatus {
  std::int64_t rounds = 0, sent = 0, retried = 0, failed = 0, digests = 0;
  std::string last_error;
  // When it happened: a last error stays after the notices go again, and an old one is history.
  std::optional<TimePoint> last_error_at;
  bool channels = false;  // a webhook or an e-mail address is configured
};

using AlertConfigProvider = std::function<std::shared_ptr<const AlertConfig>()>;
using ZoneProvider = std::function<std::shared_ptr<const TimeZone>()>;

class Notifier {
 public:
  Notifier(NotifierOptions options, store::AlertStore& store, const Clock& clock,
           AlertConfigProvider config, ZoneProvider zone);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // A sender per channel (the webhook, e-mail), so that one that hangs holds none of the other's.
  void Start();
  void Stop();  // finishes the notices in hand (one per channel); safe to call twice
  void Wake();  // an alert may have been raised

  // One pass: the due rounds, the week's digests, then up to batch_size notices, each claimed
  // just before it is sent. Returns how many notices were handled. The loop calls it; tests
  // call it directly.
  int RunOnce();

  NotifierStatus Status() const;

  // What one attempt means for the notice (pure; tested alone): sent; failed for good when the
  // answer says so (`permanent`) or attempts ran out; otherwise due again after the backoff
  // (at least `retry_after`, when the receiver asked for it).
  static store::NoticeResult Classify(bool sent, bool permanent, int code, std::string error,
                                      int attempt, Duration retry_after,
                                      const NotifierOptions& options, TimePoint now,
                                      double random01);
  // base * 2^(attempt-1), capped, with equal jitter (half fixed, half random).
  static Duration Backoff(int attempt, std::chrono::seconds base, std::chrono::seconds max,
                          double random01);

 private:
  void Loop(store::NoticeChannel channel);
  // RunOnce, sending the notices of `only` (all, when nullopt).
  int Pass(std::optional<store::NoticeChannel> only);
  void MakeDigests(TimePoint now);
  void SendAndRecord(const store::Notice& notice);
  store::NoticeResult Send(const store::Notice& notice, TimePoint now);
  store::NoticeResult SendWebhook(const store::Notice& notice, TimePoint now);
  store::NoticeResult SendEmail(const store::Notice& notice, TimePoint now);
  double Random();

  NotifierOptions options_;
  store::AlertStore& store_;
  const Clock& clock_;
  AlertConfigProvider config_;
  ZoneProvider zone_;

  std::vector<std::thread> threads_;  // a sender per channel
  std::atomic<bool> stopping_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::array<bool, 2> woken_{};  // by channel

  mutable std::mutex status_mutex_;
  NotifierStatus status_;
  std::mt19937_64 random_;
  FailureLog failures_{"alert notifier", clock_};  // said once an outage
  // The digest instant this instance finished (the e-mail sender's alone).
  std::optional<TimePoint> digests_done_for_;
};

}  // namespace surveyd::alerts
