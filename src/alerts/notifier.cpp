#include "surveyd/alerts/notifier.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "surveyd/core/failpoint.hpp"

namespace surveyd::alerts {
namespace {

// The alert on the dashboard, where the person who follows the link (from the e-mail, or from
// the force's system that took the webhook) signs in and acts on it; the API's route would
// answer them 401 in JSON.
std::string AlertLink(const NotifierOptions& options, std::int64_t id) {
  return options.public_base_url + "/dashboard?view=alerts&alert=" + std::to_string(id);
}

// Seconds from a Retry-After header; 0 when absent or not a number of seconds.
Duration RetryAfter(std::string_view header) {
  if (header.empty() || header.size() > 6) return Duration(0);
  int seconds = 0;
  for (char c : header) {
    if (c < '0' || c > '9') return Duration(0);
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::seconds(seconds);
}

std::string Line(const char* label, const std::optional<std::string>& value) {
  return value ? std::string(label) + ": " + *value + "\n" : "";
}

// The alert's survey group by its name in the rules in force; "" when they do not hold it.
std::string GroupName(const NotifierOptions& options, const store::AlertView& alert) {
  return options.group_name ? options.group_name(alert.context.group) : std::string();
}

std::string KindLabel(AlertKind kind) {
  switch (kind) {
    case AlertKind::kSafeguarding:
      return "Safeguarding";
    case AlertKind::kComplaint:
      return "Complaint";
    case AlertKind::kLowScores:
      return "Low scores";
  }
  return AlertKindName(kind);
}

// A time as the person reading the e-mail reads a clock: the force's local time, zone named
// ("Sun 6 Dec 2026 14:03 Europe/London"); UTC when no zone is loaded.
std::string ReadableTime(TimePoint t, const TimeZone* zone) {
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::shared_ptr<const TimeZone> utc = zone != nullptr ? nullptr : TimeZone::Utc();
  const TimeZone& in = zone != nullptr ? *zone : *utc;
  const LocalDateTime local = in.ToLocal(t);
  char text[64];
  std::snprintf(text, sizeof text, "%s %d %s %d %02d:%02d ", kDays[local.weekday], local.day,
                kMonths[local.month - 1], local.year, local.hour, local.minute);
  return text + in.Name();
}

// The e-mail of an alert's notice: what a supervisor needs to find it, never the comment or the
// number (those are behind the API, with their own audit).
MailMessage AlertMail(const NotifierOptions& options, const store::Notice& notice, TimePoint now,
                      const TimeZone* zone) {
  const store::AlertView& alert = *notice.alert;
  const store::AlertContext& c = alert.context;
  MailMessage mail;
  mail.from = options.email_from;
  mail.to = notice.recipient;
  mail.date = now;
  mail.message_id = "<alert-notice-" + std::to_string(notice.id) + "@surveyd>";
  const std::string kind = KindLabel(alert.kind);
  const NoticeRound round = ReadNoticeRound(alert, notice.round);
  const char* prefix = round.kind == NoticeRound::Kind::kReopened   ? "REOPENED: "
                       : round.kind == NoticeRound::Kind::kReminder ? "UNACKNOWLEDGED: "
                                                                    : "";
  mail.subject = std::string(prefix) + options.force_name + ": " + kind + " alert " +
                 std::to_string(alert.id) + " (" + AlertSeverityName(alert.severity) + ")";
  std::string& b = mail.body;
  b += "A survey answer raised an alert: " + kind + ".\n\n";
  if (round.kind == NoticeRound::Kind::kReopened) {
    b += "It had been acknowledged or resolved; since then the citizen has written again (or "
         "their answer has disclosed more), and it is open again.\n\n";
  }
  if (round.kind == NoticeRound::Kind::kReminder) {
    b += "Nobody has acknowledged it yet: this is reminder " + std::to_string(round.reminder) +
         (notice.escalated ? ", sent to you as the escalation contact" : "") + ".\n\n";
  }
  b += "Alert: " + std::to_string(alert.id) + "\n";
  b += "Severity: " + std::string(AlertSeverityName(alert.severity)) + "\n";
  b += "Raised: " + ReadableTime(alert.created_at, zone) + "\n";
  if (alert.reopened_at) b += "Reopened: " + ReadableTime(*alert.reopened_at, zone) + "\n";
  b += "Rules: ";
  for (std::size_t i = 0; i < alert.rules.size(); ++i) b += (i ? ", " : "") + alert.rules[i];
  const std::string group = GroupName(options, alert);
  b += "\nSurvey: " + std::to_string(alert.survey_id) + " (" + (group.empty() ? c.group : group) +
       ", " + c.event_type + ")\n";
  b += "Contact: " + ReadableTime(c.contact_at, zone) + "\n";
  b += Line("Incident", c.incident_id) + Line("Channel", c.channel) +
       Line("Incident category", c.incident_category) + Line("Incident grade", c.incident_grade) +
       Line("Incident type", c.incident_type_code) + Line("NPU", c.npu) + Line("Beat", c.beat) +
       Line("Call handler", c.handler_id) + Line("Team", c.handler_team) +
       Line("Officer", c.officer_id) + Line("Department", c.department);
  b += "\nRead the answer and acknowledge it (supervisor or safeguarding role):\n";
  b += AlertLink(options, alert.id) + "\n";
  if (alert.kind == AlertKind::kSafeguarding) {
    b += "Only the safeguarding role can reveal the number to call back; every reveal is "
         "recorded.\n";
  }
  return mail;
}

}  // namespace

Notifier::Notifier(NotifierOptions options, store::AlertStore& store, const Clock& clock,
                   AlertConfigProvider config, ZoneProvider zone)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      config_(std::move(config)),
      zone_(std::move(zone)),
      random_(std::random_device{}()) {
  status_.channels = !options_.webhook.url.empty() || !options_.email_to.empty() ||
                     !options_.email_by_kind.empty();
}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  stopping_ = false;
  // A sender per channel: one sending every notice in turn made each e-mail queued behind a
  // webhook receiver that hangs wait out the webhook's whole timeout, attempt after attempt.
  for (const auto channel : {store::NoticeChannel::kWebhook, store::NoticeChannel::kEmail}) {
    threads_.emplace_back([this, channel] { Loop(channel); });
  }
}

void Notifier::Stop() {
  stopping_ = true;
  Wake();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void Notifier::Wake() {
  {
    std::lock_guard lock(wake_mutex_);
    woken_.fill(true);
  }
  wake_.notify_all();
}

NotifierStatus Notifier::Status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

double Notifier::Random() {
  if (options_.random01) return options_.random01();
  std::lock_guard lock(status_mutex_);
  return std::uniform_real_distribution<double>(0, 1)(random_);
}

Duration Notifier::Backoff(int attempt, std::chrono::seconds base, std::chrono::seconds max,
                           double random01) {
  const double exponent = std::min(std::max(attempt - 1, 0), 30);
  const double full = std::min(static_cast<double>(base.count()) * std::pow(2.0, exponent),
                               static_cast<double>(max.count()));
  const double jittered = full / 2 + full / 2 * std::clamp(random01, 0.0, 1.0);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(jittered));
}

store::NoticeResult Notifier::Classify(bool sent, bool permanent, int code, std::string error,
                                       int attempt, Duration retry_after,
                                       const NotifierOptions& options, TimePoint now,
                                       double random01) {
  store::NoticeResult result;
  result.status = code;
  if (sent) {
    result.state = store::NoticeResult::State::kSent;
    return result;
  }
  result.error = std::move(error);
  if (permanent) {
    result.state = store::NoticeResult::State::kFailed;
  } else if (attempt >= options.max_attempts) {
    result.state = store::NoticeResult::State::kFailed;
    result.error = "gave up after " + std::to_string(attempt) + " attempts: " + result.error;
  } else {
    result.state = store::NoticeResult::State::kRetry;
    result.next_attempt_at =
        now + std::max(Backoff(attempt, options.backoff_base, options.backoff_max, random01),
                       retry_after);
  }
  return result;
}

void Notifier::Loop(store::NoticeChannel channel) {
  bool& woken = woken_[static_cast<std::size_t>(channel)];
  auto failure_wait = std::chrono::milliseconds(500);
  while (!stopping_) {
    int handled = 0;
    try {
      handled = Pass(channel);
      failures_.Succeeded();
      failure_wait = std::chrono::milliseconds(500);
    } catch (const std::exception& e) {
      // Caught once here: log (once an outage), remember for health, back off, go on.
      failures_.Failed(e.what());
      {
        std::lock_guard lock(status_mutex_);
        status_.last_error = e.what();
        status_.last_error_at = clock_.Now();
      }
      failure_wait = std::min(failure_wait * 2, std::chrono::milliseconds(10000));
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, failure_wait, [this] { return stopping_.load(); });
      continue;
    }
    if (handled > 0) continue;
    std::unique_lock lock(wake_mutex_);
    wake_.wait_for(lock, options_.poll_interval, [&] { return woken || stopping_; });
    woken = false;
  }
}

