// bench/scenario_maintenance: the cost of table upkeep to the work. "retention": a backlog
// worked beside millions of expired finished jobs, with the leader's cleaner deleting them and
// without it; the largest and slowest delete statement. "long-transaction": a backlog worked
// while a transaction elsewhere holds back the xmin horizon (so the worked jobs' dead rows
// stay and every claim walks them), against the same backlog without it, and what the daemon
// does meanwhile (errors logged, CPU while idle).
#include <regex>
#include <thread>

#include "scenarios.hpp"

namespace pgxq::bench {

namespace {

struct Run {
  Span span;
  double rate = 0;
  double cpu_ms_per_1k = 0;
  std::string log;
  int64_t old_left_at_drain = 0;
  double cleaned_seconds = 0;  // until every expired row was gone (cleaner runs only)
  double idle_cpu_percent = 0; // daemon CPU after the drain, while the transaction is still held
};

Figure rate_figure(const std::string& scenario, const std::string& name, const Run& r) {
  Figure f;
  f.scenario = scenario;
  f.name = name;
  f.unit = "jobs/s";
  f.jobs = r.span.jobs;
  f.seconds = r.span.seconds;
  f.value = r.rate;
  f.cpu_ms_per_1k = r.cpu_ms_per_1k;
  return f;
}

int count_matches(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Expired finished jobs (completed two days ago), in one statement, then the backlog.
void load_old_and_backlog(pg::Connection& conn, const std::string& table, int64_t old_rows, int64_t backlog) {
  conn.exec("INSERT INTO " + table +
            " (kind, args, state, attempt, scheduled_at, created_at, attempted_at, completed_at)"
            " SELECT 'finished', '{}', 'completed', 1, t, t, t, t"
            " FROM (SELECT now() - interval '2 days' + g * interval '1 microsecond' AS t"
            " FROM generate_series(1, " + std::to_string(old_rows) + ") g) s");
  load_backlog(conn, table, backlog, {{"noop"}});
  settle(conn, table);
}

// Stops the daemon and fills in what every run reports: its log, the noop jobs' span, their
// rate, and the daemon's CPU per 1,000 of them between `start` and `end`.
void finish_run(Daemon& daemon, pg::Connection& conn, const std::string& table, const ProcSample& start,
                const ProcSample& end, Run& r) {
  daemon.stop();
  r.log = daemon.log();
  r.span = table_span(conn, table, {"noop"});
  if (r.span.seconds <= 0) throw VerifyError("no measurable span in " + table);
  r.rate = static_cast<double>(r.span.jobs) / r.span.seconds;
  r.cpu_ms_per_1k = (end.cpu_s - start.cpu_s) * 1000.0 / (static_cast<double>(r.span.jobs) / 1000.0);
}

Run retention_run(const Env& env, bool cleaner) {
  const auto& o = env.options;
  const std::string scenario = "retention";
  JobTable table(env, scenario);
  pg::Connection conn(env.conninfo);
  progress(scenario, "loading " + group_thousands(o.retention_old) + " expired finished jobs and " +
                         group_thousands(o.retention_backlog) + " available ones (cleaner " +
                         (cleaner ? "on" : "off") + ")");
  load_old_and_backlog(conn, table.name(), o.retention_old, o.retention_backlog);
  DaemonConfig c;
  c.table = table.name();
  c.max_workers = 100;
  c.batch_size = 100;
  c.pool_size = o.pool_size;
  c.log_level = "info";
  c.extra_toml = cleaner ? "[retention]\ncompleted = \"24h\"\ninterval = \"1s\"\n"
                         : "[retention]\ncompleted = \"0s\"\ndiscarded = \"0s\"\nfailed = \"0s\"\n";
  Run r;
  Daemon daemon(env, c);
  auto start = daemon.sample();
  wait_drained(conn, table.name(), {"noop"}, std::chrono::seconds(300 + o.retention_backlog / 500), scenario,
               [&] { return daemon.alive(); }, o.retention_backlog);
  auto end = daemon.sample();
  const std::string old_sql = "SELECT count(*) FROM " + table.name() + " WHERE kind = 'finished'";
  r.old_left_at_drain = count(conn, old_sql);
  if (cleaner) {
    // Then the rest of the cleaning, for its total time and its slowest statement.
    const auto t0 = Clock::now();
    while (count(conn, "SELECT count(*) FROM (SELECT 1 FROM " + table.name() +
                           " WHERE kind = 'finished' LIMIT 1) x") > 0) {
      if (seconds_since(t0) > 900 || !daemon.alive()) throw VerifyError("the cleaner did not finish within 900 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    r.cleaned_seconds = seconds_since(t0);
  }
  finish_run(daemon, conn, table.name(), start, end, r);
  return r;
}

}  // namespace

void scenario_retention(const Env& env, Report& report) {
  const auto& o = env.options;
  const Run without = retention_run(env, false);
  const Run with = retention_run(env, true);
  const std::string shape = group_thousands(o.retention_backlog) + " noop jobs beside " +
                            group_thousands(o.retention_old) + " expired finished ones, 100 workers";
  Figure fw = rate_figure("retention", shape + ", cleaner off", without);
  Figure fc = rate_figure("retention", shape + ", cleaner deleting", with);
  fc.ceiling = fw.value;
  fc.ceiling_name = "the same backlog with the cleaner off";
  fc.ratio = fc.value / fw.value;
  fc.target = ">= 80% of the cleaner off";
  fc.met = *fc.ratio >= 0.80;
  // The pass's own summary: "... (N statements, the largest R rows, the slowest S ms)".
  std::smatch m;
  std::string summary = "no retention pass logged";
  int64_t deleted = 0;
  static const std::regex pass_re(
      R"(deleted (\d+) completed, \d+ discarded, \d+ failed jobs in (\d+)ms \((\d+) statements, the largest (\d+) rows, the slowest (\d+)ms\))");
  for (auto it = std::sregex_iterator(with.log.begin(), with.log.end(), pass_re); it != std::sregex_iterator(); ++it) {
    deleted += std::stoll((*it)[1]);
    summary = "last pass: " + std::string((*it)[1]) + " rows in " + std::string((*it)[2]) + " ms, " +
              std::string((*it)[3]) + " statements, the largest " + std::string((*it)[4]) + " rows, the slowest " +
              std::string((*it)[5]) + " ms";
  }
  fc.note = group_thousands(o.retention_old - with.old_left_at_drain) + " expired rows deleted while the backlog ran; " +
            "all " + group_thousands(deleted) + " gone " + std::to_string(static_cast<int>(with.cleaned_seconds)) +
            " s after it; " + summary;
  progress("retention", fc.name + ": " + std::to_string(static_cast<int64_t>(fc.value)) + " jobs/s against " +
                            std::to_string(static_cast<int64_t>(fw.value)) + "; " + fc.note);
  report.figures.push_back(fc);
  report.figures.push_back(fw);
}

namespace {

Run long_tx_run(const Env& env, bool hold) {
  const auto& o = env.options;
  const std::string scenario = "long-transaction";
  JobTable table(env, scenario);
  pg::Connection conn(env.conninfo);
  load_backlog(conn, table.name(), o.long_tx_jobs, {{"noop"}});
  settle(conn, table.name());
  DaemonConfig c;
  c.table = table.name();
  c.max_workers = 100;
  c.batch_size = 100;
  c.pool_size = o.pool_size;
  c.log_level = "info";
  c.extra_toml = "[maintenance]\nhealth_check = \"5s\"\nlong_transaction = \"10s\"\n";
  // The transaction holding the horizon back: it has an xid, and stays open.
  pg::Connection holder(env.conninfo);
  const auto held_since = Clock::now();
  if (hold) {
    holder.exec("BEGIN");
    holder.exec("SELECT txid_current()");
  }
  progress(scenario, "working " + group_thousands(o.long_tx_jobs) + " jobs" +
                         (hold ? " with a transaction held open elsewhere" : ""));
  Run r;
  Daemon daemon(env, c);
  auto start = daemon.sample();
  wait_drained(conn, table.name(), {"noop"}, std::chrono::seconds(300 + o.long_tx_jobs / 500), scenario,
               [&] { return daemon.alive(); }, o.long_tx_jobs);
  auto end = daemon.sample();
  if (hold) {
    // The daemon idles beside the transaction until it has been open for long_tx_seconds.
    const auto idle_from = daemon.sample();
    const auto t0 = Clock::now();
    const auto until = held_since + std::chrono::seconds(o.long_tx_seconds);
    if (Clock::now() < until) std::this_thread::sleep_for(until - Clock::now());  // the measured interval itself
    const double idle_s = seconds_since(t0);
    if (idle_s > 1) r.idle_cpu_percent = (daemon.sample().cpu_s - idle_from.cpu_s) * 100.0 / idle_s;
    holder.exec("COMMIT");
  }
  finish_run(daemon, conn, table.name(), start, end, r);
  return r;
}

}  // namespace

void scenario_long_transaction(const Env& env, Report& report) {
  const auto& o = env.options;
  const Run normal = long_tx_run(env, false);
  const Run held = long_tx_run(env, true);
  const std::string shape = group_thousands(o.long_tx_jobs) + " noop jobs, 100 workers";
  Figure fn = rate_figure("long-transaction", shape, normal);
  Figure fh = rate_figure("long-transaction",
                          shape + ", a transaction held open " + std::to_string(o.long_tx_seconds) + " s elsewhere", held);
  fh.ceiling = fn.value;
  fh.ceiling_name = "the same backlog without it";
  fh.ratio = fh.value / fn.value;
  const int errors = count_matches(held.log, " error ");
  const int warnings = count_matches(held.log, "the xmin horizon is held back");
  char idle[32];
  std::snprintf(idle, sizeof idle, "%.1f", held.idle_cpu_percent);
  fh.note = std::to_string(errors) + " error lines; " + std::to_string(warnings) +
            " xmin-horizon warnings; daemon CPU while idle beside it: " + idle + "%";
  progress("long-transaction", fh.name + ": " + std::to_string(static_cast<int64_t>(fh.value)) + " jobs/s against " +
                                   std::to_string(static_cast<int64_t>(fn.value)) + "; " + fh.note);
  report.figures.push_back(fh);
  report.figures.push_back(fn);
}

}  // namespace pgxq::bench
