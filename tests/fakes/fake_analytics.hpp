#pragma once
// In-memory stand-ins for the analysts' stores: they record what they were asked and answer
// what the test set up, so the API's handlers are tested without a database.
#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/store/analytics_store.hpp"
#include "surveyd/store/audit_store.hpp"
#include "surveyd/store/token_store.hpp"

namespace surveyd::testing {

class FakeAnalyticsStore final : public store::AnalyticsStore {
 public:
  store::StatsResult Stats(const store::AnalyticsFilter& filter,
                           const std::vector<store::Dimension>& group_by) override {
    last_filter = filter;
    last_group_by = group_by;
    ++calls;
    // As the real store: one key per dimension asked for (question aside).
    const auto keys = static_cast<std::size_t>(
        std::count_if(group_by.begin(), group_by.end(),
                      [](store::Dimension d) { return d != store::Dimension::kQuestion; }));
    store::StatsResult result = stats;
    for (auto& cell : result.cells) cell.keys.resize(keys);
    return result;
  }
  std::vector<store::FunnelRow> Funnel(const store::AnalyticsFilter& filter) override {
    last_filter = filter;
    ++calls;
    return funnel;
  }
  store::ResponsePage Responses(const store::ResponseQuery& query) override {
    last_query = query;
    last_filter = query.filter;
    ++calls;
    return responses;
  }
  std::optional<store::SurveyTimeline> Timeline(std::int64_t survey_id) override {
    ++calls;
    if (timeline && timeline->survey_id == survey_id) return timeline;
    return std::nullopt;
  }

  store::StatsResult stats;
  std::vector<store::FunnelRow> funnel;
  store::ResponsePage responses;
  std::optional<store::SurveyTimeline> timeline;

  store::AnalyticsFilter last_filter;
  std::vector<store::Dimension> last_group_by;
  store::ResponseQuery last_query;
  int calls = 0;
};

class FakeTokenStore final : public store::TokenStore {
 public:
  void CreateToken(const store::ApiToken& token, const std::string& token_hash) override {
    tokens.push_back({token, token_hash});
  }
  std::vector<store::ApiToken> ListTokens() override {
    std::vector<store::ApiToken> out;
    for (const auto& [token, hash] : tokens) out.push_back(token);
    return out;
  }
  bool RevokeToken(const std::string& id, TimePoint now) override {
    for (auto& [token, hash] : tokens) {
      if (token.id == id && !token.revoked_at) {
        token.revoked_at = now;
        return true;
      }
    }
    return false;
  }
  std::optional<store::ApiToken> FindActiveToken(const std::string& token_hash,
                                                 TimePoint now) override {
    if (unavailable) throw store::Unavailable("token find: database connection lost");
    for (auto& [token, hash] : tokens) {
      if (hash == token_hash && !token.revoked_at) {
        token.last_used_at = now;
        return token;
      }
    }
    return std::nullopt;
  }

  std::vector<std::pair<store::ApiToken, std::string>> tokens;
  bool unavailable = false;
};

class FakeAuditStore final : public store::AuditStore {
 public:
  void RecordCall(const store::AuditEntry& entry) override {
    if (unavailable) throw store::Unavailable("audit: database connection lost");
    std::lock_guard lock(mutex);
    entries.push_back(entry);
  }
  std::vector<store::AuditEntry> RecentCalls(int limit,
                                             std::optional<std::int64_t> before) override {
    std::vector<store::AuditEntry> out;
    for (auto it = entries.rbegin(); it != entries.rend() && static_cast<int>(out.size()) < limit;
         ++it) {
      const auto id = static_cast<std::int64_t>(entries.rend() - it);
      if (before && id >= *before) continue;
      out.push_back(*it);
      out.back().id = id;
    }
    return out;
  }

  std::mutex mutex;
  std::vector<store::AuditEntry> entries;
  bool unavailable = false;
};

}  // namespace surveyd::testing
