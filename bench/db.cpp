// bench/db: see db.hpp.
#include "db.hpp"

#include <pgxq/client.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "queue/sql.hpp"

namespace pgxq::bench {

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> n{0};
  std::string p = prefix;
  for (auto& c : p)
    if (c == '-') c = '_';  // scenario names have dashes; table names may not
  return "bench_" + p + "_" + std::to_string(getpid()) + "_" + std::to_string(++n);
}

std::string quote_array(const std::vector<std::string>& values) {
  return queue::text_array(std::span<const std::string>(values));
}

int64_t count(pg::Connection& conn, const std::string& sql) {
  auto r = conn.exec(sql);
  return r.rows() == 0 || r.is_null(0, 0) ? 0 : r.int64(0, 0);
}

JobTable::JobTable(const Env& env, const std::string& prefix) : env_(env), name_(unique_name(prefix)) {
  pg::Connection conn(env.conninfo);
  pgxq_error err{};
  if (pgxq_migrate(conn.get(), name_.c_str(), &err) != 0)
    throw std::runtime_error("creating job table " + name_ + " failed: " + err.message);
}

JobTable::~JobTable() {
  try {
    pg::Connection conn(env_.conninfo);
    conn.exec("DROP TABLE IF EXISTS " + name_ + " CASCADE");
    // Migration 2's trigger function and the version ledger outlive the table.
    conn.exec("DROP FUNCTION IF EXISTS " + name_ + "_notify()");
    conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1", {name_});
  } catch (...) {
  }
}

RecordTable::RecordTable(const Env& env, const std::string& prefix) : env_(env), name_(unique_name(prefix)) {
  pg::Connection conn(env.conninfo);
  conn.exec("CREATE TABLE " + name_ + " (job_id bigint PRIMARY KEY, value text)");
}

RecordTable::~RecordTable() {
  try {
    pg::Connection conn(env_.conninfo);
    conn.exec("DROP TABLE IF EXISTS " + name_);
  } catch (...) {
  }
}

double load_backlog(pg::Connection& conn, const std::string& table, int64_t n, const std::vector<KindMix>& mix) {
  std::vector<std::string> kinds, args, attempts;
  for (auto& m : mix) {
    kinds.push_back(m.kind);
    args.push_back(m.args);
    attempts.push_back(std::to_string(m.max_attempts));
  }
  std::string n_s = std::to_string(n), kinds_s = quote_array(kinds), args_s = quote_array(args),
              m_s = std::to_string(mix.size()), attempts_s = quote_array(attempts);
  // Distinct scheduled_at in id order, all in the past: the claim order is the insert order.
  conn.exec("INSERT INTO " + table +
                " (kind, args, scheduled_at, max_attempts)"
                " SELECT ($2::text[])[1 + g % $4::int], (($3::text[])[1 + g % $4::int])::jsonb,"
                " now() - ($1::int8 - g) * interval '1 microsecond', ($5::int[])[1 + g % $4::int]"
                " FROM generate_series(1, $1::int8) g",
            {n_s, kinds_s, args_s, m_s, attempts_s});
  auto r = conn.exec("SELECT extract(epoch FROM clock_timestamp())::float8");
  double committed = std::stod(std::string(r.text(0, 0)));
  conn.exec("ANALYZE " + table);
  return committed;
}

void settle(pg::Connection& conn, const std::string& table) { conn.exec("VACUUM (ANALYZE) " + table); }

