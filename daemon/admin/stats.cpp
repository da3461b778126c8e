// admin/stats: see stats.hpp.
#include "admin/stats.hpp"

#include <algorithm>
#include <map>

namespace pgxq::admin {

namespace {

// At most this many (queue, kind) pairs of available jobs are listed: each costs two short
// index descents and one bounded count.
constexpr int kMaxGroups = 1000;

using Key = std::pair<std::string, std::string>;  // queue, kind

// The (queue, kind) pairs of available jobs, found by skipping through the claim index
// (queue, kind, priority, scheduled_at) WHERE state = 'available' one pair at a time, and for
// each a count of at most kCountCap + 1 entries of that index: cost O(pairs + available jobs
// counted), never the completed jobs that make up most of a big table.
std::string available_sql(const std::string& t) {
  const std::string filter = "state = 'available' AND ($1::text IS NULL OR queue = $1::text)";
  return "WITH RECURSIVE g(queue, kind, depth) AS (\n"
         "  (SELECT queue, kind, 1 FROM " + t + " WHERE " + filter + " ORDER BY queue, kind LIMIT 1)\n"
         "  UNION ALL\n"
         "  SELECT n.queue, n.kind, g.depth + 1 FROM g, LATERAL (\n"
         "    SELECT queue, kind FROM " + t + " WHERE " + filter +
         " AND (queue, kind) > (g.queue, g.kind) ORDER BY queue, kind LIMIT 1) n\n"
         "  WHERE g.depth < " + std::to_string(kMaxGroups) + ")\n"
         "SELECT g.queue, g.kind, c.due, c.later, c.due + c.later > $2::bigint,\n"
         "       extract(epoch FROM now() - c.oldest)::float8\n"
         "  FROM g, LATERAL (\n"
         "    SELECT count(*) FILTER (WHERE scheduled_at <= now()) AS due,\n"
         "           count(*) FILTER (WHERE scheduled_at > now()) AS later,\n"
         "           min(scheduled_at) FILTER (WHERE scheduled_at <= now()) AS oldest\n"
         "      FROM (SELECT scheduled_at FROM " + t +
         " WHERE state = 'available' AND queue = g.queue AND kind = g.kind LIMIT $2::bigint + 1) x) c";
}

// Running jobs through the rescue index (attempted_at) WHERE state = 'running': at most
// kCountCap + 1 of them, oldest attempt first, so the longest running is always counted.
std::string running_sql(const std::string& t) {
  return "SELECT queue, kind, count(*), extract(epoch FROM now() - min(attempted_at))::float8\n"
         "  FROM (SELECT queue, kind, attempted_at FROM " + t +
         " WHERE state = 'running' AND ($1::text IS NULL OR queue = $1::text)"
         " ORDER BY attempted_at LIMIT $2::bigint + 1) x\n"
         " GROUP BY queue, kind";
}

// The jobs that reached `state` in the last hour, newest first, through the finished-jobs
// index (state, completed_at): at most kCountCap + 1 entries of it. `state` is one of ours,
// spelled out so the planner matches the partial index's predicate.
std::string finished_sql(const std::string& t, const std::string& state) {
  return "SELECT queue, kind, count(*), count(*) FILTER (WHERE completed_at > now() - interval '5 minutes')\n"
         "  FROM (SELECT queue, kind, completed_at FROM " + t + " WHERE state = '" + state +
         "' AND completed_at > now() - interval '1 hour' AND ($1::text IS NULL OR queue = $1::text)"
         " ORDER BY completed_at DESC LIMIT $2::bigint + 1) x\n"
         " GROUP BY queue, kind";
}

// reltuples and the state column's most common values: what the planner itself believes.
constexpr const char* kEstimatesSql =
    "SELECT c.reltuples::float8, v.state, (c.reltuples * v.freq)::float8\n"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
    "  LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = 'state'\n"
    "  LEFT JOIN LATERAL unnest(s.most_common_vals::text::text[], s.most_common_freqs) v(state, freq) ON true\n"
    " WHERE c.oid = to_regclass($1)";

// Marks the counts of a query that read more than `limit` rows as lower bounds.
void cap(Count& c, bool reached, int64_t limit) {
  if (reached) c.capped = true;
  c.value = std::min(c.value, limit);
}

}  // namespace

TableStats collect_stats(pg::Connection& conn, const std::string& table, const std::optional<std::string>& queue,
                         int64_t count_cap, const queue::HealthOptions& thresholds) {
  const JobTable t = open_job_table(conn, table);
  TableStats out;
  out.table = t.name;
  out.schema_version = t.schema_version;
  out.hints = t.hints();
  out.count_cap = count_cap;

  ReadSnapshot snapshot(conn);
  const std::string cap_text = std::to_string(count_cap);
  const pg::Param queue_param = queue ? pg::Param(*queue) : pg::Param(std::nullopt);
  std::map<Key, KindStats> kinds;
  auto kind_of = [&](const pg::Result& r, int row) -> KindStats& {
    Key key{std::string(r.text(row, 0)), std::string(r.text(row, 1))};
    auto& k = kinds[key];
    k.kind = key.second;
    return k;
  };

  out.database_time = std::string(conn.exec("SELECT now()::text").text(0, 0));

  auto available = conn.exec(available_sql(t.quoted), {queue_param, pg::Param(cap_text)});
  for (int i = 0; i < available.rows(); ++i) {
    auto& k = kind_of(available, i);
    const bool reached = available.text(i, 4) == "t";
    k.available.value = available.int64(i, 2);
    k.scheduled.value = available.int64(i, 3);
    cap(k.available, reached, count_cap);
    cap(k.scheduled, reached, count_cap);
    k.oldest_due_age_seconds = opt_double(available, i, 5);
  }

  auto running = conn.exec(running_sql(t.quoted), {queue_param, pg::Param(cap_text)});
  int64_t running_total = 0;
  for (int i = 0; i < running.rows(); ++i) running_total += running.int64(i, 2);
  for (int i = 0; i < running.rows(); ++i) {
    auto& k = kind_of(running, i);
    k.running.value = running.int64(i, 2);
    cap(k.running, running_total > count_cap, count_cap);
    k.longest_running_seconds = opt_double(running, i, 3);
  }

  if (t.has_done_index) {
    for (const char* state : {"completed", "failed", "discarded"}) {
      auto r = conn.exec(finished_sql(t.quoted, state), {queue_param, pg::Param(cap_text)});
      int64_t total = 0;
      for (int i = 0; i < r.rows(); ++i) total += r.int64(i, 2);
      for (int i = 0; i < r.rows(); ++i) {
        auto& k = kind_of(r, i);
        Count hour{r.int64(i, 2), false};
        cap(hour, total > count_cap, count_cap);
        if (std::string_view(state) == "completed") {
          k.completed_last_hour = hour;
          Count recent{r.int64(i, 3), false};
          cap(recent, total > count_cap, count_cap);
          k.completed_last_5_minutes = recent;
        } else if (std::string_view(state) == "failed") {
          k.failed_last_hour = hour;
        } else {
          k.discarded_last_hour = hour;
        }
      }
    }
    // A kind seen here at all had none of the others in the last hour: zero, not unknown.
    for (auto& [key, k] : kinds) {
      for (auto* c : {&k.failed_last_hour, &k.discarded_last_hour, &k.completed_last_hour, &k.completed_last_5_minutes})
        if (!*c) *c = Count{};
    }
  }

  std::map<std::string, QueueStats> queues;
  for (auto& [key, k] : kinds) {
    auto& q = queues[key.first];
    q.queue = key.first;
    q.kinds.push_back(std::move(k));
  }
  if (t.has_pause_table) {
    auto paused = conn.exec("SELECT queue, paused_at::text, paused_by FROM " + t.pause_quoted +
                                " WHERE ($1::text IS NULL OR queue = $1::text) ORDER BY queue LIMIT " +
                                std::to_string(kMaxGroups),
                            {queue_param});
    for (int i = 0; i < paused.rows(); ++i) {
      auto& q = queues[std::string(paused.text(i, 0))];
      q.queue = std::string(paused.text(i, 0));
      q.paused = true;
      q.paused_at = std::string(paused.text(i, 1));
      if (!paused.is_null(i, 2)) q.paused_by = std::string(paused.text(i, 2));
    }
  }
  for (auto& [name, q] : queues) out.queues.push_back(std::move(q));

  auto estimates = conn.exec(kEstimatesSql, {pg::Param(t.quoted)});
  if (estimates.rows() > 0 && !estimates.is_null(0, 0)) {
    const double rows = std::stod(std::string(estimates.text(0, 0)));
    if (rows >= 0) {
      out.estimated_rows = static_cast<int64_t>(rows);
      for (int i = 0; i < estimates.rows(); ++i)
        if (!estimates.is_null(i, 1) && !estimates.is_null(i, 2))
          out.estimated_by_state.emplace_back(std::string(estimates.text(i, 1)),
                                              static_cast<int64_t>(std::stod(std::string(estimates.text(i, 2)))));
    }
  }
  out.leader = queue::read_leader(conn, table);
  out.health = queue::read_table_health(conn, table);
  out.health_warnings = queue::health_warnings(out.health, thresholds);
  return out;
}

namespace {

nlohmann::json health_json(const queue::TableHealth& h, const std::vector<std::string>& warnings) {
  using nlohmann::json;
  json xmin = nullptr;
  if (h.oldest_xmin)
    xmin = {{"source", h.oldest_xmin->source},
            {"name", h.oldest_xmin->name},
            {"seconds", h.oldest_xmin->seconds ? json(*h.oldest_xmin->seconds) : json(nullptr)},
            {"xids", h.oldest_xmin->xids}};
  return {{"live_rows", h.live_rows},
          {"dead_rows", h.dead_rows},
          {"seconds_since_vacuum", h.seconds_since_vacuum ? json(*h.seconds_since_vacuum) : json(nullptr)},
          {"table_bytes", h.table_bytes},
          {"index_bytes", h.index_bytes},
          {"oldest_xmin", std::move(xmin)},
          {"warnings", warnings}};
}

}  // namespace

nlohmann::json to_json(const TableStats& s) {
  using nlohmann::json;
  json queues = json::array();
  for (const auto& q : s.queues) {
    json kinds = json::array();
    for (const auto& k : q.kinds) {
      json lower = json::array();
      json jk = {{"kind", k.kind}};
      auto put = [&](const char* name, const std::optional<Count>& c) {
        if (!c) {
          jk[name] = nullptr;
          return;
        }
        jk[name] = c->value;
        if (c->capped) lower.push_back(name);
      };
      put("available", k.available);
      put("scheduled", k.scheduled);
      put("running", k.running);
      jk["oldest_due_age_seconds"] = k.oldest_due_age_seconds ? json(*k.oldest_due_age_seconds) : json(nullptr);
      jk["longest_running_seconds"] = k.longest_running_seconds ? json(*k.longest_running_seconds) : json(nullptr);
      put("failed_last_hour", k.failed_last_hour);
      put("discarded_last_hour", k.discarded_last_hour);
      put("completed_last_hour", k.completed_last_hour);
      put("completed_last_5_minutes", k.completed_last_5_minutes);
      jk["completed_per_second"] =
          k.completed_last_5_minutes ? json(static_cast<double>(k.completed_last_5_minutes->value) / 300.0) : json(nullptr);
      jk["lower_bounds"] = std::move(lower);
      kinds.push_back(std::move(jk));
    }
    queues.push_back({{"queue", q.queue},
                      {"paused", q.paused},
                      {"paused_at", q.paused_at ? json(*q.paused_at) : json(nullptr)},
                      {"paused_by", q.paused_by ? json(*q.paused_by) : json(nullptr)},
                      {"kinds", std::move(kinds)}});
  }
  json by_state = json::object();
  for (const auto& [state, n] : s.estimated_by_state) by_state[state] = n;
  return {{"table", s.table},
          {"database_time", s.database_time},
          {"schema_version", s.schema_version},
          {"count_cap", s.count_cap},
          {"queues", std::move(queues)},
          {"estimates", {{"rows", s.estimated_rows ? json(*s.estimated_rows) : json(nullptr)}, {"by_state", std::move(by_state)}}},
          {"hints", s.hints},
          {"leader", s.leader ? json{{"pid", s.leader->pid},
                                     {"application_name", s.leader->application_name},
                                     {"client", s.leader->client},
                                     {"session_seconds", s.leader->session_seconds}}
                              : json(nullptr)},
          {"health", health_json(s.health, s.health_warnings)}};
}

}  // namespace pgxq::admin
