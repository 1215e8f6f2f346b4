#pragma once
// The audit trail of API calls: who, which route, when, how many rows, what answer. Never
// personal data: the route's pattern, not its path; the names of query parameters, not values.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

struct AuditEntry {
  std::int64_t id = 0;  // set by the store
  TimePoint at;
  std::string token_id;  // empty: no valid token
  std::string role;
  std::string method;
  std::string route;
  std::vector<std::string> params;  // query parameter names
  std::string subject;              // the record the path names (an alert's id...); empty: none
  int status = 0;
  std::optional<std::int64_t> rows;
  double duration_ms = 0;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual void RecordCall(const AuditEntry& entry) = 0;
  // Newest first; `before`: entries with a smaller id (keyset pagination).
  virtual std::vector<AuditEntry> RecentCalls(int limit, std::optional<std::int64_t> before) = 0;
};

}  // namespace surveyd::store
