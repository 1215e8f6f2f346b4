#include "sim/event_generator.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <queue>
#include <string_view>
#include <vector>

namespace surveyd::sim {
namespace {

// xoshiro256** seeded through splitmix64: fast, and the same sequence on every platform (the
// std:: distributions are not), so a seed means the same stream everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) s = SplitMix(seed);
  }
  std::uint64_t Next() {
    const std::uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Uniform() < p; }
  int Below(int n) { return static_cast<int>(Next() % static_cast<std::uint64_t>(n)); }
  int Between(int lo, int hi) { return lo + Below(hi - lo + 1); }  // inclusive
  template <std::size_t N>
  int Pick(const std::array<double, N>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = Uniform() * total;
    for (std::size_t i = 0; i < N; ++i) {
      if (x < weights[i]) return static_cast<int>(i);
      x -= weights[i];
    }
    return static_cast<int>(N - 1);
  }

  static std::uint64_t SplitMix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  static std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// A table of (value, weight) picked by weight; weights need not sum to one.
template <typename T>
struct Weighted {
  std::vector<T> values;
  std::vector<double> cumulative;

  Weighted(std::initializer_list<std::pair<T, double>> items) {
    double total = 0;
    for (const auto& [value, weight] : items) {
      total += weight;
      values.push_back(value);
      cumulative.push_back(total);
    }
  }
  const T& Pick(Rng& rng) const {
    const double x = rng.Uniform() * cumulative.back();
    std::size_t lo = 0, hi = cumulative.size() - 1;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (x < cumulative[mid]) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return values[lo];
  }
};

// Relative demand by hour of day: quiet 03:00-06:00, rising through the day, peaking in the
// late afternoon and evening.
constexpr std::array<double, 24> kHourWeights = {3.2, 2.6, 2.0, 1.5, 1.2, 1.2, 1.5, 2.3,
                                                 3.2, 3.9, 4.2, 4.4, 4.6, 4.7, 4.8, 5.0,
                                                 5.4, 5.6, 5.6, 5.4, 5.0, 4.6, 4.2, 3.7};

enum Grade { kP1, kP2, kP3, kP4, kScheduled, kRwd, kGradeCount };
constexpr std::array<const char*, kGradeCount> kGradeNames = {"P1", "P2",        "P3",
                                                              "P4", "SCHEDULED", "RWD"};
using GradeWeights = std::array<double, kGradeCount>;

struct IncidentType {
  const char* code;
  const char* label;
  const char* category;
  double weight;
  GradeWeights grades;
  std::vector<std::pair<const char*, double>> qualifiers;  // flag, probability
};

const std::vector<IncidentType>& IncidentTypes() {
  static const std::vector<IncidentType> kTypes = {
      {"BURG-RES",
       "Burglary - residential",
       "crime",
       5,
       {3, 25, 50, 12, 10, 0},
       {{"REPEAT_VICTIM", 0.08}, {"VULNERABLE_ADULT", 0.05}}},
      {"BURG-BUS", "Burglary - business", "crime", 1.5, {2, 15, 50, 20, 13, 0}, {}},
      {"THEFT-VEH", "Theft of or from a motor vehicle", "crime", 4, {1, 8, 40, 30, 6, 15}, {}},
      {"THEFT-SHOP", "Shoplifting", "crime", 4, {2, 20, 40, 20, 3, 15}, {{"REPEAT_VICTIM", 0.2}}},
      {"THEFT-OTHER", "Theft - other", "crime", 4, {1, 8, 35, 30, 6, 20}, {}},
      {"ROBBERY", "Robbery - personal", "crime", 1.2, {40, 40, 15, 5, 0, 0}, {{"HATE", 0.03}}},
      {"ASB-NOISE",
       "ASB - noise nuisance",
       "asb",
       6,
       {0, 5, 35, 40, 5, 15},
       {{"REPEAT_VICTIM", 0.25}}},
      {"ASB-YOUTHS",
       "ASB - youths causing annoyance",
       "asb",
       4,
       {1, 10, 45, 30, 2, 12},
       {{"REPEAT_VICTIM", 0.1}}},
      {"RTC-DAMAGE",
       "Road traffic collision - damage only",
       "transport",
       4,
       {2, 20, 30, 10, 0, 38},
       {}},
      {"RTC-INJURY", "Road traffic collision - injury", "transport", 1.5, {75, 20, 5, 0, 0, 0}, {}},
      {"HIGHWAY", "Highway disruption", "transport", 1.5, {10, 40, 30, 5, 0, 15}, {}},
      {"CONCERN-WELFARE",
       "Concern for welfare",
       "welfare",
       9,
       {25, 45, 20, 5, 0, 5},
       {{"VULNERABLE_ADULT", 0.35},
        {"MENTAL_HEALTH", 0.3},
        {"SUICIDE_RISK", 0.08},
        {"CHILD_AT_RISK", 0.05}}},
      {"DOM-ABUSE",
       "Domestic abuse",
       "crime",
       5.5,
       {30, 50, 15, 0, 5, 0},
       {{"DOMESTIC", 1}, {"REPEAT_VICTIM", 0.35}, {"CHILD_AT_RISK", 0.2}, {"STALKING", 0.08}}},
      {"DOM-INCIDENT",
       "Domestic incident - non-crime",
       "public_safety",
       2,
       {10, 50, 30, 5, 5, 0},
       {{"DOMESTIC", 1}, {"REPEAT_VICTIM", 0.2}}},
      {"SEX-ASSAULT",
       "Sexual assault",
       "crime",
       0.8,
       {40, 45, 10, 0, 5, 0},
       {{"SEXUAL_OFFENCE", 1}, {"CHILD_AT_RISK", 0.15}, {"DOMESTIC", 0.15}}},
      {"ASSAULT-COMMON",
       "Assault - common",
       "crime",
       5,
       {15, 40, 35, 5, 5, 0},
       {{"DOMESTIC", 0.25}, {"HATE", 0.03}}},
      {"ASSAULT-ABH",
       "Assault - actual bodily harm",
       "crime",
       1.5,
       {40, 45, 15, 0, 0, 0},
       {{"DOMESTIC", 0.25}}},
      {"CRIM-DAMAGE",
       "Criminal damage",
       "crime",
       5,
       {2, 15, 45, 25, 3, 10},
       {{"DOMESTIC", 0.1}, {"HATE", 0.02}, {"REPEAT_VICTIM", 0.1}}},
      {"FRAUD", "Fraud or scam", "crime", 4, {0, 3, 30, 30, 7, 30}, {{"VULNERABLE_ADULT", 0.15}}},
      {"SUSP-CIRC", "Suspicious circumstances", "public_safety", 6, {10, 40, 35, 5, 0, 10}, {}},
      {"ALARM", "Intruder alarm", "public_safety", 2, {5, 40, 35, 0, 0, 20}, {}},
      {"MISSING-PER",
       "Missing person",
       "welfare",
       2,
       {30, 55, 10, 0, 5, 0},
       {{"MISSING_PERSON", 1}, {"CHILD_AT_RISK", 0.35}, {"VULNERABLE_ADULT", 0.2}}},
      {"SUDDEN-DEATH", "Sudden death", "welfare", 0.5, {60, 40, 0, 0, 0, 0}, {{"SUDDEN_DEATH", 1}}},
      {"MENTAL-HEALTH",
       "Mental health concern",
       "welfare",
       3,
       {35, 45, 15, 0, 0, 5},
       {{"MENTAL_HEALTH", 1}, {"SUICIDE_RISK", 0.3}, {"VULNERABLE_ADULT", 0.2}}},
      {"HATE-INC",
       "Hate incident",
       "crime",
       0.6,
       {5, 30, 45, 10, 10, 0},
       {{"HATE", 1}, {"REPEAT_VICTIM", 0.2}}},
      {"STALK-HARASS",
       "Stalking or harassment",
       "crime",
       2,
       {5, 30, 40, 10, 15, 0},
       {{"STALKING", 0.6}, {"DOMESTIC", 0.3}, {"REPEAT_VICTIM", 0.3}}},
      {"FIREARMS",
       "Firearms incident",
       "public_safety",
       0.15,
       {90, 10, 0, 0, 0, 0},
       {{"FIREARMS", 1}}},
      {"MOD-SLAVERY",
       "Modern slavery",
       "crime",
       0.15,
       {20, 50, 20, 0, 10, 0},
       {{"MODERN_SLAVERY", 1}, {"VULNERABLE_ADULT", 0.5}}},
      {"HBA",
       "Honour-based abuse",
       "crime",
       0.1,
       {40, 50, 10, 0, 0, 0},
       {{"HONOUR_BASED", 1}, {"DOMESTIC", 1}}},
      {"DRUGS", "Drugs - supply or use", "crime", 1.5, {2, 15, 40, 30, 3, 10}, {}},
      {"ANIMAL", "Animal related", "other", 0.8, {5, 20, 30, 15, 0, 30}, {}},
      {"LOST-PROP", "Lost or found property", "admin", 2, {0, 0, 5, 10, 5, 80}, {}},
      {"ADMIN-ENQ", "General enquiry", "admin", 6, {0, 0, 2, 5, 8, 85}, {}},
  };
  return kTypes;
}

// Flags that turn up on any log now and then, whatever the incident type.
constexpr std::pair<const char*, double> kBackgroundQualifiers[] = {
    {"VULNERABLE_ADULT", 0.02}, {"MENTAL_HEALTH", 0.03}, {"REPEAT_VICTIM", 0.03}};

struct Npu {
  const char* name;
  const char* code;  // beat and callsign prefix
  std::vector<const char*> districts;
};

const Weighted<Npu>& Npus() {
  static const Weighted<Npu> kNpus = {
      {{"Birmingham East", "BE", {"B8", "B9", "B25", "B26", "B33", "B34", "B35", "B36", "B37"}},
       10},
      {{"Birmingham West", "BW", {"B1", "B15", "B16", "B17", "B18", "B21", "B32"}}, 9},
      {{"Birmingham North", "BN", {"B6", "B7", "B20", "B23", "B24", "B42", "B44", "B73"}}, 9},
      {{"Birmingham South", "BS", {"B12", "B13", "B14", "B28", "B29", "B30", "B31", "B38"}}, 9},
      {{"Coventry", "CV", {"CV1", "CV2", "CV3", "CV4", "CV5", "CV6"}}, 13},
      {{"Dudley", "DY", {"DY1", "DY2", "DY3", "DY5", "DY8", "DY9", "B62", "B63"}}, 12},
      {{"Sandwell", "SW", {"B64", "B65", "B66", "B67", "B68", "B69", "B70", "B71"}}, 12},
      {{"Solihull", "SH", {"B90", "B91", "B92", "B93", "B94"}}, 8},
      {{"Walsall", "WS", {"WS1", "WS2", "WS3", "WS4", "WS5", "WS8", "WS9", "WS10"}}, 11},
      {{"Wolverhampton", "WV", {"WV1", "WV2", "WV3", "WV4", "WV6", "WV10", "WV11", "WV14"}}, 10},
  };
  return kNpus;
}

enum Channel { k999, k101, kLiveChat, kOnline, kInPerson };
constexpr std::array<const char*, 5> kChannelNames = {"999", "101", "live_chat", "online",
                                                      "in_person"};
constexpr std::array<double, 5> kChannelWeights = {25, 50, 15, 7, 3};

const Weighted<const char*> kRoles = {
    {"victim", 55}, {"informant", 20}, {"witness", 12}, {"third_party", 10}, {"professional", 3}};
const Weighted<const char*> kGenders = {{"female", 48}, {"male", 46}, {"unknown", 4}, {"other", 1}};
// ONS 2021 census categories, in roughly the West Midlands proportions.
const Weighted<const char*> kEthnicities = {
    {"White British", 58},
    {"White Irish", 1.5},
    {"White - Other", 4},
    {"Mixed - White and Black Caribbean", 2},
    {"Mixed - Other", 2},
    {"Asian or Asian British - Indian", 6},
    {"Asian or Asian British - Pakistani", 8},
    {"Asian or Asian British - Bangladeshi", 2},
    {"Asian or Asian British - Chinese", 0.8},
    {"Asian or Asian British - Other", 2},
    {"Black or Black British - African", 3},
    {"Black or Black British - Caribbean", 2.5},
    {"Black or Black British - Other", 1},
    {"Arab", 0.7},
    {"Other ethnic group", 1.5},
    {"Not stated", 5},
};
const Weighted<const char*> kLanguages = {{"en", 92}, {"pl", 2.5}, {"pa", 2},
                                          {"ur", 2},  {"cy", 0.5}, {"ro", 1}};
const Weighted<const char*> kConsents = {{"unknown", 85}, {"given", 10}, {"declined", 5}};

struct ClosureCode {
  const char* code;
  const char* outcome;
};
const Weighted<ClosureCode> kCrimeClosures = {
    {{"CRIME-RECORDED", "Crime recorded - passed to investigation"}, 55},
    {{"ARREST", "Suspect arrested"}, 12},
    {{"NFA", "No further action"}, 15},
    {{"REFERRED", "Referred to partner agency"}, 8},
    {{"RESOLVED", "Resolved at first contact"}, 10}};
const Weighted<ClosureCode> kOtherClosures = {{{"RESOLVED", "Resolved at first contact"}, 35},
                                              {{"ADVICE", "Advice given"}, 30},
                                              {{"NFA", "No further action"}, 15},
                                              {{"REFERRED", "Referred to partner agency"}, 15},
                                              {{"DUPLICATE-LOG", "Duplicate of another log"}, 5}};

// Not phone numbers at all, as real logs sometimes hold.
constexpr const char* kGarbagePhones[] = {"n/a",          "0770090",   "see log", "12345",
                                          "07700 9OO123", "ring back", "0000"};

// ---- Fast text helpers --------------------------------------------------------------------

void AppendInt(std::string& out, std::int64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  out.append(buf, static_cast<std::size_t>(n));
}

void AppendPadded(std::string& out, std::int64_t v, int width) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
  out.append(buf, static_cast<std::size_t>(n));
}

