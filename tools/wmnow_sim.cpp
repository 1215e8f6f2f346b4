// wmnow-sim: a WMNow-style messaging gateway for tests and the demo (../shared/spec/gateway.md,
// section 1), which also speaks Twilio's Messages API (section 3, tools/sim/twilio_api.hpp). It
// takes messages like the real APIs (credentials, validation, WMNow's idempotency on client_ref,
// injected faults), sends signed status callbacks, and plays the citizen: opens the survey link
// in the text and answers the form with realistic scores, or replies STOP.
//
// Endpoints: POST /v1/messages (WMNow), POST /2010-04-01/Accounts/{sid}/Messages.json (Twilio),
// GET /v1/messages?limit=N[&unanswered=1] (the newest accepted texts through either API, or those
// that nobody answered and the simulator will not: the demo offers one to answer; numbers
// masked unless --show-numbers), GET /v1/stats, GET /healthz.
//
//   wmnow-sim --listen 127.0.0.1:8090 --api-key K --webhook-secret S --open-rate 0.6
//             --response-rate 0.4 --delivery-delay-ms 500 --answer-delay-ms 2000 --seed 1
#include <spdlog/spdlog.h>
#include <csignal>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sim/twilio_api.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/http/client.hpp"
#include "surveyd/http/message.hpp"
#include "surveyd/http/server.hpp"

namespace surveyd::tools {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::size_t kMaxHistory = 100000;
constexpr int kCallbackAttempts = 3;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8090;
  std::string api_key = "test-key";
  std::string webhook_secret = "test-secret";
  double open_rate = 0.6;             // delivered texts whose link the citizen opens
  double response_rate = 0.4;         // delivered texts whose survey gets answered
  std::optional<double> answer_rate;  // answered given opened (overrides response_rate)
  double stop_rate = 0.0;             // delivered texts answered by an SMS "STOP"
  double alarm_rate = 0.0;            // answers whose comment says the citizen is at risk or
                                      // wants to complain (the alerts' lexicon)
  std::string answers_log;            // the client_ref of every answer thanked, one a line
  double fail_rate = 0.0;             // sends answered 503
  double throttle_rate = 0.0;         // sends answered 429 Retry-After: 1
  double hang_rate = 0.0;             // sends accepted but answered only after hang_ms
  double reset_rate = 0.0;            // sends accepted, then the connection reset unanswered
  double no_answer_rate = 0.0;        // sends accepted and never answered (connection held)
  double undeliverable_rate = 0.0;    // accepted texts that end "undeliverable"
  double duplicate_rate = 0.0;        // callbacks sent twice
  double reorder_rate = 0.0;          // "delivered" arriving before "sent"
  int callback_connections = 8;       // callbacks posted at once at most
  std::chrono::milliseconds callback_burst{0};  // 0: each callback when due
  std::chrono::milliseconds delivery_delay{500};
  std::chrono::milliseconds answer_delay{2000};
  std::chrono::milliseconds hang{15000};
  std::uint64_t seed = std::random_device{}();
  std::string inbound_url;
  std::string twilio_account_sid = "AC00000000000000000000000000000000";
  std::string twilio_auth_token = "test-token";
  double error_rate = 0.0;       // Twilio sends answered 500 after the message was created
  std::set<std::string> silent;  // E.164 numbers whose citizen never opens, answers or replies
  bool show_numbers = false;
  bool verify_tls = true;
  bool verbose = false;
  bool quiet = false;  // warnings and errors only: no line a text (the fault checker reads them)
};

void Usage(std::ostream& out) {
  out << "usage: wmnow-sim [options]\n"
         "  --listen HOST:PORT          (127.0.0.1:8090)\n"
         "  --api-key KEY               Bearer key clients must send (test-key)\n"
         "  --webhook-secret SECRET     signs callbacks and inbound messages (test-secret)\n"
         "  --open-rate P               delivered texts whose link is opened (0.6)\n"
         "  --response-rate P           delivered texts whose survey is answered (0.4); with\n"
         "                              --answer-rate and no --open-rate: texts opened\n"
         "  --answer-rate P             opened links that get answered (response/open)\n"
         "  --stop-rate P               delivered texts answered with STOP to --inbound-url (0)\n"
         "  --alarm-rate P              answers whose comment says the citizen is in danger or\n"
         "                              wants to complain (raising alerts) (0)\n"
         "  --answers-log FILE          appends 'thanked client_ref R' for every answer the\n"
         "                              service thanked (HTTP 200): no token, number or text\n"
         "  --delivery-delay-ms MS      accept -> delivered (500; 'sent' comes at half)\n"
         "  --answer-delay-ms MS        delivered -> answered (2000; opened at half)\n"
         "  --fail-rate P               sends answered 503 (0)\n"
         "  --throttle-rate P           sends answered 429 with Retry-After: 1 (0)\n"
         "  --hang-rate P               sends accepted but answered after --hang-ms (0)\n"
         "  --hang-ms MS                (15000)\n"
         "  --reset-rate P              sends accepted, then the connection reset unanswered\n"
         "                              (both APIs; 0)\n"
         "  --no-answer-rate P          sends accepted and never answered: the connection is\n"
         "                              held until the simulator stops (0)\n"
         "  --undeliverable-rate P      accepted texts that end undeliverable (0)\n"
         "  --duplicate-rate P          callbacks delivered twice (0)\n"
         "  --reorder-rate P            'delivered' sent before 'sent' (0)\n"
         "  --callback-connections N    callbacks posted at once at most, each on a kept-alive\n"
         "                              connection of its own (8)\n"
         "  --callback-burst-ms MS      callbacks held and let go together every MS, so that\n"
         "                              they arrive at once over those connections; a duplicate\n"
         "                              then goes in the same burst as its original (0: off)\n"
         "  --inbound-url URL           where citizen replies (STOP) are posted, in the format\n"
         "                              of the API the text came through\n"
         "  --twilio-account-sid SID    Twilio API: the account (AC000...0)\n"
         "  --twilio-auth-token TOKEN   Twilio API: basic-auth password, signs callbacks\n"
         "                              (test-token)\n"
         "  --error-rate P              Twilio sends answered 500 after creating the message (0)\n"
         "  --seed N                    random seed (random)\n"
         "  --silent N1,N2              numbers whose citizen never opens, answers or replies\n"
         "  --show-numbers              GET /v1/messages shows full numbers (masked by default)\n"
         "  --insecure                  do not verify TLS certificates of callback/survey URLs\n"
         "  --verbose                   debug logging\n"
         "  --quiet                     warnings and errors only, no line a text (benchmarks;\n"
         "                              tests/fault/check reads those lines)\n";
}

