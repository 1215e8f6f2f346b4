#include "surveyd/survey/handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "surveyd/core/failure_log.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/survey/rate_limiter.hpp"

namespace surveyd::survey {
namespace {

constexpr std::string_view kPrefix = "/s/";
constexpr std::string_view kStopSuffix = "/stop";
constexpr const char* kAllow = "GET, HEAD, POST";
constexpr const char* kOptOutSource = "survey_link";
// At Stop, a store that is down is tried this many times, this far apart, before queued opens
// are given up (and counted).
constexpr int kStopFlushAttempts = 5;
constexpr std::chrono::milliseconds kStopFlushPause{200};

struct Route {
  std::string token;  // may not look like a token at all
  bool stop = false;
  // "/s/TOKEN/", "/s/TOKEN.", "/s/TOKEN)": redirected to the link without what followed it, as
  // the page's relative links need.
  bool moved = false;
};

// What a link picks up after it when copied from a sentence or typed: a full stop, a comma, a
// closing bracket or quote, a space (as the browser sends them, or percent-encoded). None of them
// can end a token (base64url letters, digits, - and _), so dropping them loses nothing.
constexpr std::string_view kTrailingMarks = ".,;:!?)]}>'\"* ";
constexpr std::string_view kTrailingEncoded[] = {
    "%20",       "%22",       "%27",      "%29", "%2C", "%2E", "%3A", "%3B", "%3E", "%5D", "%7D",
    "%C2%A0",                              // no-break space
    "%E2%80%99", "%E2%80%9D", "%E2%80%A6"  // ’ ” … (a phone's typography)
};

bool EndsWithIgnoringCase(std::string_view text, std::string_view suffix) {
  if (text.size() < suffix.size()) return false;
  const std::string_view end = text.substr(text.size() - suffix.size());
  return std::equal(end.begin(), end.end(), suffix.begin(), [](char a, char b) {
    return std::toupper(static_cast<unsigned char>(a)) ==
           std::toupper(static_cast<unsigned char>(b));
  });
}

// `rest` without the marks a copied link picks up after it (kTrailingMarks, kTrailingEncoded).
std::string_view WithoutTrailingMarks(std::string_view rest) {
  for (bool dropped = true; dropped && !rest.empty();) {
    dropped = false;
    if (kTrailingMarks.find(rest.back()) != std::string_view::npos) {
      rest.remove_suffix(1);
      dropped = true;
      continue;
    }
    for (std::string_view encoded : kTrailingEncoded) {
      if (EndsWithIgnoringCase(rest, encoded)) {
        rest.remove_suffix(encoded.size());
        dropped = true;
        break;
      }
    }
  }
  return rest;
}

Route ParseRoute(std::string_view path) {
  Route route;
  std::string_view rest = path.substr(std::min(path.size(), kPrefix.size()));
  if (const std::string_view trimmed = WithoutTrailingMarks(rest); trimmed.size() != rest.size()) {
    route.moved = true;
    rest = trimmed;
  }
  if (rest.size() > 1 && rest.back() == '/') {
    route.moved = true;
    rest.remove_suffix(1);
  }
  if (rest.size() > kStopSuffix.size() &&
      rest.substr(rest.size() - kStopSuffix.size()) == kStopSuffix) {
    route.stop = true;
    rest.remove_suffix(kStopSuffix.size());
  }
  route.token = std::string(rest);
  return route;
}

// A link with a slash or a mark after it (a mail client or a person adding one, a sentence's
// full stop copied with it) goes to the same link without: the page's links are relative to it.
http::Response ToCleanLink(const http::Request& request, const Route& route) {
  http::Response response = http::Response::Text(308, "Moved\n");
  std::string location = std::string(kPrefix) + route.token;
  if (route.stop) location += kStopSuffix;
  if (!request.query.empty()) location += "?" + request.query;
  response.Set("Location", location);
  response.Set("Cache-Control", "no-store");
  return response;
}

// Link previews (messaging apps fetch a texted link to draw a card) are not the citizen opening
// the survey; they still see the page, but the open is not recorded.
bool IsAutomatedFetch(std::string_view user_agent) {
  std::string lower;
  lower.reserve(user_agent.size());
  for (char c : user_agent)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (std::string_view marker : {"bot", "facebookexternalhit", "whatsapp", "preview", "crawler",
                                  "spider", "curl/", "wget/"}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

// The survey's token for its stop link on the pages that have no form, while the link can still
// opt its number out; empty otherwise.
std::string StopToken(const store::SurveyView& survey, const std::string& token) {
  return survey.number_known && !survey.opted_out ? token : std::string();
}

// Only a GET by a person counts as opening the survey: never a HEAD (no page was seen), never a
// link preview.
bool CountsAsOpen(const http::Request& request) {
  return request.method == "GET" && !IsAutomatedFetch(request.Header("User-Agent"));
}

std::string QueryLanguage(std::string_view query) {
  for (const auto& [name, value] : http::ParseForm(query)) {
    if (name == "lang") return MatchLanguage(value);
  }
  return "";
}

bool IsFormBody(std::string_view content_type) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  std::string lower;
  for (char c : type) {
    if (c != ' ') lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return lower.empty() || lower == "application/x-www-form-urlencoded";
}

std::size_t LanguageIndex(std::string_view language) {
  const auto& languages = PageLanguages();
  const auto it = std::find(languages.begin(), languages.end(), language);
  return it == languages.end() ? 0 : static_cast<std::size_t>(it - languages.begin());
}

constexpr std::size_t kLanguageCount = 3;  // PageLanguages().size(), checked in the constructor

}  // namespace

struct SurveyPages::Impl {
  // One survey read from the store, with the survey page rendered per language on demand.
  struct Cached {
    store::SurveyView view;
    TimePoint loaded_at;
    bool open_queued = false;  // this instance already queued (or wrote) the first open
    std::array<std::shared_ptr<const std::string>, kLanguageCount> pages;
  };

  explicit Impl(SurveyHandlerOptions o)
      : options(std::move(o)),
        limiter(options.clock, options.bad_token_limit_per_minute, options.rate_limit_max_clients),
        open_failures("survey pages: recording first opens", options.clock) {
    if (PageLanguages().size() != kLanguageCount) {
      throw std::logic_error("survey pages: kLanguageCount is out of step with PageLanguages()");
    }
    recorder = std::thread([this] { RecordOpens(); });
  }

  SurveyHandlerOptions options;
  RateLimiter limiter;
  // A database outage reads as a few lines, as every other loop's do, not one every flush.
  FailureLog open_failures;

  mutable std::mutex cache_mu;
  std::unordered_map<std::string, Cached> cache;  // by token hash

  mutable std::mutex opens_mu;
  std::condition_variable opens_cv;
  std::deque<store::SurveyOpen> opens;
  bool stopping = false;
  std::mutex flush_mu;  // one writer of opens at a time (the recorder, FlushOpens, Stop)
  std::atomic<std::uint64_t> opens_recorded{0};
  std::atomic<std::uint64_t> opens_dropped{0};
  std::thread recorder;

  const PageContext& Page() const { return options.page; }

  // ---- Responses -------------------------------------------------------------------------

  static http::Response Secure(http::Response response) {
    response.Set("Content-Security-Policy", SurveyContentSecurityPolicy());
    response.Set("Referrer-Policy", "no-referrer");
    response.Set("Cache-Control", "no-store");
    response.Set("X-Content-Type-Options", "nosniff");
    response.Set("X-Frame-Options", "DENY");
    return response;
  }

  static std::string FallbackLanguage(const http::Request& request) {
    if (auto chosen = QueryLanguage(request.query); !chosen.empty()) return chosen;
    if (auto accepted = LanguageFromAcceptLanguage(request.Header("Accept-Language"));
        !accepted.empty()) {
      return accepted;
    }
    return "en";
  }

  // The page language: one chosen on the page, else the one the survey was sent in, else the
  // browser's.
  static std::string PageLanguage(const http::Request& request, const store::SurveyView& survey,
                                  const std::string& fallback) {
    if (auto chosen = QueryLanguage(request.query); !chosen.empty()) return chosen;
    if (auto sent = MatchLanguage(survey.language); !sent.empty()) return sent;
    return fallback;
  }

  http::Response RateLimited(const std::string& language) const {
    auto response = http::Response::Html(429, RenderRateLimitedPage(language, Page()));
    response.Set("Retry-After", "60");
    return response;
  }

  // A link that leads nowhere. It counts against the client's budget of bad links; a client
  // over it is told to wait.
  http::Response BadLink(const std::string& client, const std::string& language) {
    if (limiter.IsLimited(client)) return RateLimited(language);
    limiter.RecordFailure(client);
    return http::Response::Html(404, RenderNotFoundPage(language, Page()));
  }

  // The answer to a path that names no survey, on the fast path and the full one alike: the
  // site's address alone (no link was tried, so none is counted against the client), or a link
  // that leads nowhere (BadLink). None for a path that may name one.
  std::optional<http::Response> NoSurveyNamed(const http::Request& request, const Route& route) {
    const std::string language = FallbackLanguage(request);
    if (request.path == "/") return http::Response::Html(404, RenderNotFoundPage(language, Page()));
    if (!token::LooksLikeToken(route.token)) {
      return BadLink(RateLimitKey(request.remote_address), language);
    }
    return std::nullopt;
  }

  http::Response Unavailable(const std::string& language, bool help_now = false) const {
    auto response = http::Response::Html(503, RenderUnavailablePage(language, Page(), help_now));
    response.Set("Retry-After", "60");
    return response;
  }

  // ---- The cache -------------------------------------------------------------------------

  bool CacheOn() const { return options.cache_ttl.count() > 0 && options.cache_max_surveys > 0; }

  void Remember(const std::string& hash, const store::SurveyView& view, TimePoint now) {
    if (!CacheOn()) return;
    std::lock_guard lock(cache_mu);
    auto it = cache.find(hash);
    if (it == cache.end()) {
      if (cache.size() >= options.cache_max_surveys) EvictLocked(now);
      it = cache.emplace(hash, Cached{}).first;
    } else if (it->second.view.responded != view.responded ||
               it->second.view.language != view.language ||
               it->second.view.opted_out != view.opted_out) {
      it->second.pages = {};
    }
    const bool queued = it->second.open_queued;
    it->second.view = view;
    it->second.loaded_at = now;
    it->second.open_queued = queued || view.opened_at.has_value();
  }

  void EvictLocked(TimePoint now) {
    for (auto it = cache.begin(); it != cache.end();) {
      it = now - it->second.loaded_at >= options.cache_ttl ? cache.erase(it) : std::next(it);
    }
    // Still full of fresh surveys: any one may go (it is read again when next asked for).
    if (cache.size() >= options.cache_max_surveys) cache.erase(cache.begin());
  }

  void Forget(const std::string& hash) {
    std::lock_guard lock(cache_mu);
    cache.erase(hash);
  }

  void MarkAnswered(const std::string& hash) {
    std::lock_guard lock(cache_mu);
    const auto it = cache.find(hash);
    if (it == cache.end()) return;
    it->second.view.responded = true;
    it->second.pages = {};
  }

  // Queues the first open unless this instance already did; true when it queued it now.
  bool ClaimOpen(const std::string& hash, const store::SurveyView& view) {
    if (view.opened_at) return false;
    if (!CacheOn()) return true;
    std::lock_guard lock(cache_mu);
    const auto it = cache.find(hash);
    if (it == cache.end()) return true;
    if (it->second.open_queued) return false;
    it->second.open_queued = true;
    return true;
  }

  // ---- First opens, written in the background --------------------------------------------

  void QueueOpen(std::int64_t survey_id, TimePoint at) {
    {
      std::lock_guard lock(opens_mu);
      if (opens.size() >= options.max_queued_opens) {
        opens.pop_front();
        ++opens_dropped;
      }
      opens.push_back({survey_id, at});
    }
  }

  bool Flush() {
    std::lock_guard flushing(flush_mu);
    std::vector<store::SurveyOpen> batch;
    {
      std::lock_guard lock(opens_mu);
      batch.assign(opens.begin(), opens.end());
      opens.clear();
    }
    if (batch.empty()) return true;
    try {
      options.store.MarkOpenedBatch(batch);  // one statement for the lot
    } catch (const store::Unavailable& e) {
      // Back to the front of the queue, in order, for the next round.
      std::lock_guard lock(opens_mu);
      opens.insert(opens.begin(), batch.begin(), batch.end());
      while (opens.size() > options.max_queued_opens) {
        opens.pop_front();
        ++opens_dropped;
      }
      open_failures.Failed(std::string("first opens wait to be recorded: ") + e.what());
      return false;
    }
    open_failures.Succeeded();
    opens_recorded += batch.size();
    return true;
  }

  void RecordOpens() {
    std::unique_lock lock(opens_mu);
    while (!stopping) {
      opens_cv.wait_for(lock, options.open_flush_interval, [this] { return stopping; });
      if (stopping || opens.empty()) continue;
      lock.unlock();
      try {
        Flush();
      } catch (const std::exception& e) {
        // Not a store outage (Flush handles those): a bug. Logged and the loop goes on.
        spdlog::error("survey pages: recording first opens failed: {}", e.what());
      }
      lock.lock();
    }
  }

  void Stop() {
    {
      std::lock_guard lock(opens_mu);
      if (stopping) return;
      stopping = true;
    }
    opens_cv.notify_all();
    if (recorder.joinable()) recorder.join();
    for (int attempt = 1; attempt <= kStopFlushAttempts; ++attempt) {
      bool done = false;
      try {
        done = Flush();
      } catch (const std::exception& e) {
        spdlog::error("survey pages: recording first opens failed: {}", e.what());
      }
      if (done) return;
      std::this_thread::sleep_for(kStopFlushPause);
    }
    std::lock_guard lock(opens_mu);
    if (!opens.empty()) {
      spdlog::error("survey pages: {} first open(s) could not be recorded before stopping",
                    opens.size());
      opens_dropped += opens.size();
      opens.clear();
    }
  }

  // ---- Requests ----------------------------------------------------------------------------

  std::optional<http::Response> ServeFast(const http::Request& request) {
    if (request.method != "GET" && request.method != "HEAD") return std::nullopt;
    const Route route = ParseRoute(request.path);
    // Never looked up, so answered here: guessers cost no worker.
    if (auto response = NoSurveyNamed(request, route)) return response;
    if (route.moved) return ToCleanLink(request, route);
    if (route.stop || !CacheOn()) return std::nullopt;

    const std::string hash = token::TokenHash(route.token);
    const TimePoint now = options.clock.Now();
    store::SurveyView view;
    std::shared_ptr<const std::string> page;
    std::string language;
    {
      std::lock_guard lock(cache_mu);
      const auto it = cache.find(hash);
      if (it == cache.end() || now - it->second.loaded_at >= options.cache_ttl) {
        return std::nullopt;
      }
      // Expired: the full path asks the store and answers.
      if (!it->second.view.responded && now >= it->second.view.expires_at) return std::nullopt;
      view = it->second.view;
      language = PageLanguage(request, view, FallbackLanguage(request));
      if (!view.responded) page = it->second.pages[LanguageIndex(language)];
    }
    if (view.responded) {
      return http::Response::Html(
          200, RenderThanksPage(language, Page(), true, false, StopToken(view, route.token)));
    }
    if (!page) {
      view.language = language;
      page = std::make_shared<const std::string>(RenderSurveyPage(view, route.token, Page()));
      std::lock_guard lock(cache_mu);
      const auto it = cache.find(hash);
      if (it != cache.end() && !it->second.view.responded) {
        it->second.pages[LanguageIndex(language)] = page;
      }
    }
    if (CountsAsOpen(request) && ClaimOpen(hash, view)) QueueOpen(view.survey_id, now);
    return http::Response::Html(200, *page);
  }

  http::Response Serve(const http::Request& request) {
    const bool get = request.method == "GET" || request.method == "HEAD";
    const bool post = request.method == "POST";
    const std::string fallback_language = FallbackLanguage(request);
    if (!get && !post) {
      auto response = http::Response::Text(405, "Method not allowed\n");
      response.Set("Allow", kAllow);
      return response;
    }
    const Route route = ParseRoute(request.path);
    if (auto response = NoSurveyNamed(request, route)) return std::move(*response);
    if (route.moved) return ToCleanLink(request, route);

    // Looked up whatever the client's record: a correct link is never refused by the bad-link
    // limit (a household behind one address must not lose its survey to a guesser next door).
    // 128-bit tokens cannot be guessed at any rate; the limit keeps guessers told to wait.
    const std::string hash = token::TokenHash(route.token);
    std::optional<store::SurveyView> survey;
    try {
      survey = options.store.FindSurveyByTokenHash(hash);
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey page: store unavailable: {}", e.what());
      return Unavailable(fallback_language);
    }
    if (!survey) {
      Forget(hash);
      return BadLink(RateLimitKey(request.remote_address), fallback_language);
    }
    const TimePoint now = options.clock.Now();
    // The stop link works as long as the survey holds its number, closed, answered or not: a
    // citizen who wants no more texts must never be told the link has expired.
    if (route.stop) {
      survey->language = PageLanguage(request, *survey, fallback_language);
      return get ? StopConfirm(*survey, route.token) : StopDone(*survey, hash);
    }
    if (now >= survey->expires_at && !survey->responded) {
      // Closed: the client held the whole link, so it is told so (a guesser never is) and it
      // does not count against its budget; its stop link is offered while it can still opt the
      // number out. What it posts is kept as a late text, and its help shown.
      Forget(hash);
      survey->language = PageLanguage(request, *survey, fallback_language);
      const LateText late = post ? KeepLateText(request, *survey) : LateText{};
      if (late.store_down) return Unavailable(survey->language, late.help_now);
      return Closed(*survey, StopToken(*survey, route.token), late.help_now);
    }
    Remember(hash, *survey, now);
    survey->language = PageLanguage(request, *survey, fallback_language);

    if (survey->responded) {
      // Answered already: the same page whatever the answer said. The help an answer called for
      // was on the page that answered it; shown again, it would tell whoever opens the link on
      // that phone later what was disclosed (every thank-you page has 999 and 101). A comment
      // sent again is kept as a late text, and its own page has the help if it calls for it.
      const LateText late = post ? KeepLateText(request, *survey) : LateText{};
      if (late.store_down) return Unavailable(survey->language, late.help_now);
      return http::Response::Html(200,
                                  RenderThanksPage(survey->language, Page(), true, late.help_now,
                                                   StopToken(*survey, route.token)));
    }
    return get ? ShowSurvey(request, *survey, route.token, hash)
               : Submit(request, *survey, route.token, hash);
  }

  http::Response ShowSurvey(const http::Request& request, const store::SurveyView& survey,
                            const std::string& token, const std::string& hash) {
    if (CountsAsOpen(request) && ClaimOpen(hash, survey)) {
      QueueOpen(survey.survey_id, options.clock.Now());
    }
    return http::Response::Html(200, RenderSurveyPage(survey, token, Page()));
  }

  http::Response Submit(const http::Request& request, store::SurveyView survey,
                        const std::string& token, const std::string& hash) {
    if (!IsFormBody(request.Header("Content-Type"))) {
      return http::Response::Text(415, "Expected application/x-www-form-urlencoded\n");
    }
    store::SurveyAnswers answers;
    FormErrors errors;
    const bool valid = ParseAnswers(request.body, answers, errors);
    if (!answers.language.empty()) survey.language = answers.language;
    answers.language = survey.language;
    // Decided before the answer is stored, and stored with it in one transaction. A form sent
    // back for a mistake still says where to get help when its comment calls for it.
    if (options.raise_alerts) answers.alerts = options.raise_alerts(survey, answers);
    const bool help_now = RaisesSafeguarding(answers.alerts);
    if (!valid) {
      errors.help_now = help_now;
      return http::Response::Html(422, RenderSurveyPage(survey, token, Page(), &answers, &errors));
    }
    store::SubmitOutcome outcome;
    try {
      outcome = options.store.SubmitResponse(survey.survey_id, answers, options.clock.Now());
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey {}: could not store the answers: {}", survey.survey_id, e.what());
      errors.save_failed = true;
      errors.help_now = help_now;  // not stored yet: where to get help matters all the more
      auto response =
          http::Response::Html(503, RenderSurveyPage(survey, token, Page(), &answers, &errors));
      response.Set("Retry-After", "60");
      return response;
    }
    switch (outcome) {
      case store::SubmitOutcome::kStored:
        spdlog::info("survey {}: answers stored{}", survey.survey_id,
                     answers.alerts.empty() ? "" : " with alerts");
        MarkAnswered(hash);
        return http::Response::Html(200, RenderThanksPage(survey.language, Page(), false, help_now,
                                                          StopToken(survey, token)));
      case store::SubmitOutcome::kAlreadyAnswered: {
        // Answered by another request, whose alerts this one does not know: the store says
        // once this cache entry is older than cache_ttl. Its comment is kept as a late text.
        const LateText late = KeepLateComment(survey, answers.comment);
        MarkAnswered(hash);
        return http::Response::Html(
            200, RenderThanksPage(survey.language, Page(), true, help_now || late.help_now,
                                  StopToken(survey, token)));
      }
      case store::SubmitOutcome::kExpired:
      case store::SubmitOutcome::kNotFound:
        break;
    }
    // Closed between the lookup and the submit (or gone): its comment is kept.
    Forget(hash);
    const LateText late = KeepLateComment(survey, answers.comment);
    return Closed(survey, StopToken(survey, token), help_now || late.help_now);
  }

  // A survey that closed before it was answered (410).
  http::Response Closed(const store::SurveyView& survey, const std::string& stop_token,
                        bool help_now) const {
    return http::Response::Html(410,
                                RenderClosedPage(survey.language, Page(), stop_token, help_now));
  }

  // What became of a citizen's words posted where no answer is taken any more.
  struct LateText {
    bool help_now = false;    // they call for help: the page says where to get it
    bool store_down = false;  // they could not be kept: the citizen is asked to try again
  };

  // The comment of a form posted to a survey that takes no answer any more (closed, or answered
  // already) is never an answer; but it is kept as a text back to the survey is, with the alerts
  // it raises by itself, so that "he is back and I am scared" reaches a supervisor as it would
  // by SMS.
  LateText KeepLateText(const http::Request& request, const store::SurveyView& survey) {
    if (!IsFormBody(request.Header("Content-Type"))) return {};
    store::SurveyAnswers answers;
    FormErrors errors;
    ParseAnswers(request.body, answers, errors);
    return KeepLateComment(survey, answers.comment);
  }

  LateText KeepLateComment(const store::SurveyView& survey, const std::string& comment) {
    LateText late;
    if (comment.empty()) return late;
    std::vector<NewAlert> alerts;
    if (options.raise_alerts) {
      alerts = options.raise_alerts(survey, store::TextAsComment(survey, comment));
    }
    late.help_now = RaisesSafeguarding(alerts);
    try {
      if (options.store.KeepLateText(survey.survey_id, comment, alerts, options.clock.Now())) {
        spdlog::info("survey {}: a text written after it closed or was answered kept{}",
                     survey.survey_id, alerts.empty() ? "" : " with alerts");
      }
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey {}: could not keep a text written on its page: {}", survey.survey_id,
                   e.what());
      late.store_down = true;
    }
    return late;
  }

  http::Response StopConfirm(const store::SurveyView& survey, const std::string& token) {
    if (!survey.number_known) return Unmatched(survey);
    // Stopped already: said so, rather than asked again as if it had not worked.
    if (survey.opted_out) {
      return http::Response::Html(200, RenderOptOutPage(survey.language, Page(), false, ""));
    }
    return http::Response::Html(200, RenderOptOutPage(survey.language, Page(), true, token));
  }

  // Retention erased the survey's number: nothing left to opt out, and the citizen is told how
  // else to stop our texts.
  http::Response Unmatched(const store::SurveyView& survey) const {
    return http::Response::Html(410, RenderOptOutUnmatchedPage(survey.language, Page()));
  }

  http::Response StopDone(const store::SurveyView& survey, const std::string& hash) {
    Forget(hash);
    try {
      if (!options.store.OptOutBySurvey(survey.survey_id, kOptOutSource, options.clock.Now())) {
        return Unmatched(survey);
      }
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey {}: could not record the opt-out: {}", survey.survey_id, e.what());
      return Unavailable(survey.language);
    }
    spdlog::info("survey {}: opted out through the survey link", survey.survey_id);
    return http::Response::Html(200, RenderOptOutPage(survey.language, Page(), false, ""));
  }
};

SurveyPages::SurveyPages(SurveyHandlerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

SurveyPages::~SurveyPages() { Stop(); }

http::Response SurveyPages::Handle(const http::Request& request) {
  return Impl::Secure(impl_->Serve(request));
}

std::optional<http::Response> SurveyPages::HandleFast(const http::Request& request) {
  auto response = impl_->ServeFast(request);
  if (!response) return std::nullopt;
  return Impl::Secure(std::move(*response));
}

bool SurveyPages::FlushOpens() { return impl_->Flush(); }

void SurveyPages::Stop() { impl_->Stop(); }

SurveyPagesStatus SurveyPages::Status() const {
  SurveyPagesStatus status;
  {
    std::lock_guard lock(impl_->cache_mu);
    status.cached_surveys = impl_->cache.size();
  }
  {
    std::lock_guard lock(impl_->opens_mu);
    status.queued_opens = impl_->opens.size();
  }
  status.opens_recorded = impl_->opens_recorded;
  status.opens_dropped = impl_->opens_dropped;
  return status;
}

const std::string& SurveyContentSecurityPolicy() {
  static const std::string kPolicy = "default-src 'none'; style-src " + InlineStyleCspSource() +
                                     "; img-src 'self' data:; form-action 'self'; "
                                     "base-uri 'none'; frame-ancestors 'none'";
  return kPolicy;
}

}  // namespace surveyd::survey