struct Civil {
  int year;
  unsigned month, day, hour, minute, second;
};

Civil ToCivil(std::int64_t unix_seconds) {
  // Howard Hinnant's civil_from_days.
  std::int64_t days = unix_seconds / 86400;
  std::int64_t rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const auto y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2));
  return {y,
          m,
          d,
          static_cast<unsigned>(rem / 3600),
          static_cast<unsigned>(rem % 3600 / 60),
          static_cast<unsigned>(rem % 60)};
}

void Append2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// "2026-11-26T09:15:02Z"
void AppendTime(std::string& out, std::int64_t unix_seconds) {
  const Civil c = ToCivil(unix_seconds);
  AppendPadded(out, c.year, 4);
  out.push_back('-');
  Append2(out, c.month);
  out.push_back('-');
  Append2(out, c.day);
  out.push_back('T');
  Append2(out, c.hour);
  out.push_back(':');
  Append2(out, c.minute);
  out.push_back(':');
  Append2(out, c.second);
  out.push_back('Z');
}

// "20261126"
void AppendDate(std::string& out, std::int64_t unix_seconds) {
  const Civil c = ToCivil(unix_seconds);
  AppendPadded(out, c.year, 4);
  Append2(out, c.month);
  Append2(out, c.day);
}

void AppendField(std::string& out, const char* name, std::string_view value) {
  out.push_back('"');
  out.append(name);
  out.append("\":\"");
  out.append(value);
  out.push_back('"');
}