double ParseRate(const std::string& name, const std::string& value) {
  std::size_t used = 0;
  const double rate = std::stod(value, &used);
  if (used != value.size() || rate < 0.0 || rate > 1.0) {
    throw std::invalid_argument(name + " must be between 0 and 1");
  }
  return rate;
}

std::chrono::milliseconds ParseMillis(const std::string& name, const std::string& value) {
  std::size_t used = 0;
  const long long ms = std::stoll(value, &used);
  if (used != value.size() || ms < 0) throw std::invalid_argument(name + " must be >= 0");
  return std::chrono::milliseconds(ms);
}

void ApplyOption(Options& options, const std::string& name, const std::string& value) {
  if (name == "--listen") {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT");
    options.host = value.substr(0, colon);
    if (options.host.size() > 1 && options.host.front() == '[') {
      options.host = options.host.substr(1, options.host.size() - 2);
    }
    const int port = std::stoi(value.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::invalid_argument("--listen: bad port");
    options.port = static_cast<std::uint16_t>(port);
  } else if (name == "--api-key") {
    options.api_key = value;
  } else if (name == "--webhook-secret") {
    options.webhook_secret = value;
  } else if (name == "--open-rate") {
    options.open_rate = ParseRate(name, value);
  } else if (name == "--response-rate") {
    options.response_rate = ParseRate(name, value);
  } else if (name == "--answer-rate") {
    options.answer_rate = ParseRate(name, value);
  } else if (name == "--stop-rate") {
    options.stop_rate = ParseRate(name, value);
  } else if (name == "--alarm-rate") {
    options.alarm_rate = ParseRate(name, value);
  } else if (name == "--answers-log") {
    if (value.empty()) throw std::invalid_argument("--answers-log needs a file name");
    options.answers_log = value;
  } else if (name == "--fail-rate") {
    options.fail_rate = ParseRate(name, value);
  } else if (name == "--throttle-rate") {
    options.throttle_rate = ParseRate(name, value);
  } else if (name == "--hang-rate") {
    options.hang_rate = ParseRate(name, value);
  } else if (name == "--hang-ms") {
    options.hang = ParseMillis(name, value);
  } else if (name == "--reset-rate") {
    options.reset_rate = ParseRate(name, value);
  } else if (name == "--no-answer-rate") {
    options.no_answer_rate = ParseRate(name, value);
  } else if (name == "--undeliverable-rate") {
    options.undeliverable_rate = ParseRate(name, value);
  } else if (name == "--duplicate-rate") {
    options.duplicate_rate = ParseRate(name, value);
  } else if (name == "--reorder-rate") {
    options.reorder_rate = ParseRate(name, value);
  } else if (name == "--callback-connections") {
    std::size_t used = 0;
    options.callback_connections = std::stoi(value, &used);
    if (used != value.size() || options.callback_connections < 1 ||
        options.callback_connections > 64) {
      throw std::invalid_argument(name + " must be between 1 and 64");
    }
  } else if (name == "--callback-burst-ms") {
    options.callback_burst = ParseMillis(name, value);
  } else if (name == "--delivery-delay-ms") {
    options.delivery_delay = ParseMillis(name, value);
  } else if (name == "--answer-delay-ms") {
    options.answer_delay = ParseMillis(name, value);
  } else if (name == "--seed") {
    options.seed = std::stoull(value);
  } else if (name == "--inbound-url") {
    options.inbound_url = value;
  } else if (name == "--twilio-account-sid") {
    options.twilio_account_sid = value;
  } else if (name == "--twilio-auth-token") {
    options.twilio_auth_token = value;
  } else if (name == "--error-rate") {
    options.error_rate = ParseRate(name, value);
  } else if (name == "--silent") {
    for (std::size_t start = 0; start <= value.size();) {
      const auto comma = std::min(value.find(',', start), value.size());
      const auto number = phone::Normalize(value.substr(start, comma - start)).e164;
      if (number.empty()) throw std::invalid_argument("--silent takes phone numbers");
      options.silent.insert(number);
      start = comma + 1;
    }
  } else {
    throw std::invalid_argument("unknown option " + name);
  }
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  bool open_rate_given = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "--help" || name == "-h") {
      Usage(std::cout);
      std::exit(0);
    }
    if (name == "--show-numbers") {
      options.show_numbers = true;
      continue;
    }
    if (name == "--insecure") {
      options.verify_tls = false;
      continue;
    }
    if (name == "--verbose") {
      options.verbose = true;
      continue;
    }
    if (name == "--quiet") {
      options.quiet = true;
      continue;
    }
    static const std::set<std::string> kValued = {"--listen",
                                                  "--api-key",
                                                  "--webhook-secret",
                                                  "--open-rate",
                                                  "--response-rate",
                                                  "--answer-rate",
                                                  "--stop-rate",
                                                  "--alarm-rate",
                                                  "--answers-log",
                                                  "--fail-rate",
                                                  "--throttle-rate",
                                                  "--hang-rate",
                                                  "--hang-ms",
                                                  "--reset-rate",
                                                  "--no-answer-rate",
                                                  "--undeliverable-rate",
                                                  "--duplicate-rate",
                                                  "--reorder-rate",
                                                  "--callback-connections",
                                                  "--callback-burst-ms",
                                                  "--delivery-delay-ms",
                                                  "--answer-delay-ms",
                                                  "--seed",
                                                  "--inbound-url",
                                                  "--silent",
                                                  "--twilio-account-sid",
                                                  "--twilio-auth-token",
                                                  "--error-rate"};
    if (kValued.count(name) == 0) throw std::invalid_argument("unknown option " + name);
    if (!inline_value && i + 1 >= args.size()) throw std::invalid_argument(name + " needs a value");
    const std::string value = inline_value ? *inline_value : args[++i];
    open_rate_given = open_rate_given || name == "--open-rate";
    try {
      ApplyOption(options, name, value);
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      // std::stod and friends say only "stod": name the option instead.
      throw std::invalid_argument(what.rfind("--", 0) == 0 ? what
                                                           : name + ": bad value '" + value + "'");
    } catch (const std::out_of_range&) {
      throw std::invalid_argument(name + ": value out of range");
    }
  }
  if (options.answer_rate && !open_rate_given) {
    // "--response-rate R --answer-rate A": R of the citizens open the link, A of those answer.
    options.open_rate = options.response_rate;
  } else if (!options.answer_rate) {
    // "--open-rate O --response-rate R": R is the overall answer rate, so A = R / O (everyone
    // who opens answers when R >= O).
    options.answer_rate =
        options.open_rate > 0 ? std::min(1.0, options.response_rate / options.open_rate) : 0.0;
  }
  return options;
}

