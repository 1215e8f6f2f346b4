#pragma once
// Shared by the analysts' routes: parsing their query parameters (filters, group_by, paging,
// format), answering JSON or CSV, and running the work on the analytics queue.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "routes.hpp"
#include "surveyd/store/analytics_store.hpp"

namespace surveyd::api {

struct Query {
  store::AnalyticsFilter filter;
  std::vector<store::Dimension> group_by;  // may include kQuestion
  bool csv = false;
  std::optional<store::ResponseCursor> after;  // keyset cursor of the responses
  int limit = 100;
  std::string q;                              // comments search
  std::optional<store::Dimension> dimension;  // representativeness
  std::optional<std::int64_t> before;         // audit trail cursor
};

// The parameter names each kind of route takes, beside the filters.
extern const std::vector<std::string_view> kFilterParameters;  // from, to, and every dimension

// Parses call.request.query, accepting only `allowed` names. On a bad parameter returns the
// answer to give: 400 naming it, or 403 when it needs a role the caller lacks (officer and
// operator need supervisor).
std::optional<http::Response> ParseQuery(const Call& call,
                                         const std::vector<std::string_view>& allowed,
                                         Query& query);

// A page of responses' `next` cursor as the API writes it, read back as the `after` of the page
// that follows: "<microseconds since the epoch>_<survey id>" of the page's last answer. Opaque to
// clients; the two numbers rather than a time in text, which would need the microseconds kept.
std::string FormatResponseCursor(const store::ResponseCursor& cursor);
std::optional<store::ResponseCursor> ParseResponseCursor(const std::string& text);

// A date that exists, as "2026-11-26", in years 0001-9999.
bool IsDate(const std::string& text);
// An RFC 3339 time in years 0001-9999 (InRfc3339Range): one PostgreSQL would refuse is a 400,
// never a statement that fails as if the database were down.
std::optional<TimePoint> ParseTime(std::string_view text);

// Well-formed UTF-8 without NUL bytes (RFC 3629: no overlong forms, surrogates or code points
// past U+10FFFF): what PostgreSQL takes as text. A parameter that is not is a 400, never a
// statement the database refuses.
bool IsStorableText(std::string_view text);

// {"error": "bad_parameter", "parameter": name, "message": message}, status 400 (or given).
http::Response BadParameter(std::string_view name, std::string_view message, int status = 400);

// A table as CSV: UTF-8's byte-order mark, a header line, then rows; null cells empty. Text that
// a spreadsheet would run as a formula (= + - @ at the start) is prefixed with an apostrophe.
// Sets X-Row-Count.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::optional<std::string>>> rows;
};
http::Response CsvResponse(const CsvTable& table, std::string_view filename);

// JSON with X-Row-Count set (the audit trail records it).
http::Response JsonTable(const std::string& body, std::size_t rows);

// The questions `keys` (q1, q2...) as the figures are labelled: each with the text the citizen
// read and its short name, from `options` (null where it has none):
// [{"key": "q1", "text": "Were you treated...", "label": "Polite and respectful"}, ...].
nlohmann::json QuestionList(const ApiOptions& options, const std::vector<std::string>& keys);

// 503 for a route whose store this server was not given (a test or fuzz harness; serve gives all).
http::Response NotConfigured(std::string_view what);

// Runs `work` on the analytics queue (inline when there is none); 503 when the queue is full or
// there is no analytics store.
http::Response RunAnalytics(const ApiOptions& options, const std::function<http::Response()>& work);

// Numbers as text for CSV: integers as such, rates with up to six significant decimals.
std::string Number(double value);

}  // namespace surveyd::api
