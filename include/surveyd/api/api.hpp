#pragma once
// The daemon's HTTP surface: a route table (api/router.hpp) of the feed push, the gateway
// callbacks, health, the analysts' API, and the citizen's survey pages (delegated to
// survey::SurveyPages). Route lists live in src/api/*_routes.cpp, one file per audience. What
// never blocks (/healthz, cached survey pages) is also served by MakeApiFastHandler on the
// server's I/O threads.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/api/auth.hpp"
#include "surveyd/api/router.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/core/work_queue.hpp"
#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/metrics/metrics.hpp"
#include "surveyd/store/alert_store.hpp"
#include "surveyd/store/analytics_store.hpp"
#include "surveyd/store/audit_store.hpp"
#include "surveyd/store/store.hpp"
#include "surveyd/store/token_store.hpp"

namespace surveyd::api {

struct Readiness {
  bool ready = false;
  std::string details;  // JSON describing each check; shown to ops only
  // What works only in part (the dispatcher while its gateway fails): named on /readyz too.
  std::vector<std::string> degraded;
};

// Everything the routes need. The pointers are owned by the caller and outlive the handler.
struct ApiOptions {
  store::IngestStore* ingest = nullptr;
  store::OutboxStore* outbox = nullptr;
  store::SurveyStore* surveys = nullptr;
  store::StatsStore* stats = nullptr;
  store::OpsStore* ops = nullptr;          // the ops hold on texts; null: those routes answer 503
  Authenticator* authenticator = nullptr;  // null: role-protected routes answer 403 (disabled)
  const Clock* clock = nullptr;
  std::function<store::DecideFn()> decider;  // decisions under the rules in force right now
  std::function<store::ReplyFn()> replier;   // what a citizen's text does, under those rules
  // What an answer raises, the survey page's own: a two-way answer by text raises the same
  // alerts, stored with it. Null: texts raise none.
  store::AlertFn raise_alerts;
  std::string feed_secret;  // HMAC key of POST /api/v1/feed/events
  // Pushes handled at once. Each holds an HTTP worker until its group of events commits; past
  // this many a push is answered 503 with Retry-After (the pusher sends it again), so that pushes
  // never take every worker from the citizens' pages and the gateways' callbacks. 0: no limit.
  int max_pushes_in_flight = 0;
  std::shared_ptr<std::atomic<int>> pushes_in_flight = std::make_shared<std::atomic<int>>(0);
  const gateway::Gateway* gateway = nullptr;  // reads /api/v1/gateway/{its name}/...; null: none
  http::Handler survey_pages;                 // /s/...
  http::FastHandler survey_pages_fast;        // /s/... answered on the I/O thread; may be empty
  std::function<Readiness()> readiness;       // /readyz (public: ready or not), /api/v1/health
  // A push created surveys, the earliest due then: wake the dispatcher for it.
  std::function<void(TimePoint)> on_surveys_created;
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For names the client
  // Requests by route and status are counted here, and GET /metrics renders it for clients in
  // `metrics_allow` (addresses or CIDR ranges; empty: /metrics answers 404).
  metrics::Registry* metrics = nullptr;
  std::vector<std::string> metrics_allow;

  // Alerts and recognition (alerts_routes.cpp, recognition_routes.cpp).
  store::AlertStore* alerts = nullptr;  // null: those routes answer 503
  std::function<std::shared_ptr<const alerts::AlertConfig>()> alert_config;  // praise words
  std::function<void()> on_alert_changed;  // an alert was acknowledged or resolved
  int recognition_min_cell_size = 10;      // people with fewer answers are not shown
  int recognition_comments = store::kRecognitionComments;  // the most one request reads
  // The force's time zone (the rules'), in which recognition reads a date as a whole local day;
  // null: UTC.
  std::function<std::shared_ptr<const TimeZone>()> zone;
  // The analysts' API (stats_routes.cpp, responses_routes.cpp, ops_routes.cpp,
  // admin_routes.cpp). Every call to a role-protected route, and every refused one, is written
  // to `audit` (null: not audited, for tests); if it cannot be, the answer is 503, not the data.
  store::AnalyticsStore* analytics = nullptr;  // on connections of its own
  store::TokenStore* tokens = nullptr;
  store::AuditStore* audit = nullptr;
  WorkQueue* analytics_queue = nullptr;  // where analytics queries run; null: inline
  int min_cell_size = 10;                // cells with fewer respondents are suppressed
  // The key of the noise on the figures (stats::FigureNoise); empty: exact figures.
  std::string figures_noise_key;
  int bad_token_limit_per_minute = 10;       // wrong tokens per client a minute, then 429
  std::vector<std::string> question_texts;   // q1, q2... as the citizen read them (English)
  std::vector<std::string> question_labels;  // and their short names ("Polite and respectful")
  std::function<std::string()> rules_info;   // GET /api/v1/rules: the rules in force, as JSON
  // The survey groups of the rules in force, id and name in the rules' order, for the analysts'
  // figures (GET /api/v1/stats says them, so that the dashboard shows "Force Contact", not
  // "force_contact"); null or empty: ids alone.
  std::function<std::vector<std::pair<std::string, std::string>>()> survey_group_names;
};

// The client's address: the peer, or, when the peer is a trusted proxy, the right-most address
// in X-Forwarded-For (every such header, in order) that is not itself a trusted proxy: the left
// part can be forged. Addresses are compared in canonical form ("::ffff:10.0.0.1" is 10.0.0.1);
// a trusted proxy may be an address or a CIDR range ("10.0.0.0/8"). A hop that is not an address
// ends the walk at the last trusted hop, so junk never becomes a client of its own.
std::string ClientAddress(const http::Request& request,
                          const std::vector<std::string>& trusted_proxies);

// Every route; `options` must outlive the router.
Router BuildRouter(const ApiOptions& options);

http::Handler MakeApiHandler(ApiOptions options);
// The part of the API that never blocks, for the server's I/O threads (http::FastHandler):
// /healthz, and the survey pages' own fast path.
http::FastHandler MakeApiFastHandler(ApiOptions options);

// Feed push (delivery 2): checks the timestamp (at most 5 minutes old) and the signature, stores
// the events and answers 202 with one result per event, only after they are committed.
http::Response HandleFeedPush(const ApiOptions& options, const http::Request& request);

// A gateway's callback (gateway::CallbackPath(gateway->Name(), kind)): the adapter verifies and
// reads it; a delivery report moves the message on; a citizen's text is stored and counted and
// does what `replier` decides (an opt-out, a two-way answer). The store commits before the
// gateway is answered, so a text is never lost: a database that is down answers 503 and the
// gateway tries again.
// Refused callbacks (401, 400) change nothing. The answer is the one the adapter says its
// gateway is owed (an empty TwiML <Response/>, an empty body for Kannel's smsbox...).
http::Response HandleGatewayCallback(const ApiOptions& options, gateway::CallbackKind kind,
                                     const http::Request& request);

}  // namespace surveyd::api