// ---- The simulated world -------------------------------------------------------------------

struct IncidentState {
  std::int64_t serial = 0;  // 7 digits, unique within a run
  std::int64_t call_started = 0, opened_at = 0, call_ended = 0;
  int channel = k101;
  std::string static_json;     // "type_code":...,"location":{...}   (inside "incident")
  std::string caller_json;     // {...} or null
  std::string call_json_tail;  // "handler_id":...,"handler_team":"..."
  std::int64_t call_number = 0;
  const char* category = "other";
  bool road_traffic = false;  // attended by Roads Policing as often as by Response
  const Npu* npu = nullptr;
  // A second caller (a witness ringing in about the same incident).
  std::string second_caller_json;
  std::int64_t second_call_started = 0, second_call_ended = 0, second_call_number = 0;
};

enum PendingKind : std::uint8_t { kCallEnded, kSecondCall, kDeparted, kClosed };

struct Pending {
  std::int64_t at = 0;      // simulated unix seconds: occurred_at
  std::uint64_t order = 0;  // ties keep creation order
  PendingKind kind = kCallEnded;
  int officer = 0;  // kDeparted: 1, 2...
  std::int64_t arrived_at = 0;
  std::shared_ptr<IncidentState> incident;

  bool operator>(const Pending& other) const {
    return at != other.at ? at > other.at : order > other.order;
  }
};

}  // namespace