int Notifier::RunOnce() { return Pass(std::nullopt); }

int Notifier::Pass(std::optional<store::NoticeChannel> only) {
  const TimePoint now = clock_.Now();
  const auto config = config_ ? config_() : nullptr;
  store::NoticePolicy policy;
  policy.webhook = !options_.webhook.url.empty();
  policy.email_to = options_.email_to;
  policy.email_by_kind = options_.email_by_kind;
  policy.escalate_to = options_.escalate_to;
  if (config) {
    policy.renotify_after = config->renotify_after;
    policy.max_renotify = config->max_renotify;
  }
  // By each channel's sender, so that neither waits for the other's to make a round: each round
  // is made once, whoever gets there (FOR UPDATE SKIP LOCKED).
  if (const int rounds = store_.ScheduleNotices(now, policy, options_.batch_size); rounds > 0) {
    std::lock_guard lock(status_mutex_);
    status_.rounds += rounds;
  }
  // A digest is an e-mail: its sender alone makes them (digests_done_for_ is its own).
  if (options_.digest.enabled && only != store::NoticeChannel::kWebhook) MakeDigests(now);

  // One notice claimed at a time, just before its send, under a lease that outlasts the send. A
  // batch claimed at once held every notice queued behind the one in flight for a whole lease
  // (the longer timeout + 60 s): after a crash mid-send (kill -9) even those never begun, a
  // safeguarding alert's e-mails, waited that long. Now only the notice in flight does; the
  // others were never claimed, and any instance (this one restarted) sends them at once.
  int handled = 0;
  while (handled < options_.batch_size && !stopping_) {
    const auto claimed =
        store_.ClaimNotices(clock_.Now(), 1, options_.worker_id, options_.lease, only);
    if (claimed.empty()) break;
    SendAndRecord(claimed.front());
    ++handled;
  }
  return handled;
}