std::string IsoNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

bool IsE164(const std::string& to) {
  if (to.size() < 9 || to.size() > 16 || to.front() != '+') return false;
  return std::all_of(to.begin() + 1, to.end(), [](unsigned char c) { return std::isdigit(c); });
}

// The first http(s) URL in a text message, without trailing punctuation.
std::string FirstUrl(const std::string& text) {
  std::size_t start = std::min(text.find("http://"), text.find("https://"));
  if (start == std::string::npos) return {};
  std::size_t end = start;
  while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end])) == 0) ++end;
  std::string url = text.substr(start, end - start);
  while (!url.empty() && std::string_view(".,;:!?)]'\"").find(url.back()) != std::string::npos) {
    url.pop_back();
  }
  return url;
}

// Hidden inputs of the page's first form (e.g. the page language), to send back as a browser
// would. A scan, not an HTML parser: our own survey page is the only one it has to read.
std::vector<std::pair<std::string, std::string>> HiddenInputs(const std::string& html) {
  std::vector<std::pair<std::string, std::string>> fields;
  const std::size_t form = html.find("<form");
  if (form == std::string::npos) return fields;
  const std::size_t form_end = html.find("</form>", form);
  auto attribute = [](std::string_view tag, std::string_view name) -> std::string {
    const std::string key = " " + std::string(name) + "=\"";
    const std::size_t at = tag.find(key);
    if (at == std::string_view::npos) return {};
    const std::size_t begin = at + key.size();
    const std::size_t end = tag.find('"', begin);
    return end == std::string_view::npos ? std::string()
                                         : std::string(tag.substr(begin, end - begin));
  };
  for (std::size_t at = html.find("<input", form); at != std::string::npos && at < form_end;
       at = html.find("<input", at + 1)) {
    const std::size_t close = html.find('>', at);
    if (close == std::string::npos) break;
    const std::string_view tag(html.data() + at, close - at);
    if (attribute(tag, "type") == "hidden" && !attribute(tag, "name").empty()) {
      fields.emplace_back(attribute(tag, "name"), attribute(tag, "value"));
    }
  }
  return fields;
}