struct EventGenerator::Impl {
  GeneratorOptions options;
  Rng rng;
  Counts counts;
  std::int64_t next_seq;
  std::int64_t serial_base;
  std::int64_t incidents = 0;
  std::uint64_t order = 0;
  double next_arrival;  // simulated unix seconds (fractional)
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending;
  // Recently emitted events, for duplicates.
  struct Recent {
    std::string event_id, type;
    TimePoint occurred_at;
    std::string body;  // the line after its seq
  };
  std::vector<Recent> recent;
  std::size_t recent_next = 0;
  static constexpr std::size_t kRecent = 256;
  // The incident of the last event written: a torn incident.closed names it, as the real hazard
  // would (the line that says an incident was sensitive is the one that cannot be read).
  std::string last_incident = "WMP-UNKNOWN";

  explicit Impl(const GeneratorOptions& o)
      : options(o),
        rng(o.seed),
        next_seq(o.first_seq),
        next_arrival(static_cast<double>(ToUnixSeconds(o.start))) {
    std::uint64_t s = o.seed ^ 0x5EEDULL;
    // Runs with different seeds get different incident numbers, so their event ids do not collide.
    serial_base = static_cast<std::int64_t>(Rng::SplitMix(s) % 9000000ULL);
  }

  void AdvanceArrival() {
    const std::int64_t now = static_cast<std::int64_t>(next_arrival);
    const int hour = static_cast<int>(((now % 86400) + 86400) % 86400 / 3600);
    double sum = 0;
    for (double w : kHourWeights) sum += w;
    const double per_second = options.incidents_per_day * kHourWeights[hour] / sum / 3600.0;
    next_arrival += -std::log(1.0 - rng.Uniform()) / per_second;
  }

