// StatsStore: the funnel and the per-question scores.
#include "store/pg_store_impl.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace {

Params FilterParams(const StatsFilter& filter) {
  return {Time(filter.from), Time(filter.to), filter.group ? Text(*filter.group) : std::nullopt};
}

}  // namespace

namespace pg {

const Statements& StatsStatements() {
  static const Statements kStatements = {
      // Filters: $1 from (inclusive), $2 to (exclusive), $3 survey group; NULL means any.
      {"funnel_events",
       "SELECT count(*), COALESCE(sum(duplicates), 0), "
       "count(*) FILTER (WHERE decision = 'ignored'), "
       "count(*) FILTER (WHERE decision = 'excluded') FROM events "
       "WHERE ($1::timestamptz IS NULL OR occurred_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR occurred_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR decision_group = $3::text)"},
      {"funnel_excluded",
       "SELECT COALESCE(decision_reason, ''), count(*) FROM events WHERE decision = 'excluded' "
       "AND ($1::timestamptz IS NULL OR occurred_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR occurred_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR decision_group = $3::text) GROUP BY 1"},
      {"funnel_rejected",
       "SELECT count(*) FROM rejected_events "
       "WHERE ($1::timestamptz IS NULL OR received_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR received_at < $2::timestamptz) "
       "AND $3::text IS NULL"},
      {"funnel_surveys",
       "SELECT count(*), "
       "count(*) FILTER (WHERE o.state IN ('accepted', 'sent', 'delivered')), "
       "count(*) FILTER (WHERE o.state = 'delivered'), "
       "count(*) FILTER (WHERE o.state IN ('failed', 'undeliverable', 'delivery_expired')), "
       "count(*) FILTER (WHERE o.state = 'expired'), "
       "count(*) FILTER (WHERE o.state IN ('pending', 'claimed', 'sending', 'in_doubt')), "
       // Answered as /api/v1/stats counts it: a reply that gave a score (a comment alone is not).
       "count(s.opened_at), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM responses r "
       "WHERE r.survey_id = s.id AND num_nonnulls(r.q1, r.q2, r.q3, r.q4, r.q5) > 0)), "
       "count(*) FILTER (WHERE o.state = 'cancelled') "
       "FROM surveys s LEFT JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' "
       "WHERE ($1::timestamptz IS NULL OR s.contact_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR s.contact_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR s.group_id = $3::text)"},
      {"funnel_cancelled",
       "SELECT COALESCE(o.cancel_reason, ''), count(*) FROM surveys s "
       "JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey' WHERE o.state = 'cancelled' "
       "AND ($1::timestamptz IS NULL OR s.contact_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR s.contact_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR s.group_id = $3::text) GROUP BY 1"},
      {"question_stats",
       "SELECT count(r.q1), COALESCE(avg(r.q1), 0)::float8, count(*) FILTER (WHERE r.q1 >= 8), "
       "count(r.q2), COALESCE(avg(r.q2), 0)::float8, count(*) FILTER (WHERE r.q2 >= 8), "
       "count(r.q3), COALESCE(avg(r.q3), 0)::float8, count(*) FILTER (WHERE r.q3 >= 8), "
       "count(r.q4), COALESCE(avg(r.q4), 0)::float8, count(*) FILTER (WHERE r.q4 >= 8), "
       "count(r.q5), COALESCE(avg(r.q5), 0)::float8, count(*) FILTER (WHERE r.q5 >= 8) "
       "FROM responses r JOIN surveys s ON s.id = r.survey_id "
       "WHERE ($1::timestamptz IS NULL OR s.contact_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR s.contact_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR s.group_id = $3::text)"},
  };
  return kStatements;
}

}  // namespace pg

Funnel PgStore::GetFunnel(const StatsFilter& filter) {
  return WithConnection("funnel", [&](pqxx::connection& connection) {
    const Params params = FilterParams(filter);
    pqxx::read_transaction txn(connection);
    Funnel funnel;
    auto events = Exec(txn, "funnel_events", params)[0];
    const auto stored = events[0].as<std::int64_t>();
    funnel.events_duplicate = events[1].as<std::int64_t>();
    funnel.events_ignored = events[2].as<std::int64_t>();
    funnel.events_excluded = events[3].as<std::int64_t>();
    for (const auto& row : Exec(txn, "funnel_excluded", params)) {
      funnel.excluded_by_reason[row[0].as<std::string>()] = row[1].as<std::int64_t>();
    }
    funnel.events_rejected = Exec(txn, "funnel_rejected", params)[0][0].as<std::int64_t>();
    funnel.events_received = stored + funnel.events_duplicate + funnel.events_rejected;
    auto surveys = Exec(txn, "funnel_surveys", params)[0];
    funnel.surveys_created = surveys[0].as<std::int64_t>();
    funnel.sms_accepted = surveys[1].as<std::int64_t>();
    funnel.sms_delivered = surveys[2].as<std::int64_t>();
    funnel.sms_failed = surveys[3].as<std::int64_t>();
    funnel.sms_expired = surveys[4].as<std::int64_t>();
    funnel.pending = surveys[5].as<std::int64_t>();
    funnel.opened = surveys[6].as<std::int64_t>();
    funnel.answered = surveys[7].as<std::int64_t>();
    funnel.cancelled = surveys[8].as<std::int64_t>();
    for (const auto& row : Exec(txn, "funnel_cancelled", params)) {
      funnel.cancelled_by_reason[row[0].as<std::string>()] = row[1].as<std::int64_t>();
    }
    return funnel;
  });
}

std::vector<QuestionStat> PgStore::GetQuestionStats(const StatsFilter& filter) {
  return WithConnection("question stats", [&](pqxx::connection& connection) {
    pqxx::read_transaction txn(connection);
    auto row = Exec(txn, "question_stats", FilterParams(filter))[0];
    std::vector<QuestionStat> stats;
    for (int q = 0; q < 5; ++q) {
      QuestionStat stat;
      stat.question = "q" + std::to_string(q + 1);
      stat.respondents = row[3 * q].as<std::int64_t>();
      stat.mean = row[3 * q + 1].as<double>();
      stat.top_box = row[3 * q + 2].as<std::int64_t>();
      stats.push_back(std::move(stat));
    }
    return stats;
  });
}

}  // namespace surveyd::store