void Notifier::SendAndRecord(const store::Notice& notice) {
  const store::NoticeResult result = Send(notice, clock_.Now());
  // Taken by the channel, not recorded: the notice goes again when its lease runs out (with
  // the same webhook-id), so the alert is delivered at least once.
  if (result.state == store::NoticeResult::State::kSent) {
    SURVEYD_FAILPOINT("alerts.after_send_before_record");
  }
  store_.RecordNotice(notice, result, clock_.Now());
  const std::string what = notice.alert ? "alert " + std::to_string(notice.alert->id) + " (" +
                                              AlertKindName(notice.alert->kind) + ", round " +
                                              std::to_string(notice.round) + ")"
                                        : std::string("a recognition digest");
  std::lock_guard lock(status_mutex_);
  switch (result.state) {
    case store::NoticeResult::State::kSent:
      ++status_.sent;
      spdlog::info("alerts: {} sent by {} (notice {}, attempt {})", what,
                   store::NoticeChannelName(notice.channel), notice.id, notice.attempts);
      break;
    case store::NoticeResult::State::kRetry:
      ++status_.retried;
      status_.last_error = result.error;
      status_.last_error_at = clock_.Now();
      spdlog::warn("alerts: {} by {} not sent (notice {}, attempt {}): {}; will retry", what,
                   store::NoticeChannelName(notice.channel), notice.id, notice.attempts,
                   result.error);
      break;
    case store::NoticeResult::State::kFailed:
      ++status_.failed;
      status_.last_error = result.error;
      status_.last_error_at = clock_.Now();
      spdlog::error("alerts: {} by {} FAILED (notice {}, attempt {}): {}", what,
                    store::NoticeChannelName(notice.channel), notice.id, notice.attempts,
                    result.error);
      break;
  }
}

store::NoticeResult Notifier::Send(const store::Notice& notice, TimePoint now) {
  if (notice.channel == store::NoticeChannel::kWebhook) return SendWebhook(notice, now);
  return SendEmail(notice, now);
}