  void Push(Pending p) {
    p.order = order++;
    pending.push(std::move(p));
  }

  std::string MakePhone(std::string& phone_type) {
    const double x = rng.Uniform();
    const int n = rng.Below(1000);
    char buf[48];
    if (x < 0.72) {
      phone_type = "mobile";
      static constexpr const char* kFormats[] = {"+447700900%03d",      "07700 900%03d",
                                                 "447700900%03d",       "07700900%03d",
                                                 "+44 (0)7700 900%03d", "+44 7700 900%03d"};
      static constexpr std::array<double, 6> kWeights = {50, 25, 8, 10, 3, 4};
      std::snprintf(buf, sizeof buf, kFormats[rng.Pick(kWeights)], n);
      return buf;
    }
    if (x < 0.87) {
      phone_type = "landline";
      static constexpr const char* kFormats[] = {"0121 496 0%03d", "+441214960%03d",
                                                 "(0121) 496 0%03d"};
      static constexpr std::array<double, 3> kWeights = {60, 30, 10};
      std::snprintf(buf, sizeof buf, kFormats[rng.Pick(kWeights)], n);
      return buf;
    }
    if (x < 0.95) {
      phone_type = "withheld";
      return rng.Chance(0.8) ? "withheld" : "";
    }
    phone_type = "unknown";
    return kGarbagePhones[rng.Below(static_cast<int>(std::size(kGarbagePhones)))];
  }

  std::string MakeCaller() {
    if (rng.Chance(0.01)) return "null";
    std::string c;
    c.reserve(256);
    c.push_back('{');
    bool first = true;
    auto sep = [&] {
      if (!first) c.push_back(',');
      first = false;
    };
    if (!rng.Chance(0.02)) {
      std::string phone_type;
      const std::string phone = MakePhone(phone_type);
      sep();
      if (phone.empty() && rng.Chance(0.5)) {
        c.append("\"phone\":null");
      } else {
        AppendField(c, "phone", phone);
      }
      sep();
      AppendField(c, "phone_type", phone_type);
    }
    sep();
    AppendField(c, "role", kRoles.Pick(rng));
    const double age_draw = rng.Uniform();
    sep();
    if (age_draw < 0.18) {
      c.append("\"age\":null");
    } else if (age_draw < 0.21) {
      c.append("\"age\":");
      AppendInt(c, rng.Between(11, 15));
    } else {
      c.append("\"age\":");
      AppendInt(c, rng.Between(16, 45) + rng.Below(20) + rng.Below(25));
    }
    if (!rng.Chance(0.05)) {
      sep();
      AppendField(c, "gender", kGenders.Pick(rng));
    }
    sep();
    if (rng.Chance(0.15)) {
      c.append("\"ethnicity\":null");
    } else {
      AppendField(c, "ethnicity", kEthnicities.Pick(rng));
    }
    sep();
    AppendField(c, "language", kLanguages.Pick(rng));
    sep();
    const double v = rng.Uniform();
    c.append(v < 0.08   ? "\"vulnerable\":true"
             : v < 0.88 ? "\"vulnerable\":false"
                        : "\"vulnerable\":null");
    sep();
    AppendField(c, "survey_consent", kConsents.Pick(rng));
    c.push_back('}');
    return c;
  }