// Runs tasks at given times on a few threads (callbacks and the citizen's HTTP calls block).
class Scheduler {
 public:
  explicit Scheduler(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Scheduler() { Stop(); }

  // Wakes a thread only when the task is the new earliest: the others wait for an earlier one
  // already. Each send schedules three tasks an hour or so ahead; waking every thread for each
  // of them was most of the simulator's time under bench/dispatch.sh.
  void At(Clock::time_point when, std::function<void()> task) {
    bool earliest = false;
    {
      std::lock_guard lock(mutex_);
      const std::uint64_t sequence = next_++;
      queue_.push(Item{when, sequence, std::move(task)});
      earliest = queue_.top().sequence == sequence;
    }
    if (earliest) cv_.notify_one();
  }

  void Stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

 private:
  struct Item {
    Clock::time_point when;
    std::uint64_t sequence;
    std::function<void()> task;
    bool operator>(const Item& other) const {
      return std::tie(when, sequence) > std::tie(other.when, other.sequence);
    }
  };

  void Run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      // A copy: wait_until keeps reading its argument while the queue may reallocate.
      const Clock::time_point due = queue_.top().when;
      if (due > Clock::now()) {
        cv_.wait_until(lock, due);
        continue;
      }
      auto task = std::move(const_cast<Item&>(queue_.top()).task);
      queue_.pop();
      // Another thread waits for the next task while this one works (a callback can block for
      // seconds), so a task never waits for a busy thread while others sleep.
      const bool more = !queue_.empty();
      lock.unlock();
      if (more) cv_.notify_one();
      try {
        task();
      } catch (const std::exception& e) {
        spdlog::error("wmnow-sim: task failed: {}", e.what());
      }
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  std::uint64_t next_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

struct Message {
  std::string id;
  std::string client_ref;
  std::string to;
  std::string body;
  std::string sender;
  std::string status_callback;
  std::string status = "queued";
  std::string accepted_at;
  bool twilio = false;  // came through the Twilio API: callbacks and replies in its format
  bool opened = false;
  bool answered = false;
  bool will_answer = false;  // the simulated citizen is to answer it (its Fate)
  std::string reply;         // the citizen's SMS reply, once it was taken
};

// What the citizen will do with a text, drawn when it is accepted (so a seed fixes it).
struct Fate {
  bool undeliverable = false;
  bool reorder = false;
  bool stop = false;
  std::string stop_text;  // the opt-out reply, in one of the usual variants
  bool open = false;
  bool answer = false;
  std::vector<std::pair<std::string, std::string>> form;  // q1..q5, comment
};

struct Counters {
  std::atomic<long> accepted{0}, duplicates{0}, unauthorized{0}, invalid{0}, failed{0},
      throttled{0}, hung{0}, resets{0}, unanswered{0}, callbacks{0}, callback_failures{0},
      callbacks_in_flight{0}, callbacks_at_once{0}, opened{0}, answered{0}, answer_failures{0},
      stops{0};
};

const std::vector<std::string> kHappyComments = {
    "The officer was very kind and kept me informed.",
    "Quick response, thank you.",
    "Call handler was patient and reassuring.",
    "Really appreciated the follow up call.",
    "Everyone I spoke to was professional.",
    "Thank you for coming out so late at night.",
    "Good service, nothing to add.",
};
// Comments that the shipped lexicon reads as risk to the citizen or a complaint: each should raise
// an alert (tests/fault/check decides which do with `surveyd rules explain --answers`).
const std::vector<std::string> kAlarmingComments = {
    "He is back and I am scared to go home.",
    "I want to make a formal complaint about how I was treated.",
    "He keeps threatening me and I am frightened.",
    "Please call me back, I want to complain.",
};
const std::vector<std::string> kUnhappyComments = {
    "Waited over an hour on the phone before anyone answered.",
    "Nobody came out and I heard nothing back.",
    "I had to repeat my details three times.",
    "The officer did not seem interested.",
    "Still waiting for an update on my case.",
    "It took two days for someone to visit.",
};

class Simulator {
 public:
  explicit Simulator(Options options)
      : options_(std::move(options)),
        random_(options_.seed),
        twilio_(TwilioOptions(options_),
                [this](const sim::TwilioMessage& message) { AcceptTwilio(message); }),
        callbacks_(
            http::MakeClientPool({.max_in_flight = std::max(16, options_.callback_connections)})),
        scheduler_(std::max(8, options_.callback_connections)) {}

  http::Response Handle(const http::Request& request) {
    if (request.path == "/healthz") return http::Response::Text(200, "ok\n");
    if (sim::TwilioApi::Handles(request)) return twilio_.Handle(request);
    if (request.path == "/v1/messages" && request.method == "POST") return Send(request);
    if (request.path == "/v1/messages" && request.method == "GET") return List(request);
    if (request.path == "/v1/stats" && request.method == "GET") {
      return http::Response::Json(200, Stats().dump());
    }
    return Error(404, "not_found");
  }

  json Stats() const {
    json stats = {{"accepted", counters_.accepted.load()},
                  {"duplicates", counters_.duplicates.load()},
                  {"unauthorized", counters_.unauthorized.load()},
                  {"invalid", counters_.invalid.load()},
                  {"injected_failures", counters_.failed.load()},
                  {"throttled", counters_.throttled.load()},
                  {"hung", counters_.hung.load()},
                  {"resets", counters_.resets.load()},
                  {"unanswered", counters_.unanswered.load()},
                  {"callbacks", counters_.callbacks.load()},
                  {"callback_failures", counters_.callback_failures.load()},
                  {"callbacks_at_once", counters_.callbacks_at_once.load()},
                  {"opened", counters_.opened.load()},
                  {"answered", counters_.answered.load()},
                  {"answer_failures", counters_.answer_failures.load()},
                  {"stops", counters_.stops.load()}};
    // Flat, prefixed: tests read these with grep.
    const json twilio = twilio_.Stats();  // named: items() only refers to it
    for (const auto& [name, value] : twilio.items()) stats["twilio_" + name] = value;
    return stats;
  }

  void Stop() { scheduler_.Stop(); }

  // Lets the sends held unanswered go (as resets), so that the server can stop.
  void ReleaseUnanswered() {
    {
      std::lock_guard lock(held_mutex_);
      release_held_ = true;
    }
    held_cv_.notify_all();
  }

  // Whether a request may be held on purpose (--hang-rate, --no-answer-rate): such requests need
  // a worker of their own; all others can be answered on the server's I/O thread.
  bool MayBlock() const { return options_.hang_rate > 0 || options_.no_answer_rate > 0; }

 private:
  static sim::TwilioApiOptions TwilioOptions(const Options& options) {
    sim::TwilioApiOptions twilio;
    twilio.account_sid = options.twilio_account_sid;
    twilio.auth_token = options.twilio_auth_token;
    twilio.fail_rate = options.fail_rate;
    twilio.throttle_rate = options.throttle_rate;
    twilio.error_rate = options.error_rate;
    twilio.hang_rate = options.hang_rate;
    twilio.hang = options.hang;
    twilio.reset_rate = options.reset_rate;
    twilio.seed = options.seed + 1;
    twilio.verify_tls = options.verify_tls;
    return twilio;
  }

  // A text the Twilio API created: from here on the citizen treats it like any other.
  void AcceptTwilio(const sim::TwilioMessage& created) {
    Message message;
    message.id = created.sid;
    message.to = created.to;
    message.body = created.body;
    message.sender = created.from;
    message.status_callback = created.status_callback;
    message.accepted_at = IsoNow();
    message.twilio = true;
    // The service's ref rides in the StatusCallback URL; shown in the listing like WMNow's.
    const auto query = created.status_callback.find('?');
    if (query != std::string::npos) {
      for (const auto& [name, value] : http::ParseForm(created.status_callback.substr(query + 1))) {
        if (name == "ref") message.client_ref = value;
      }
    }
    const Fate fate = FateFor(message);
    message.will_answer = fate.answer;
    {
      std::lock_guard lock(mutex_);
      Remember(message);
    }
    ++counters_.accepted;
    // As for WMNow: tests/fault/check reads this line as a text that reached a phone.
    spdlog::info("wmnow-sim: accepted {} for {} (client_ref {})", message.id,
                 phone::Mask(message.to), message.client_ref);
    Schedule(message, fate);
  }

  static http::Response Error(int status, const std::string& code) {
    return http::Response::Json(status, json{{"error", code}}.dump());
  }

  double Uniform() {
    std::lock_guard lock(random_mutex_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  }

  http::Response Send(const http::Request& request) {
    if (!crypto::ConstantTimeEquals(request.Header("Authorization"),
                                    "Bearer " + options_.api_key)) {
      ++counters_.unauthorized;
      spdlog::warn("wmnow-sim: refused a send with a wrong or missing API key");
      return Error(401, "unauthorized");
    }
    if (Uniform() < options_.fail_rate) {
      ++counters_.failed;
      spdlog::info("wmnow-sim: injected 503");
      return Error(503, "unavailable");
    }
    if (Uniform() < options_.throttle_rate) {
      ++counters_.throttled;
      spdlog::info("wmnow-sim: injected 429");
      return Error(429, "throttled").Set("Retry-After", "1");
    }

    const json payload = json::parse(request.body, nullptr, false);
    if (!payload.is_object()) return Invalid("invalid_body");
    auto text = [&payload](const char* name) -> std::optional<std::string> {
      const auto it = payload.find(name);
      if (it == payload.end() || it->is_null()) return std::string();
      if (!it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    const auto to = text("to");
    const auto body = text("body");
    const auto sender = text("sender");
    const auto client_ref = text("client_ref");
    const auto status_callback = text("status_callback");
    if (!to || !body || !sender || !client_ref || !status_callback || body->empty() ||
        body->size() > 1600 || client_ref->empty() || client_ref->size() > 200) {
      return Invalid("invalid_body");
    }
    if (!IsE164(*to)) return Invalid("invalid_number");

    Message message;
    Fate fate;
    {
      std::lock_guard lock(mutex_);
      if (const auto known = by_client_ref_.find(*client_ref); known != by_client_ref_.end()) {
        ++counters_.duplicates;
        spdlog::info("wmnow-sim: duplicate client_ref {} -> {}", *client_ref, known->second.first);
        return http::Response::Json(
            409,
            json{{"message_id", known->second.first}, {"status", known->second.second}}.dump());
      }
      message.id = "m-" + std::to_string(++next_id_);
      message.client_ref = *client_ref;
      message.to = *to;
      message.body = *body;
      message.sender = sender->empty() ? "WMNow" : *sender;
      message.status_callback = *status_callback;
      message.accepted_at = IsoNow();
      fate = FateFor(message);
      message.will_answer = fate.answer;
      by_client_ref_[message.client_ref] = {message.id, message.status};
      Remember(message);
    }
    ++counters_.accepted;
    spdlog::info("wmnow-sim: accepted {} for {} (client_ref {})", message.id,
                 phone::Mask(message.to), message.client_ref);

    Schedule(message, fate);

    if (Uniform() < options_.reset_rate) {
      // Taken, but the client never learns it: its send is in doubt, as with a hang.
      ++counters_.resets;
      spdlog::info("wmnow-sim: resetting the connection of {} unanswered", message.id);
      return http::Response{http::kNoAnswer, {}, {}};
    }
    if (Uniform() < options_.no_answer_rate && HoldUnanswered(message.id)) {
      return http::Response{http::kNoAnswer, {}, {}};
    }
    const bool hang = Uniform() < options_.hang_rate;
    if (hang) {
      // The message is taken, but the answer comes too late for most clients: their send is in
      // doubt and a resend with the same client_ref must get a 409, not a second text.
      ++counters_.hung;
      spdlog::info("wmnow-sim: holding the answer for {} for {} ms", message.id,
                   options_.hang.count());
      std::this_thread::sleep_for(options_.hang);
    }
    return http::Response::Json(201, json{{"message_id", message.id}, {"status", "queued"}}.dump());
  }

  // Holds a taken send unanswered until ReleaseUnanswered; false, at once, when kMaxHeld are held
  // already: each holds one of the server's workers, and the simulator must go on answering.
  bool HoldUnanswered(const std::string& id) {
    std::unique_lock lock(held_mutex_);
    if (held_ >= kMaxHeld) return false;
    ++held_;
    ++counters_.unanswered;
    spdlog::info("wmnow-sim: never answering for {}", id);
    held_cv_.wait(lock, [this] { return release_held_; });
    --held_;
    return true;
  }

  http::Response Invalid(const std::string& code) {
    ++counters_.invalid;
    spdlog::info("wmnow-sim: refused a send: {}", code);
    return Error(400, code);
  }

  http::Response List(const http::Request& request) {
    std::size_t limit = 20;
    bool unanswered_only = false;
    for (const auto& [name, value] : http::ParseForm(request.query)) {
      if (name == "unanswered") unanswered_only = value == "1" || value == "true";
      if (name == "limit") {
        try {
          limit = std::clamp<std::size_t>(std::stoul(value), 1, 1000);
        } catch (const std::exception&) {
          return Error(400, "invalid_limit");
        }
      }
    }
    json messages = json::array();
    std::lock_guard lock(mutex_);
    // The newest `limit` matching messages, oldest first.
    std::vector<const Message*> picked;
    for (auto it = history_.rbegin(); it != history_.rend() && picked.size() < limit; ++it) {
      if (!unanswered_only || (!it->answered && !it->will_answer)) picked.push_back(&*it);
    }
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
      const Message& m = **it;
      messages.push_back({{"message_id", m.id},
                          {"client_ref", m.client_ref},
                          {"to", options_.show_numbers ? m.to : phone::Mask(m.to)},
                          {"body", m.body},
                          {"sender", m.sender},
                          {"status", m.status},
                          {"accepted_at", m.accepted_at},
                          {"opened", m.opened},
                          {"answered", m.answered},
                          {"reply", m.reply}});
    }
    return http::Response::Json(
        200, json{{"messages", messages}}.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  Fate FateFor(const Message& message) {
    Fate fate = DrawFate();
    if (options_.silent.count(phone::Normalize(message.to).e164) != 0) {
      // A test answers this one itself.
      fate.open = fate.answer = fate.stop = false;
    }
    return fate;
  }

  Fate DrawFate() {
    Fate fate;
    std::lock_guard lock(random_mutex_);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    fate.undeliverable = uniform(random_) < options_.undeliverable_rate;
    fate.reorder = uniform(random_) < options_.reorder_rate;
    fate.stop = uniform(random_) < options_.stop_rate;
    static const char* const kStops[] = {"STOP", "Stop please", "stop.", "Unsubscribe",
                                         "no more texts"};
    fate.stop_text = kStops[std::uniform_int_distribution<std::size_t>(0, 4)(random_)];
    fate.open = !fate.stop && uniform(random_) < options_.open_rate;
    fate.answer = fate.open && uniform(random_) < *options_.answer_rate;

    // Most people are satisfied, some clearly not: a mixture with a mean near 7.5 out of 10.
    const bool happy = uniform(random_) < 0.8;
    std::normal_distribution<double> mood(happy ? 8.6 : 4.0, happy ? 0.9 : 2.0);
    const double base = mood(random_);
    std::normal_distribution<double> spread(0.0, 1.0);
    for (int q = 1; q <= 5; ++q) {
      std::string value;
      if (uniform(random_) >= 0.04) {  // now and then a question is left blank
        value = std::to_string(
            static_cast<int>(std::clamp(std::lround(base + spread(random_)), 0L, 10L)));
      }
      fate.form.emplace_back("q" + std::to_string(q), value);
    }
    std::string comment;
    if (options_.alarm_rate > 0 && uniform(random_) < options_.alarm_rate) {
      comment = kAlarmingComments[std::uniform_int_distribution<std::size_t>(
          0, kAlarmingComments.size() - 1)(random_)];
    } else if (uniform(random_) < 0.45) {
      const auto& pool = happy ? kHappyComments : kUnhappyComments;
      comment = pool[std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(random_)];
    }
    fate.form.emplace_back("comment", comment);
    return fate;
  }

  void Schedule(const Message& message, const Fate& fate) {
    const auto now = Clock::now();
    const auto sent_at = now + options_.delivery_delay / 2;
    const auto final_at = now + options_.delivery_delay;
    const std::string final_status = fate.undeliverable ? "undeliverable" : "delivered";
    if (!message.status_callback.empty()) {
      // tests/fault/check --final-states reads this: where the message ends, whatever order and
      // however many times its callbacks arrive.
      spdlog::info("wmnow-sim: {} ends {} (client_ref {})", message.id, final_status,
                   message.client_ref);
      // One copy for both callbacks (and their duplicates): a copy is several allocations.
      const auto shared = std::make_shared<const Message>(message);
      ScheduleCallback(fate.reorder ? final_at : sent_at, shared, "sent");
      ScheduleCallback(fate.reorder ? sent_at : final_at, shared, final_status);
    }
    scheduler_.At(final_at, [this, id = message.id, final_status] { SetStatus(id, final_status); });
    if (fate.undeliverable) return;
    if (fate.stop) {
      scheduler_.At(final_at + options_.answer_delay,
                    [this, message, text = fate.stop_text] { ReplyStop(message, text); });
      return;
    }
    if (!fate.open) return;
    const std::string link = FirstUrl(message.body);
    if (link.empty()) {
      spdlog::warn("wmnow-sim: {} has no link to open", message.id);
      return;
    }
    scheduler_.At(final_at + options_.answer_delay / 2,
                  [this, id = message.id, ref = message.client_ref, link, fate] {
                    OpenLink(id, ref, link, fate);
                  });
  }

  // A callback at `when` (the next burst, in bursts), and in bursts its duplicate with it.
  void ScheduleCallback(Clock::time_point when, const std::shared_ptr<const Message>& message,
                        const std::string& status) {
    const auto burst = options_.callback_burst;
    if (burst.count() > 0) {
      const auto since =
          std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch());
      when = Clock::time_point(((since + burst - std::chrono::milliseconds(1)) / burst) * burst);
      if (Uniform() < options_.duplicate_rate) {
        scheduler_.At(when,
                      [this, message, status] { Callback(*message, status, kCallbackAttempts); });
      }
    }
    scheduler_.At(when, [this, message, status] { Callback(*message, status, 1); });
  }

  // Keeps a message in the history (the newest kMaxHistory), found again by its id.
  void Remember(const Message& message) {
    history_.push_back(message);
    position_[message.id] = history_base_ + history_.size() - 1;
    if (history_.size() > kMaxHistory) {
      const auto found = position_.find(history_.front().id);
      if (found != position_.end() && found->second == history_base_) position_.erase(found);
      history_.pop_front();
      ++history_base_;
    }
  }

  // The history's message of that id, or null once forgotten. By index: each text's callbacks,
  // link and answer look it up, and scanning a history of 100,000 made the simulator the
  // soak's third busiest process (bench/soak.sh). Holds mutex_.
  Message* Find(const std::string& id) {
    const auto found = position_.find(id);
    if (found == position_.end() || found->second < history_base_) return nullptr;
    return &history_[found->second - history_base_];
  }

  void SetStatus(const std::string& id, const std::string& status) {
    std::lock_guard lock(mutex_);
    Message* message = Find(id);
    if (message == nullptr) return;
    message->status = status;
    if (!message->twilio) by_client_ref_[message->client_ref].second = status;
  }

  void MarkReplied(const std::string& id, const std::string& text) {
    std::lock_guard lock(mutex_);
    Message* message = Find(id);
    if (message == nullptr) return;
    message->reply = text;
  }

  void MarkCitizen(const std::string& id, bool answered) {
    std::lock_guard lock(mutex_);
    Message* message = Find(id);
    if (message == nullptr) return;
    (answered ? message->answered : message->opened) = true;
  }

  // POSTs a JSON body signed as WMNow signs: HMAC-SHA256(secret, timestamp + "." + body).
  http::ClientResponse PostSigned(const std::string& url, const std::string& body) {
    const std::string timestamp =
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    http::ClientRequest request;
    request.method = "POST";
    request.url = url;
    request.body = body;
    request.timeout = std::chrono::seconds(10);
    request.verify_tls = options_.verify_tls;
    request.headers = {
        {"Content-Type", "application/json"},
        {"X-WMNow-Timestamp", timestamp},
        {"X-WMNow-Signature", crypto::SignTimestamped(options_.webhook_secret, timestamp, body)}};
    return callbacks_->Fetch(std::move(request));
  }

  // Twilio's form of a status callback: its own status words, signed with X-Twilio-Signature.
  http::ClientResponse TwilioCallback(const Message& message, const std::string& status) {
    sim::TwilioMessage twilio;
    twilio.sid = message.id;
    twilio.to = message.to;
    twilio.from = message.sender;
    twilio.body = message.body;
    twilio.status_callback = message.status_callback;
    const bool undelivered = status == "undeliverable";
    twilio_.SetStatus(message.id, undelivered ? "undelivered" : status);
    // 30003: Unreachable destination handset.
    return twilio_.PostStatus(twilio, undelivered ? "undelivered" : status,
                              undelivered ? "30003" : "");
  }

  void Callback(const Message& message, const std::string& status, int attempt) {
    const json payload = {
        {"message_id", message.id},
        {"client_ref", message.client_ref},
        {"status", status},
        {"error_code", status == "undeliverable" ? json("absent_subscriber") : json(nullptr)},
        {"at", IsoNow()}};
    const long at_once = ++counters_.callbacks_in_flight;
    for (long peak = counters_.callbacks_at_once.load();
         at_once > peak && !counters_.callbacks_at_once.compare_exchange_weak(peak, at_once);) {
    }
    const auto response = message.twilio ? TwilioCallback(message, status)
                                         : PostSigned(message.status_callback, payload.dump());
    --counters_.callbacks_in_flight;
    if (response.Ok() && response.status >= 200 && response.status < 300) {
      ++counters_.callbacks;
      spdlog::debug("wmnow-sim: callback {} {} -> {}", message.id, status, response.status);
      // In bursts the duplicate went with the original (ScheduleCallback).
      if (attempt == 1 && options_.callback_burst.count() == 0 &&
          Uniform() < options_.duplicate_rate) {
        scheduler_.At(Clock::now() + std::chrono::milliseconds(50),
                      [this, message, status] { Callback(message, status, kCallbackAttempts); });
      }
      return;
    }
    ++counters_.callback_failures;
    spdlog::warn("wmnow-sim: callback {} {} failed (attempt {}): {}", message.id, status, attempt,
                 response.Ok() ? "http " + std::to_string(response.status) : response.error);
    if (attempt < kCallbackAttempts) {
      scheduler_.At(Clock::now() + std::chrono::seconds(attempt),
                    [this, message, status, attempt] { Callback(message, status, attempt + 1); });
    }
  }

  void ReplyStop(const Message& message, const std::string& text) {
    if (options_.inbound_url.empty()) {
      spdlog::warn("wmnow-sim: a STOP reply for {} dropped: no --inbound-url", message.id);
      return;
    }
    if (message.twilio) {
      const auto response =
          twilio_.PostInbound(options_.inbound_url, message.to, message.sender, text);
      if (response.Ok() && response.status >= 200 && response.status < 300) {
        ++counters_.stops;
        MarkReplied(message.id, text);
        spdlog::info("wmnow-sim: {} replied '{}' through the Twilio API", phone::Mask(message.to),
                     text);
      } else {
        spdlog::warn("wmnow-sim: Twilio inbound failed: {}",
                     response.Ok() ? "http " + std::to_string(response.status) : response.error);
      }
      return;
    }
    const std::string id = [this] {
      std::lock_guard lock(mutex_);
      return "in-" + std::to_string(++next_inbound_id_);
    }();
    const json payload = {{"message_id", id},
                          {"from", message.to},
                          {"to", message.sender},
                          {"body", text},
                          {"received_at", IsoNow()}};
    const auto response = PostSigned(options_.inbound_url, payload.dump());
    if (response.Ok() && response.status >= 200 && response.status < 300) {
      ++counters_.stops;
      MarkReplied(message.id, text);
      spdlog::info("wmnow-sim: {} from {} replied '{}'", id, phone::Mask(message.to), text);
    } else {
      spdlog::warn("wmnow-sim: inbound {} failed: {}", id,
                   response.Ok() ? "http " + std::to_string(response.status) : response.error);
    }
  }

  void OpenLink(const std::string& id, const std::string& client_ref, const std::string& link,
                const Fate& fate) {
    http::ClientRequest open;
    open.url = link;
    open.timeout = std::chrono::seconds(10);
    open.verify_tls = options_.verify_tls;
    open.headers = {{"User-Agent", "Mozilla/5.0 (Linux; Android 14) wmnow-sim citizen"},
                    {"Accept", "text/html"},
                    {"Accept-Language", "en-GB,en;q=0.8"}};
    const auto page = http::Fetch(open);
    if (!page.Ok() || page.status != 200) {
      ++counters_.answer_failures;
      spdlog::warn("wmnow-sim: citizen could not open the link of {}: {}", id,
                   page.Ok() ? "http " + std::to_string(page.status) : page.error);
      return;
    }
    ++counters_.opened;
    MarkCitizen(id, false);
    spdlog::info("wmnow-sim: citizen opened the link of {}", id);
    if (!fate.answer) return;
    scheduler_.At(Clock::now() + options_.answer_delay / 2,
                  [this, id, client_ref, link, fate, hidden = HiddenInputs(page.body)] {
                    Answer(id, client_ref, link, fate, hidden);
                  });
  }

  void Answer(const std::string& id, const std::string& client_ref, const std::string& link,
              const Fate& fate, const std::vector<std::pair<std::string, std::string>>& hidden) {
    std::string form;
    auto add = [&form](const std::string& name, const std::string& value) {
      if (!form.empty()) form += '&';
      form += http::UrlEncode(name) + "=" + http::UrlEncode(value);
    };
    for (const auto& [name, value] : hidden) add(name, value);
    for (const auto& [name, value] : fate.form) add(name, value);

    http::ClientRequest submit;
    submit.method = "POST";
    submit.url = link;
    submit.timeout = std::chrono::seconds(10);
    submit.verify_tls = options_.verify_tls;
    submit.headers = {{"User-Agent", "Mozilla/5.0 (Linux; Android 14) wmnow-sim citizen"},
                      {"Content-Type", "application/x-www-form-urlencoded"},
                      {"Accept-Language", "en-GB,en;q=0.8"}};
    submit.body = form;
    const auto response = http::Fetch(submit);
    if (!response.Ok() || response.status >= 400) {
      ++counters_.answer_failures;
      spdlog::warn("wmnow-sim: citizen's answers for {} were refused: {}", id,
                   response.Ok() ? "http " + std::to_string(response.status) : response.error);
      return;
    }
    ++counters_.answered;
    MarkCitizen(id, true);
    spdlog::info("wmnow-sim: citizen answered the survey of {} (http {})", id, response.status);
    // The thank-you page (200; 422 and 503 show the form again): the service promised to keep
    // this answer (tests/fault/check, I5).
    if (response.status == 200) LogThanked(client_ref);
  }

  void LogThanked(const std::string& client_ref) {
    if (!answers_log_) return;
    std::lock_guard lock(answers_log_mutex_);
    std::fprintf(answers_log_.get(), "thanked client_ref %s\n", client_ref.c_str());
    std::fflush(answers_log_.get());
  }

  static std::unique_ptr<std::FILE, int (*)(std::FILE*)> OpenAnswersLog(const std::string& path) {
    if (path.empty()) return {nullptr, &std::fclose};
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "a"),
                                                         &std::fclose);
    if (!file) throw std::runtime_error("cannot open --answers-log " + path);
    return file;
  }

  const Options options_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> answers_log_ =
      OpenAnswersLog(options_.answers_log);
  std::mutex answers_log_mutex_;
  std::mutex random_mutex_;
  std::mt19937_64 random_;
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::string>> by_client_ref_;  // id, status
  std::deque<Message> history_;
  std::unordered_map<std::string, std::uint64_t> position_;  // id -> history_base_ + index
  std::uint64_t history_base_ = 0;                           // the position of history_.front()
  std::uint64_t next_id_ = 0;
  std::uint64_t next_inbound_id_ = 0;
  Counters counters_;
  static constexpr int kMaxHeld = 8;  // of the server's 16 workers
  std::mutex held_mutex_;
  std::condition_variable held_cv_;
  int held_ = 0;
  bool release_held_ = false;
  sim::TwilioApi twilio_;
  // Callbacks over kept-alive connections, as a real gateway sends them: a new connection for
  // each would cost both sides more than the report itself.
  std::unique_ptr<http::ClientPool> callbacks_;
  Scheduler scheduler_;  // last: its threads use everything above
};

int Main(int argc, char** argv) {
  Options options;
  try {
    options = ParseOptions(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "wmnow-sim: " << e.what() << "\n";
    Usage(std::cerr);
    return 2;
  }
  spdlog::set_level(options.verbose ? spdlog::level::debug
                    : options.quiet ? spdlog::level::warn
                                    : spdlog::level::info);

  // Signals are taken by sigwait below, never delivered to a thread mid-request.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<Simulator> made;
  try {
    made = std::make_unique<Simulator>(options);
  } catch (const std::exception& e) {
    std::cerr << "wmnow-sim: " << e.what() << "\n";
    return 1;
  }
  Simulator& simulator = *made;
  http::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.worker_threads = 16;  // --hang-ms holds a worker per hung send
  server_options.io_threads = 2;       // sends are answered on them (below)
  // Answered on the I/O thread unless a send may be held: the gateway must be far faster than
  // the service measured against it (bench/dispatch.sh), and a hop to a worker costs more than
  // the answer.
  http::FastHandler fast;
  if (!simulator.MayBlock()) {
    fast = [&simulator](const http::Request& request) -> std::optional<http::Response> {
      return simulator.Handle(request);
    };
  }
  auto server = http::MakeServer(
      server_options,
      [&simulator](const http::Request& request) { return simulator.Handle(request); },
      std::move(fast));
  try {
    server->Start();
  } catch (const std::exception& e) {
    std::cerr << "wmnow-sim: cannot listen on " << e.what() << "\n";
    return 1;
  }
  spdlog::info("wmnow-sim: listening on {}:{} (seed {})", options.host, server->Port(),
               options.seed);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  simulator.ReleaseUnanswered();
  server->Stop();
  simulator.Stop();
  std::cout << "wmnow-sim: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ": "
            << simulator.Stats().dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace surveyd::tools

int main(int argc, char** argv) { return surveyd::tools::Main(argc, argv); }
