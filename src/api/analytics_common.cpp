#include "analytics_common.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "surveyd/core/utf8.hpp"

namespace surveyd::api {
namespace {

constexpr std::size_t kMaxValueLength = 200;
constexpr std::size_t kMaxValues = 50;
constexpr int kMaxLimit = 1000;
constexpr std::size_t kMaxGroupBy = 3;  // besides question

std::vector<std::string_view> MakeFilterParameters() {
  std::vector<std::string_view> names = {"from", "to"};
  for (auto d : store::AllDimensions()) {
    if (store::IsFilter(d)) names.emplace_back(store::DimensionName(d));
  }
  return names;
}

std::optional<std::int64_t> PositiveInteger(const std::string& text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1) return std::nullopt;
  return value;
}

std::optional<std::int64_t> NonNegativeInteger(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

bool Contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool NeedsSupervisor(store::Dimension d) {
  return d == store::Dimension::kOfficer || d == store::Dimension::kOperator;
}

}  // namespace

const std::vector<std::string_view> kFilterParameters = MakeFilterParameters();

std::string FormatResponseCursor(const store::ResponseCursor& cursor) {
  return std::to_string(cursor.submitted_at.time_since_epoch().count()) + "_" +
         std::to_string(cursor.survey_id);
}

std::optional<store::ResponseCursor> ParseResponseCursor(const std::string& text) {
  const auto separator = text.find('_');
  if (separator == std::string::npos) return std::nullopt;
  const auto micros = NonNegativeInteger(std::string_view(text).substr(0, separator));
  const auto id = PositiveInteger(text.substr(separator + 1));
  if (!micros || !id) return std::nullopt;
  const TimePoint at{Duration(*micros)};
  if (!InRfc3339Range(at)) return std::nullopt;
  return store::ResponseCursor{at, *id};
}

bool IsDate(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return ParseTime(text + "T00:00:00Z").has_value();  // refuses 2026-02-30 and 0000-01-01
}

std::optional<TimePoint> ParseTime(std::string_view text) {
  auto t = ParseRfc3339(text);
  if (!t || !InRfc3339Range(*t)) return std::nullopt;
  return t;
}

bool IsStorableText(std::string_view text) {
  return text.find('\0') == std::string_view::npos && IsValidUtf8(text);
}

http::Response BadParameter(std::string_view name, std::string_view message, int status) {
  return http::Response::Json(
      status, nlohmann::json{{"error", status == 403 ? "forbidden" : "bad_parameter"},
                             {"parameter", name},
                             {"message", std::string(name) + ": " + std::string(message)}}
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::optional<http::Response> ParseQuery(const Call& call,
                                         const std::vector<std::string_view>& allowed,
                                         Query& query) {
  const bool supervisor =
      call.principal != nullptr && Grants(call.principal->role, Role::kSupervisor);
  std::vector<std::string> seen;
  if (call.request.Header("Accept").find("text/csv") != std::string_view::npos) query.csv = true;
  for (const auto& [name, value] : http::ParseForm(call.request.query)) {
    if (!Contains(allowed, name)) {
      return BadParameter(name, "unknown parameter (see /api/v1/openapi.json)");
    }
    const auto dimension = store::ParseDimension(name);
    const bool repeatable = dimension && store::IsFilter(*dimension);
    if (!repeatable && std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return BadParameter(name, "given more than once");
    }
    seen.push_back(name);
    if (value.empty()) return BadParameter(name, "empty value");
    if (value.size() > kMaxValueLength) return BadParameter(name, "value too long");
    if (!IsStorableText(value)) return BadParameter(name, "not UTF-8 text");

    if (name == "from" || name == "to") {
      auto& day = name == "from" ? query.filter.from_day : query.filter.to_day;
      auto& at = name == "from" ? query.filter.from : query.filter.to;
      if (IsDate(value)) {
        day = value;
      } else if (auto t = ParseTime(value)) {
        at = t;
      } else {
        return BadParameter(name, "expected a date (2026-11-26) or an RFC 3339 time");
      }
    } else if (dimension && store::IsFilter(*dimension)) {
      if (NeedsSupervisor(*dimension) && !supervisor) {
        return BadParameter(name, "filtering by " + name + " needs the supervisor role", 403);
      }
      auto it = std::find_if(query.filter.values.begin(), query.filter.values.end(),
                             [&](const auto& entry) { return entry.first == *dimension; });
      if (it == query.filter.values.end()) {
        query.filter.values.emplace_back(*dimension, std::vector<std::string>{});
        it = std::prev(query.filter.values.end());
      }
      if (it->second.size() >= kMaxValues) return BadParameter(name, "too many values");
      const auto& fixed = store::FixedValues(*dimension);
      if (!fixed.empty() && std::find(fixed.begin(), fixed.end(), value) == fixed.end()) {
        std::string expected;
        for (const auto& v : fixed) expected += (expected.empty() ? "" : ", ") + v;
        return BadParameter(name, "expected one of " + expected);
      }
      it->second.push_back(value);
    } else if (name == "group_by") {
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        const auto end = comma == std::string::npos ? value.size() : comma;
        const std::string item = value.substr(start, end - start);
        const auto d = store::ParseDimension(item);
        if (!d) return BadParameter(name, "unknown dimension '" + item + "'");
        if (std::find(query.group_by.begin(), query.group_by.end(), *d) != query.group_by.end()) {
          return BadParameter(name, "'" + item + "' given twice");
        }
        if (NeedsSupervisor(*d) && !supervisor) {
          return BadParameter(name, "a breakdown by " + item + " needs the supervisor role", 403);
        }
        query.group_by.push_back(*d);
        start = end + 1;
      }
      const auto keys = std::count_if(query.group_by.begin(), query.group_by.end(),
                                      [](auto d) { return d != store::Dimension::kQuestion; });
      if (static_cast<std::size_t>(keys) > kMaxGroupBy) {
        return BadParameter(name, "at most three dimensions besides question");
      }
    } else if (name == "format") {
      if (value != "json" && value != "csv") return BadParameter(name, "expected json or csv");
      query.csv = value == "csv";
    } else if (name == "after") {
      // Pages were in survey id order once, with the id alone as their cursor: such a cursor
      // places nothing in the order by time, and any page read with it would be wrong.
      if (PositiveInteger(value)) {
        return BadParameter(name,
                            "a cursor of the old form (a survey id): pages are now newest answer "
                            "first, so start again from the first page, without after");
      }
      query.after = ParseResponseCursor(value);
      if (!query.after) return BadParameter(name, "expected the `next` cursor of a previous page");
    } else if (name == "before") {
      query.before = PositiveInteger(value);
      if (!query.before) return BadParameter(name, "expected the cursor of a previous page");
    } else if (name == "limit") {
      const auto limit = PositiveInteger(value);
      if (!limit || *limit > kMaxLimit) return BadParameter(name, "expected 1 to 1000");
      query.limit = static_cast<int>(*limit);
    } else if (name == "q") {
      query.q = value;
    } else if (name == "dimension") {
      const auto d = store::ParseDimension(value);
      using D = store::Dimension;
      if (!d || (*d != D::kAgeBand && *d != D::kGender && *d != D::kEthnicity && *d != D::kNpu &&
                 *d != D::kChannel)) {
        return BadParameter(name, "expected age_band, gender, ethnicity, npu or channel");
      }
      query.dimension = d;
    }
  }
  const auto& f = query.filter;
  if (f.from_day && f.to_day && *f.from_day > *f.to_day) {
    return BadParameter("to", "is before from");
  }
  if (f.from && f.to && *f.from >= *f.to) return BadParameter("to", "is not after from");
  // A date and a time: compared by the time's date in UTC, which refuses only a clear mistake.
  if (f.from_day && f.to && FormatRfc3339(*f.to).substr(0, 10) < *f.from_day) {
    return BadParameter("to", "is before from");
  }
  if (f.from && f.to_day && *f.to_day < FormatRfc3339(*f.from).substr(0, 10)) {
    return BadParameter("to", "is before from");
  }
  return std::nullopt;
}

std::string Number(double value) {
  if (std::isnan(value) || std::isinf(value)) return "";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

http::Response CsvResponse(const CsvTable& table, std::string_view filename) {
  auto field = [](const std::optional<std::string>& value) {
    if (!value) return std::string();
    std::string text = *value;
    if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@' ||
                          text[0] == '\t' || text[0] == '\r')) {
      text.insert(text.begin(), '\'');
    }
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) {
      if (c == '"') quoted += '"';
      quoted += c;
    }
    return quoted + "\"";
  };
  // UTF-8's byte-order mark first: Excel, which analysts open CSVs in, reads a file without it in
  // the Windows code page, so a Welsh or Polish comment ("diolch’n", "Dziękuję") came out as
  // mojibake. Most readers of UTF-8 skip it (Python's utf-8-sig, a browser's TextDecoder).
  std::string body = "\xEF\xBB\xBF";
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    body += (i ? "," : "") + field(table.header[i]);
  }
  body += "\r\n";
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) body += (i ? "," : "") + field(row[i]);
    body += "\r\n";
  }
  http::Response response;
  response.status = 200;
  response.body = std::move(body);
  response.Set("Content-Type", "text/csv; charset=utf-8");
  response.Set("Content-Disposition", "attachment; filename=\"" + std::string(filename) + ".csv\"");
  response.Set("X-Row-Count", std::to_string(table.rows.size()));
  return response;
}