  void NewIncident() {
    const auto t = static_cast<std::int64_t>(next_arrival);
    AdvanceArrival();
    auto inc = std::make_shared<IncidentState>();
    inc->serial = (serial_base + incidents++) % 10000000;
    inc->channel = rng.Pick(kChannelWeights);
    const auto& types = IncidentTypes();
    static const std::vector<double> kTypeCumulative = [] {
      std::vector<double> cum;
      double total = 0;
      for (const auto& type : IncidentTypes()) cum.push_back(total += type.weight);
      return cum;
    }();
    const double x = rng.Uniform() * kTypeCumulative.back();
    std::size_t ti = 0;
    while (ti + 1 < types.size() && x >= kTypeCumulative[ti]) ++ti;
    const IncidentType& type = types[ti];
    inc->category = type.category;
    inc->road_traffic = std::strncmp(type.code, "RTC-", 4) == 0;

    GradeWeights grades = type.grades;
    if (inc->channel == k999) {
      grades[kP1] *= 3;
      grades[kP2] *= 2;
      grades[kScheduled] *= 0.2;
      grades[kRwd] *= 0.5;
    } else if (inc->channel != k101) {
      grades[kP1] *= 0.05;
      grades[kP2] *= 0.3;
      grades[kScheduled] *= 1.5;
      grades[kRwd] *= 1.5;
    }
    const int grade = rng.Pick(grades);

    const Npu& npu = Npus().Pick(rng);
    inc->npu = &npu;
    std::string& s = inc->static_json;
    s.reserve(320);
    AppendField(s, "type_code", type.code);
    s.push_back(',');
    AppendField(s, "type_label", type.label);
    s.push_back(',');
    AppendField(s, "category", type.category);
    s.push_back(',');
    AppendField(s, "grade", kGradeNames[static_cast<std::size_t>(grade)]);
    s.append(",\"qualifiers\":[");
    bool first = true;
    auto add_flag = [&](const char* flag) {
      if (s.find(flag, s.rfind('[')) != std::string::npos) return;  // no repeats
      if (!first) s.push_back(',');
      first = false;
      s.push_back('"');
      s.append(flag);
      s.push_back('"');
    };
    for (const auto& [flag, p] : type.qualifiers) {
      if (rng.Chance(p)) add_flag(flag);
    }
    for (const auto& [flag, p] : kBackgroundQualifiers) {
      if (rng.Chance(p)) add_flag(flag);
    }
    s.append("],\"location\":{");
    AppendField(s, "npu", npu.name);
    s.append(",\"beat\":\"");
    s.append(npu.code);
    s.push_back('-');
    Append2(s, static_cast<unsigned>(rng.Between(1, 30)));
    s.append("\",");
    AppendField(
        s, "postcode_district",
        npu.districts[static_cast<std::size_t>(rng.Below(static_cast<int>(npu.districts.size())))]);
    s.push_back('}');

    inc->caller_json = MakeCaller();
    static constexpr std::array<std::pair<int, int>, 5> kCallMinutes = {
        {{2, 10}, {4, 25}, {10, 40}, {5, 20}, {5, 20}}};
    const auto [lo, hi] = kCallMinutes[static_cast<std::size_t>(inc->channel)];
    inc->call_started = t;
    inc->call_ended = t + rng.Between(lo * 60, hi * 60);
    inc->opened_at = std::min(inc->call_ended, t + rng.Between(30, 180));
    inc->call_number = 90000000 + (inc->serial * 3) % 9999999;
    std::string& tail = inc->call_json_tail;
    tail.append("\"handler_id\":\"OP");
    AppendInt(tail, 4000 + rng.Below(350));
    tail.append("\",\"handler_team\":\"");
    switch (inc->channel) {
      case kLiveChat:
        tail.append("Force Contact - Digital Desk");
        break;
      case kOnline:
        tail.append("Force Contact - Online Reporting");
        break;
      case kInPerson:
        tail.append("Front Counter - ");
        tail.append(npu.name);
        break;
      default:
        tail.append("Force Contact - Team ");
        AppendInt(tail, 1 + rng.Below(8));
    }
    tail.push_back('"');

    Push({inc->call_ended, 0, kCallEnded, 0, 0, inc});

    if ((inc->channel == k999 || inc->channel == k101) && rng.Chance(0.08)) {
      inc->second_caller_json = MakeCaller();
      inc->second_call_started = t + rng.Between(60, 1200);
      inc->second_call_ended = inc->second_call_started + rng.Between(120, 900);
      inc->second_call_number = inc->call_number + 5000000;
      Push({inc->second_call_ended, 0, kSecondCall, 0, 0, inc});
    }

    // Attendance: almost always for emergencies, rarely for scheduled or resolved by phone.
    static constexpr std::array<double, kGradeCount> kAttend = {0.92, 0.8, 0.42, 0.2, 0.5, 0};
    static constexpr std::array<std::pair<int, int>, kGradeCount> kArriveMinutes = {
        {{5, 15}, {10, 60}, {30, 240}, {60, 600}, {240, 2880}, {0, 0}}};
    std::int64_t last = inc->call_ended;
    if (rng.Chance(kAttend[static_cast<std::size_t>(grade)])) {
      const auto [alo, ahi] = kArriveMinutes[static_cast<std::size_t>(grade)];
      const int officers = (grade <= kP2 && rng.Chance(0.25)) ? 2 : 1;
      const std::int64_t arrived = t + 60 * rng.Between(alo, ahi);
      for (int i = 1; i <= officers; ++i) {
        const std::int64_t departed = arrived + 60 * rng.Between(15, 120);
        Push({departed, 0, kDeparted, i, arrived, inc});
        last = std::max(last, departed);
      }
    }
    if (rng.Chance(0.7)) {
      const bool crime = std::strcmp(type.category, "crime") == 0;
      const std::int64_t closed =
          grade == kRwd
              ? inc->call_ended + 60 * rng.Between(1, 30)
              : last + 60 * (crime ? rng.Between(12 * 60, 7 * 24 * 60) : rng.Between(30, 24 * 60));
      Push({closed, 0, kClosed, 0, 0, inc});
    }
  }

