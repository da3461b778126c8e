// bench/backlog_run: one measured pass over a backlog, by the daemon or by the SQL-only
// ceiling, each on its own fresh job table.
#include <thread>

#include "scenarios.hpp"

namespace pgxq::bench {

std::vector<int64_t> mix_counts(int64_t n, size_t kinds) {
  // load_backlog gives job g (1..n) the kind mix[g % kinds].
  std::vector<int64_t> counts(kinds, n / static_cast<int64_t>(kinds));
  for (int64_t r = 1; r <= n % static_cast<int64_t>(kinds); ++r) counts[r]++;
  return counts;
}

BacklogRun run_daemon_backlog(const Env& env, const std::string& scenario, const DaemonConfig& base, int64_t n,
                              const std::vector<KindMix>& mix, const std::vector<std::string>& handled,
                              const Outcomes& expected, bool from_load) {
  JobTable table(env, scenario);
  DaemonConfig config = base;
  config.table = table.name();
  pg::Connection conn(env.conninfo);
  BacklogRun run;
  Daemon daemon(env, config);
  // Let it settle (first empty claim, LISTEN) before reading its idle footprint.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  run.idle = daemon.sample();
  progress(scenario, "loading " + std::to_string(n) + " jobs; pgxqd (" + std::to_string(config.max_workers) +
                         " workers, batch " + std::to_string(config.batch_size) + ") works them");
  double committed;
  if (from_load) {
    committed = load_backlog(conn, table.name(), n, mix);
  } else {
    // Paused while the backlog is loaded and vacuumed, so it starts on a settled table as it
    // would on a backlog that built up over time, and not beside the autovacuum that a fresh
    // bulk load sets off (on 1,000,000 rows that takes seconds of the two cores, or not,
    // depending on when autovacuum's naptime ends).
    daemon.pause();
    committed = load_backlog(conn, table.name(), n, mix);
    settle(conn, table.name());
    daemon.resume();
  }
  auto deadline = std::chrono::seconds(300 + n / 500);
  wait_drained(conn, table.name(), handled, deadline, scenario, [&] { return daemon.alive(); }, n);
  run.end = daemon.sample();
  run.scrapes_ok = daemon.scrapes_ok();
  run.scrapes_failed = daemon.scrapes_failed();
  daemon.stop();
  verify_outcomes(conn, table.name(), expected);
  run.span = table_span(conn, table.name(), handled, from_load ? std::optional<double>(committed) : std::nullopt);
  if (run.span.seconds <= 0) throw VerifyError("no measurable span in " + table.name());
  run.rate = static_cast<double>(run.span.jobs) / run.span.seconds;
  run.cpu_ms_per_1k = (run.end.cpu_s - run.idle.cpu_s) * 1000.0 / (static_cast<double>(run.span.jobs) / 1000.0);
  run.workers_cpu_ms_per_1k =
      (run.end.workers_cpu_s - run.idle.workers_cpu_s) * 1000.0 / (static_cast<double>(run.span.jobs) / 1000.0);
  run.ready_s = daemon.ready_seconds();
  return run;
}

Span run_ceiling_backlog(const Env& env, const std::string& scenario, int64_t n, const std::vector<KindMix>& mix,
                         const std::vector<std::string>& handled, const Outcomes& expected,
                         const std::function<void(const std::string&)>& work) {
  JobTable table(env, scenario + "_ceiling");
  pg::Connection conn(env.conninfo);
  load_backlog(conn, table.name(), n, mix);
  settle(conn, table.name());
  work(table.name());
  verify_outcomes(conn, table.name(), expected);
  Span span = table_span(conn, table.name(), handled);
  if (span.seconds <= 0) throw VerifyError("no measurable span in " + table.name());
  return span;
}

}  // namespace pgxq::bench
