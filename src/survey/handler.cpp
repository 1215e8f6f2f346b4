#include "surveyd/survey/handler.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

#include <spdlog/spdlog.h>

#include "surveyd/core/survey_token.hpp"
#include "surveyd/survey/rate_limiter.hpp"

namespace surveyd::survey {
namespace {

constexpr std::string_view kPrefix = "/s/";
constexpr std::string_view kStopSuffix = "/stop";
constexpr const char* kAllow = "GET, HEAD, POST";
constexpr const char* kOptOutSource = "survey_link";

struct Route {
  std::string token;  // may not look like a token at all
  bool stop = false;
};

Route ParseRoute(std::string_view path) {
  Route route;
  std::string_view rest = path.substr(std::min(path.size(), kPrefix.size()));
  if (rest.size() > kStopSuffix.size() &&
      rest.substr(rest.size() - kStopSuffix.size()) == kStopSuffix) {
    route.stop = true;
    rest.remove_suffix(kStopSuffix.size());
  }
  route.token = std::string(rest);
  return route;
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

class SurveyHandler {
 public:
  explicit SurveyHandler(SurveyHandlerOptions options)
      : options_(std::move(options)),
        limiter_(options_.clock, options_.bad_token_limit_per_minute,
                 options_.rate_limit_max_clients) {}

  http::Response Handle(const http::Request& request) { return Secure(Serve(request)); }

 private:
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
    const std::string client = RateLimitKey(request.remote_address);
    // A limited client gets no lookup at all, even for a good token: guessing must stay slow.
    if (limiter_.IsLimited(client)) {
      auto response = http::Response::Html(429, RenderRateLimitedPage(fallback_language, Page()));
      response.Set("Retry-After", "60");
      return response;
    }
    if (!token::LooksLikeToken(route.token)) return NotFound(client, fallback_language);

    std::optional<store::SurveyView> survey;
    try {
      survey = options_.store.FindSurveyByTokenHash(token::TokenHash(route.token));
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey page: store unavailable: {}", e.what());
      return Unavailable(fallback_language);
    }
    if (!survey) return NotFound(client, fallback_language);

    // The language: one chosen on the page, else the one the survey was sent in.
    if (auto chosen = QueryLanguage(request.query); !chosen.empty()) survey->language = chosen;
    if (MatchLanguage(survey->language).empty()) survey->language = fallback_language;
    survey->language = MatchLanguage(survey->language);

    if (route.stop) return get ? StopConfirm(*survey, route.token) : StopDone(*survey);
    if (survey->responded) {
      return http::Response::Html(200, RenderThanksPage(survey->language, Page(), true));
    }
    if (options_.clock.Now() >= survey->expires_at) {
      return NotFound(client, survey->language);
    }
    return get ? ShowSurvey(request, *survey, route.token) : Submit(request, *survey, route.token);
  }

  http::Response ShowSurvey(const http::Request& request, const store::SurveyView& survey,
                            const std::string& token) {
    if (request.method == "GET" && !survey.opened_at &&
        !IsAutomatedFetch(request.Header("User-Agent"))) {
      try {
        options_.store.MarkOpened(survey.survey_id, options_.clock.Now());
      } catch (const store::Unavailable& e) {
        // Showing the page matters more than counting the open.
        spdlog::warn("survey {}: could not record the open: {}", survey.survey_id, e.what());
      }
    }
    return http::Response::Html(200, RenderSurveyPage(survey, token, Page()));
  }

  http::Response Submit(const http::Request& request, store::SurveyView survey,
                        const std::string& token) {
    if (!IsFormBody(request.Header("Content-Type"))) {
      return http::Response::Text(415, "Expected application/x-www-form-urlencoded\n");
    }
    store::SurveyAnswers answers;
    FormErrors errors;
    const bool valid = ParseAnswers(request.body, answers, errors);
    if (!answers.language.empty()) survey.language = answers.language;
    answers.language = survey.language;
    if (!valid) {
      return http::Response::Html(422, RenderSurveyPage(survey, token, Page(), &answers, &errors));
    }
    store::SubmitOutcome outcome;
    try {
      outcome = options_.store.SubmitResponse(survey.survey_id, answers, options_.clock.Now());
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey {}: could not store the answers: {}", survey.survey_id, e.what());
      errors.save_failed = true;
      auto response =
          http::Response::Html(503, RenderSurveyPage(survey, token, Page(), &answers, &errors));
      response.Set("Retry-After", "60");
      return response;
    }
    switch (outcome) {
      case store::SubmitOutcome::kStored:
        spdlog::info("survey {}: answers stored", survey.survey_id);
        return http::Response::Html(200, RenderThanksPage(survey.language, Page(), false));
      case store::SubmitOutcome::kAlreadyAnswered:
        return http::Response::Html(200, RenderThanksPage(survey.language, Page(), true));
      case store::SubmitOutcome::kExpired:
      case store::SubmitOutcome::kNotFound:
        break;
    }
    // Expired between the lookup and the submit: the same page as any dead link, but this client
    // did hold a real token, so it does not count against its limit.
    return http::Response::Html(404, RenderNotFoundPage(survey.language, Page()));
  }

  http::Response StopConfirm(const store::SurveyView& survey, const std::string& token) {
    return http::Response::Html(200, RenderOptOutPage(survey.language, Page(), true, token));
  }

  http::Response StopDone(const store::SurveyView& survey) {
    try {
      if (!options_.store.OptOutBySurvey(survey.survey_id, kOptOutSource, options_.clock.Now())) {
        return http::Response::Html(404, RenderNotFoundPage(survey.language, Page()));
      }
    } catch (const store::Unavailable& e) {
      spdlog::warn("survey {}: could not record the opt-out: {}", survey.survey_id, e.what());
      return Unavailable(survey.language);
    }
    spdlog::info("survey {}: opted out through the survey link", survey.survey_id);
    return http::Response::Html(200, RenderOptOutPage(survey.language, Page(), false, ""));
  }

  http::Response NotFound(const std::string& client, const std::string& language) {
    limiter_.RecordFailure(client);
    return http::Response::Html(404, RenderNotFoundPage(language, Page()));
  }

  http::Response Unavailable(const std::string& language) {
    auto response = http::Response::Html(503, RenderUnavailablePage(language, Page()));
    response.Set("Retry-After", "60");
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

  static http::Response Secure(http::Response response) {
    response.Set("Content-Security-Policy", SurveyContentSecurityPolicy());
    response.Set("Referrer-Policy", "no-referrer");
    response.Set("Cache-Control", "no-store");
    response.Set("X-Content-Type-Options", "nosniff");
    response.Set("X-Frame-Options", "DENY");
    return response;
  }

  const PageContext& Page() const { return options_.page; }

  SurveyHandlerOptions options_;
  RateLimiter limiter_;
};

}  // namespace

const std::string& SurveyContentSecurityPolicy() {
  static const std::string kPolicy = "default-src 'none'; style-src " + InlineStyleCspSource() +
                                     "; img-src 'self' data:; form-action 'self'; "
                                     "base-uri 'none'; frame-ancestors 'none'";
  return kPolicy;
}

http::Handler MakeSurveyHandler(SurveyHandlerOptions options) {
  auto handler = std::make_shared<SurveyHandler>(std::move(options));
  return [handler](const http::Request& request) { return handler->Handle(request); };
}

}  // namespace surveyd::survey