  // The event after "seq": everything from "event_id" to the closing brace.
  void BuildBody(const Pending& p, std::int64_t shift, std::string& body, std::string& event_id,
                 std::string& type) {
    const IncidentState& inc = *p.incident;
    event_id.assign("CW-");
    AppendDate(event_id, inc.opened_at + shift);
    event_id.push_back('-');
    AppendPadded(event_id, inc.serial, 7);
    switch (p.kind) {
      case kCallEnded:
        event_id.append("-CE");
        type = "call.ended";
        break;
      case kSecondCall:
        event_id.append("-CE2");
        type = "call.ended";
        break;
      case kDeparted:
        event_id.append("-RD");
        AppendInt(event_id, p.officer);
        type = "resource.departed";
        break;
      case kClosed:
        event_id.append("-IC");
        type = "incident.closed";
        break;
    }
    body.append("\"event_id\":\"");
    body.append(event_id);
    body.append("\",\"type\":\"");
    body.append(type);
    body.append("\",\"occurred_at\":\"");
    AppendTime(body, p.at + shift);
    body.append("\",\"incident\":{\"id\":\"");
    const std::size_t incident_start = body.size();
    body.append("WMP-");
    AppendDate(body, inc.opened_at + shift);
    body.push_back('-');
    AppendPadded(body, inc.serial, 7);
    last_incident.assign(body, incident_start, body.size() - incident_start);
    body.append("\",\"opened_at\":\"");
    AppendTime(body, inc.opened_at + shift);
    body.append("\",");
    body.append(inc.static_json);
    body.push_back('}');
    const bool second = p.kind == kSecondCall;
    if (p.kind == kCallEnded || second) {
      body.append(",\"call\":{\"id\":\"C-");
      AppendInt(body, second ? inc.second_call_number : inc.call_number);
      body.append("\",\"channel\":\"");
      body.append(kChannelNames[static_cast<std::size_t>(inc.channel)]);
      body.append("\",\"started_at\":\"");
      AppendTime(body, (second ? inc.second_call_started : inc.call_started) + shift);
      body.append("\",\"ended_at\":\"");
      AppendTime(body, (second ? inc.second_call_ended : inc.call_ended) + shift);
      body.append("\",");
      body.append(inc.call_json_tail);
      body.append("},\"resource\":null");
    } else if (p.kind == kDeparted) {
      // Officers are drawn from the incident, so the same incident always names the same ones.
      const std::int64_t officer_no = 1000 + (inc.serial * 7 + p.officer * 131) % 8000;
      body.append(",\"resource\":{\"officer_id\":\"");
      body.append(officer_no % 10 == 0 ? "PS" : "PC");
      AppendInt(body, officer_no);
      body.append("\",\"callsign\":\"");
      body.append(inc.npu->code);
      Append2(body, static_cast<unsigned>((inc.serial + p.officer) % 60 + 10));
      body.append("\",\"department\":\"");
      if (inc.road_traffic && officer_no % 2 == 0) {
        body.append("Roads Policing");
      } else {
        body.append(officer_no % 7 == 0 ? "Neighbourhood - " : "Response - ");
        body.append(inc.npu->name);
      }
      body.append("\",\"arrived_at\":\"");
      AppendTime(body, p.arrived_at + shift);
      body.append("\",\"departed_at\":\"");
      AppendTime(body, p.at + shift);
      body.append("\"}");
    } else {
      const bool crime = std::strcmp(inc.category, "crime") == 0;
      // Derived from the serial rather than the generator's stream, so closures stay the same
      // whatever was emitted before them.
      std::uint64_t h = static_cast<std::uint64_t>(inc.serial) * 0x9E3779B97F4A7C15ULL;
      Rng local(h);
      const ClosureCode& closure = crime ? kCrimeClosures.Pick(local) : kOtherClosures.Pick(local);
      body.append(",\"closure\":{");
      AppendField(body, "code", closure.code);
      body.push_back(',');
      AppendField(body, "outcome", closure.outcome);
      body.push_back('}');
    }
    body.append(",\"caller\":");
    body.append(second ? inc.second_caller_json : inc.caller_json);
    body.push_back('}');
  }

  void StartLine(std::string& line) {
    line.clear();
    line.push_back('{');
  }

  // Assigns the next seq (possibly after a deliberate gap) and writes it.
  std::int64_t WriteSeq(std::string& line) {
    if (!options.with_seq) return 0;
    if (options.gap_rate > 0 && rng.Chance(options.gap_rate)) {
      next_seq += rng.Between(1, 3);
      ++counts.gaps;
    }
    const std::int64_t seq = next_seq++;
    line.append("\"seq\":");
    AppendInt(line, seq);
    line.push_back(',');
    return seq;
  }