void wait_drained(pg::Connection& conn, const std::string& table, const std::vector<std::string>& kinds,
                  std::chrono::seconds deadline, const std::string& scenario, const std::function<bool()>& alive,
                  int64_t total) {
  const std::string kinds_s = quote_array(kinds);
  // Both probes walk a partial index (fetch: state = 'available'; rescue: state = 'running').
  const std::string busy = "SELECT EXISTS (SELECT 1 FROM " + table +
                           " WHERE state = 'available' AND queue = 'default' AND kind = ANY($1::text[]))"
                           " OR EXISTS (SELECT 1 FROM " + table + " WHERE state = 'running')";
  // The full check walks the dead entries that worked jobs leave in both partial indexes, and
  // costs more the further the daemon gets; the ceiling runs have no such probe. So first ask
  // only whether the last jobs loaded (the last to be claimed) are done: a few primary-key
  // lookups.
  const std::string last_ten = std::to_string(count(conn, "SELECT coalesce(max(id), 0) - 10 FROM " + table));
  const std::string tail_busy = "SELECT EXISTS (SELECT 1 FROM " + table +
                                " WHERE id > $2::int8 AND kind = ANY($1::text[]) AND state IN ('available', 'running'))";
  auto start = Clock::now();
  auto next_progress = start + std::chrono::seconds(5);
  int64_t last_left = -1;
  for (;;) {
    if (conn.exec(tail_busy, {kinds_s, last_ten}).text(0, 0) == "f" && conn.exec(busy, {kinds_s}).text(0, 0) == "f")
      return;
    if (!alive()) throw std::runtime_error("pgxqd exited while jobs were still pending");
    if (Clock::now() - start > deadline)
      throw VerifyError("jobs still pending after " + std::to_string(deadline.count()) + " s");
    if (Clock::now() >= next_progress) {
      // Counting the rest walks the available index: only every few seconds.
      auto left = count(conn, "SELECT count(*) FROM " + table + " WHERE state IN ('available', 'running') AND kind = ANY('" +
                                  kinds_s + "'::text[])");
      progress(scenario, std::to_string(total - left) + "/" + std::to_string(total) + " jobs done after " +
                             std::to_string(static_cast<int>(seconds_since(start))) + " s");
      if (left == last_left) {
        // No progress for a whole interval: show what the daemon's sessions are doing.
        auto s = conn.exec(
            "SELECT application_name || ' ' || state || coalesce(' wait=' || wait_event, '') || ' for ' ||"
            " round(extract(epoch FROM now() - state_change)::numeric, 1) || ' s: ' || left(query, 60)"
            " FROM pg_stat_activity WHERE application_name LIKE 'pgxqd%' ORDER BY application_name");
        for (int i = 0; i < s.rows(); ++i) progress(scenario, "  stalled? " + std::string(s.text(i, 0)));
      }
      last_left = left;
      next_progress = Clock::now() + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Span table_span(pg::Connection& conn, const std::string& table, const std::vector<std::string>& kinds,
                std::optional<double> from_epoch) {
  std::string from = from_epoch ? "to_timestamp(" + std::to_string(*from_epoch) + ")" : "min(attempted_at)";
  auto r = conn.exec("SELECT extract(epoch FROM max(completed_at) - " + from + ")::float8, count(*) FROM " + table +
                         " WHERE kind = ANY($1::text[]) AND completed_at IS NOT NULL",
                     {quote_array(kinds)});
  Span s;
  if (!r.is_null(0, 0)) s.seconds = std::stod(std::string(r.text(0, 0)));
  s.jobs = r.int64(0, 1);
  return s;
}

Outcomes outcomes(pg::Connection& conn, const std::string& table) {
  auto r = conn.exec("SELECT kind, state, attempt, count(*) FROM " + table + " GROUP BY 1, 2, 3");
  Outcomes out;
  for (int i = 0; i < r.rows(); ++i)
    out[{std::string(r.text(i, 0)), std::string(r.text(i, 1)), static_cast<int>(r.int64(i, 2))}] = r.int64(i, 3);
  return out;
}

void verify_outcomes(pg::Connection& conn, const std::string& table, const Outcomes& expected) {
  auto got = outcomes(conn, table);
  if (got == expected) return;
  auto describe = [](const Outcomes& o) {
    std::string s;
    for (auto& [k, n] : o)
      s += "  " + std::get<0>(k) + " " + std::get<1>(k) + " attempt " + std::to_string(std::get<2>(k)) + ": " +
           std::to_string(n) + "\n";
    return s.empty() ? std::string("  (no jobs)\n") : s;
  };
  throw VerifyError("job outcomes in " + table + " are not what they must be.\nexpected:\n" + describe(expected) +
                    "got:\n" + describe(got));
}

}  // namespace pgxq::bench
