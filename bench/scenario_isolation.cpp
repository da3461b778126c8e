// bench/scenario_isolation: the testkit plugin in worker processes (isolation = "process")
// against the same plugin in the daemon's threads, in the same run, on the same backlogs: no-op
// jobs (what the channel costs per job) and record jobs (one INSERT in the job's transaction,
// served across the channel). Reported: throughput in each mode and the ratio, the CPU of the
// daemon and of its workers per 1,000 jobs, the workers' resident memory, and the time to
// READY=1 (the workers' start-up).
#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>

#include "scenarios.hpp"

namespace pgxq::bench {

namespace {

struct Mode {
  std::string name;
  std::string toml;  // added to the daemon's config
};

const Mode kThread{"thread", ""};
const Mode kProcess{"process", "[plugins.testkit]\nisolation = \"process\"\n"};

std::string fixed(double v, int decimals) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << v;
  return out.str();
}

Figure figure(const std::string& workload, const Mode& mode, const DaemonConfig& c, const BacklogRun& run) {
  Figure f;
  f.scenario = "isolation";
  f.name = workload + ", " + mode.name + " mode, " + std::to_string(c.max_workers) + " workers, batch " +
           std::to_string(c.batch_size) + (mode.toml.empty() ? "" : ", " + std::to_string(run.end.workers) + " processes");
  f.unit = "jobs/s";
  f.jobs = run.span.jobs;
  f.seconds = run.span.seconds;
  f.value = run.rate;
  f.cpu_ms_per_1k = run.cpu_ms_per_1k;
  if (!mode.toml.empty()) {
    f.workers_cpu_ms_per_1k = run.workers_cpu_ms_per_1k;
    f.note = "daemon + workers " + fixed(run.cpu_ms_per_1k + run.workers_cpu_ms_per_1k, 2) +
             " ms CPU per 1,000 jobs; workers' RSS " + fixed(run.end.workers_rss_mb, 1) + " MB (" +
             fixed(run.end.workers > 0 ? run.end.workers_rss_mb / run.end.workers : 0, 1) + " MB each); ";
  }
  f.note += "READY=1 after " + fixed(run.ready_s, 2) + " s";
  return f;
}

// One workload in both modes, thread first; the process-mode figure carries the ratio.
void compare(const Env& env, Report& report, const std::string& workload, DaemonConfig c, int64_t n,
             const std::function<std::vector<KindMix>()>& fresh_mix, const std::vector<std::string>& handled,
             const Outcomes& expected, const std::function<void()>& verify, double target) {
  std::vector<Figure> figures;
  for (const Mode* mode : {&kThread, &kProcess}) {
    DaemonConfig mc = c;
    mc.extra_toml = mode->toml;
    auto run = run_daemon_backlog(env, "isolation", mc, n, fresh_mix(), handled, expected);
    verify();
    if (!mode->toml.empty() && run.end.workers == 0)
      throw VerifyError("process mode: pgxqd had no worker processes at the end of the run");
    if (mode->toml.empty() && run.end.workers != 0)
      throw VerifyError("thread mode: pgxqd had " + std::to_string(run.end.workers) + " child processes");
    figures.push_back(figure(workload, *mode, mc, run));
    progress("isolation", figures.back().name + ": " + group_thousands(static_cast<int64_t>(run.rate)) + " jobs/s");
  }
  Figure& process = figures[1];
  process.ceiling = figures[0].value;
  process.ceiling_name = "thread mode";
  process.ratio = process.value / figures[0].value;
  process.target = ">= " + std::to_string(static_cast<int>(target * 100)) + "% of thread mode";
  process.met = *process.ratio >= target;
  report.figures.push_back(process);
  report.figures.push_back(figures[0]);
}

}  // namespace

void scenario_isolation(const Env& env, Report& report) {
  const auto& o = env.options;

  DaemonConfig noop;
  noop.max_workers = 100;
  noop.batch_size = 100;
  noop.pool_size = o.pool_size;
  const int64_t n = o.isolation_jobs;
  compare(env, report, "noop x " + group_thousands(n), noop, n, [] { return std::vector<KindMix>{{"noop"}}; }, {"noop"},
          {{{"noop", "completed", 1}, n}}, [] {}, 0.50);

  DaemonConfig tx;
  tx.max_workers = o.tx_workers;
  tx.batch_size = std::min(o.tx_workers, 100);
  tx.pool_size = o.pool_size;
  const int64_t m = o.isolation_tx_jobs;
  // One record table per run, checked after it: every job's row, once.
  std::unique_ptr<RecordTable> records;
  auto mix = [&] {
    records = std::make_unique<RecordTable>(env, "rec");
    return std::vector<KindMix>{{"record", "{\"table\":\"" + records->name() + "\",\"value\":\"x\"}"}};
  };
  auto verify = [&] {
    pg::Connection conn(env.conninfo);
    if (int64_t rows = count(conn, "SELECT count(*) FROM " + records->name()); rows != m)
      throw VerifyError("record table holds " + std::to_string(rows) + " rows for " + std::to_string(m) + " jobs");
  };
  compare(env, report, "record x " + group_thousands(m) + ", pool " + std::to_string(tx.pool_size), tx, m, mix,
          {"record"}, {{{"record", "completed", 1}, m}}, verify, 0.80);
}

}  // namespace pgxq::bench