  void Malformed(GeneratedLine& out, std::int64_t now_s) {
    out.kind = GeneratedLine::Kind::kMalformed;
    out.type.clear();
    out.event_id.assign("CW-BAD-");
    AppendPadded(out.event_id, serial_base, 7);
    out.event_id.push_back('-');
    AppendInt(out.event_id, counts.malformed);
    ++counts.malformed;
    std::string& l = out.line;
    StartLine(l);
    out.seq = WriteSeq(l);
    out.occurred_at = FromUnixSeconds(now_s);
    switch (rng.Below(5)) {
      case 0: {  // cut off mid-object, as a torn write would leave it
        l.append("\"event_id\":\"");
        l.append(out.event_id);
        l.append("\",\"type\":\"call.ended\",\"occurred_at\":\"");
        AppendTime(l, now_s);
        l.append("\",\"incident\":{\"id\":\"WMP-");
        l.resize(l.size() - static_cast<std::size_t>(rng.Below(8)));
        break;
      }
      case 1:  // no event_id
        out.event_id.clear();
        l.append("\"type\":\"call.ended\",\"occurred_at\":\"");
        AppendTime(l, now_s);
        l.append("\",\"incident\":{\"id\":\"WMP-UNKNOWN\"}}");
        break;
      case 2:
        l.append("\"event_id\":\"");
        l.append(out.event_id);
        l.append("\",\"type\":\"call.started\",\"occurred_at\":\"");
        AppendTime(l, now_s);
        l.append("\",\"incident\":{\"id\":\"WMP-UNKNOWN\"}}");
        break;
      case 3:
        l.append("\"event_id\":\"");
        l.append(out.event_id);
        l.append(
            "\",\"type\":\"incident.closed\",\"occurred_at\":\"yesterday teatime\","
            "\"incident\":{\"id\":\"");
        l.append(last_incident);
        l.append("\",\"qualifiers\":[\"DOMESTIC\"]}}");
        break;
      default:  // line noise
        l.append("\x01\x02 <<ControlWorks spool error 0x1F>> ~~~");
        if (!options.with_seq) l.erase(0, 1);  // not even an opening brace
        break;
    }
  }

  void Duplicate(GeneratedLine& out) {
    const Recent& r = recent[static_cast<std::size_t>(rng.Below(static_cast<int>(recent.size())))];
    out.kind = GeneratedLine::Kind::kDuplicate;
    out.event_id = r.event_id;
    out.type = r.type;
    out.occurred_at = r.occurred_at;
    StartLine(out.line);
    out.seq = WriteSeq(out.line);
    out.line.append(r.body);
    ++counts.duplicates;
  }

  void Next(GeneratedLine& out, std::optional<TimePoint> now) {
    const std::int64_t now_s = now ? ToUnixSeconds(*now) : static_cast<std::int64_t>(next_arrival);
    const double x = rng.Uniform();
    if (x < options.duplicate_rate && !recent.empty()) {
      Duplicate(out);
      return;
    }
    if (x >= options.duplicate_rate && x < options.duplicate_rate + options.malformed_rate) {
      Malformed(out, now_s);
      return;
    }
    while (pending.empty() || pending.top().at > static_cast<std::int64_t>(next_arrival)) {
      NewIncident();
    }
    const Pending p = pending.top();
    pending.pop();
    const std::int64_t shift = now ? now_s - p.at : 0;
    out.kind = GeneratedLine::Kind::kEvent;
    out.occurred_at = FromUnixSeconds(p.at + shift);
    StartLine(out.line);
    out.seq = WriteSeq(out.line);
    const std::size_t body_start = out.line.size();
    BuildBody(p, shift, out.line, out.event_id, out.type);
    ++counts.events;
    if (options.duplicate_rate > 0) {
      Recent r{out.event_id, out.type, out.occurred_at, out.line.substr(body_start)};
      if (recent.size() < kRecent) {
        recent.push_back(std::move(r));
      } else {
        recent[recent_next] = std::move(r);
        recent_next = (recent_next + 1) % kRecent;
      }
    }
  }
};

EventGenerator::EventGenerator(const GeneratorOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}

EventGenerator::~EventGenerator() = default;

void EventGenerator::Next(GeneratedLine& out, std::optional<TimePoint> now) {
  impl_->Next(out, now);
}

GeneratedLine EventGenerator::Next(std::optional<TimePoint> now) {
  GeneratedLine out;
  impl_->Next(out, now);
  return out;
}

const EventGenerator::Counts& EventGenerator::counts() const { return impl_->counts; }

}  // namespace surveyd::sim