http::Response JsonTable(const std::string& body, std::size_t rows) {
  auto response = http::Response::Json(200, body);
  response.Set("X-Row-Count", std::to_string(rows));
  return response;
}

http::Response NotConfigured(std::string_view what) {
  return JsonError(503, "disabled", std::string(what) + " not configured on this server");
}

http::Response RunAnalytics(const ApiOptions& options,
                            const std::function<http::Response()>& work) {
  if (options.analytics == nullptr) return NotConfigured("analytics are");
  if (options.analytics_queue == nullptr) return work();
  http::Response response;
  const bool ran = options.analytics_queue->Run([&] { response = work(); });
  if (!ran) {
    response = JsonError(503, "busy", "analytics are busy; try again shortly");
    response.Set("Retry-After", "2");
  }
  return response;
}

nlohmann::json QuestionList(const ApiOptions& options, const std::vector<std::string>& keys) {
  auto at = [](const std::vector<std::string>& values, std::size_t index) {
    return index < values.size() ? nlohmann::json(values[index]) : nlohmann::json(nullptr);
  };
  nlohmann::json list = nlohmann::json::array();
  for (const auto& key : keys) {
    const auto index = static_cast<std::size_t>(std::stoi(key.substr(1)) - 1);
    list.push_back({{"key", key},
                    {"text", at(options.question_texts, index)},
                    {"label", at(options.question_labels, index)}});
  }
  return list;
}

}  // namespace surveyd::api