store::NoticeResult Notifier::SendWebhook(const store::Notice& notice, TimePoint now) {
  if (!notice.alert) {
    return Classify(false, true, 0, "a webhook notice without an alert", notice.attempts,
                    Duration(0), options_, now, 0);
  }
  if (options_.webhook.url.empty() || !WebhookKey(options_.webhook.secret)) {
    // Configuration changed since the notice was made: wait for it to be put right.
    return Classify(false, false, 0, "no webhook URL or usable secret configured", notice.attempts,
                    Duration(0), options_, now, Random());
  }
  const std::string body =
      AlertWebhookBody(*notice.alert, notice.round, notice.escalated, now,
                       AlertLink(options_, notice.alert->id), GroupName(options_, *notice.alert));
  // The same id on every attempt of this notice: the receiver drops repeats.
  const std::string id = "surveyd-alert-notice-" + std::to_string(notice.id);
  const auto response = http::Fetch(WebhookRequest(options_.webhook, id, now, body));
  if (!response.Ok()) {
    return Classify(false, false, 0, "webhook: " + response.error, notice.attempts, Duration(0),
                    options_, now, Random());
  }
  const bool sent = response.status >= 200 && response.status < 300;
  // 410 Gone: the receiver says this endpoint will never take it.
  const bool permanent = response.status == 410;
  return Classify(sent, permanent, response.status,
                  sent ? "" : "webhook answered " + std::to_string(response.status),
                  notice.attempts, RetryAfter(response.Header("Retry-After")), options_, now,
                  Random());
}

store::NoticeResult Notifier::SendEmail(const store::Notice& notice, TimePoint now) {
  MailMessage mail;
  if (notice.alert) {
    const auto zone = zone_ ? zone_() : nullptr;
    mail = AlertMail(options_, notice, now, zone.get());
  } else if (notice.digest) {
    mail.from = options_.email_from;
    mail.to = notice.recipient;
    mail.date = now;
    mail.subject = notice.digest->subject;
    mail.body = notice.digest->body;
    mail.message_id = "<digest-notice-" + std::to_string(notice.id) + "@surveyd>";
  } else {
    return Classify(false, true, 0, "an e-mail notice with nothing to send", notice.attempts,
                    Duration(0), options_, now, 0);
  }
  const SmtpResult result = SendMail(options_.smtp, mail);
  return Classify(result.status == SmtpResult::Status::kSent,
                  result.status == SmtpResult::Status::kPermanent, result.code, result.error,
                  notice.attempts, Duration(0), options_, now, Random());
}

void Notifier::MakeDigests(TimePoint now) {
  const auto zone = zone_ ? zone_() : nullptr;
  const auto config = config_ ? config_() : nullptr;
  if (!zone || !config || !config->lexicon) return;
  const DigestOptions& digest = options_.digest;
  const TimePoint at = LatestDigestTime(digest.schedule, *zone, now);
  if (digests_done_for_ == at) return;
  // A digest more than a day late (the service was down) is left out, not sent days later.
  if (now - at > std::chrono::hours(24)) {
    digests_done_for_ = at;
    return;
  }
  const TimePoint from = DigestPeriodStart(digest.schedule, *zone, at);
  std::set<std::string> teams;
  for (const auto& [team, address] : digest.recipients) teams.insert(team);
  if (!digest.default_recipient.empty()) {
    for (auto& team : store_.TeamsWithAnswers(from, at)) teams.insert(std::move(team));
  }
  for (const std::string& team : teams) {
    const auto it = digest.recipients.find(team);
    const std::string recipient =
        it != digest.recipients.end() ? it->second : digest.default_recipient;
    store::RecognitionFilter filter;
    filter.from = from;
    filter.to = at;
    filter.dated = store::RecognitionFilter::Dated::kByAnswer;
    filter.team = team;
    const store::RecognitionData data = store_.Recognition(filter);
    if (!data.comments_complete) {
      spdlog::warn(
          "alerts: a team's digest for the week to {} counts the newest {} comments "
          "only: its praise counts are short",
          FormatRfc3339(at), filter.comment_limit);
    }
    const auto report = BuildRecognition(data, *config->lexicon, options_.min_cell_size);
    const std::string link = PraiseViewLink(options_.public_base_url, team, from, at, *zone);
    const DigestText text = FormatDigest(options_.force_name, team, from, at, *zone, report,
                                         options_.min_cell_size, link);
    // Once per team and week, whichever instance gets there first.
    if (store_.CreateDigest({team, from, at, recipient, text.subject, text.body}, now)) {
      spdlog::info("alerts: the recognition digest of a team for the week to {} is queued",
                   FormatRfc3339(at));
      std::lock_guard lock(status_mutex_);
      ++status_.digests;
    }
  }
  digests_done_for_ = at;
}

}  // namespace surveyd::alerts
