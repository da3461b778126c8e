// bench/scenarios: the scenarios pgxq-bench knows, in the order it runs them, and what they
// share — the report they add figures to, and one daemon run over a backlog (start the daemon
// idle, load the backlog in one statement, wait for it to drain, stop, verify, read the span).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"
#include "daemon.hpp"
#include "db.hpp"

namespace pgxq::bench {

struct BacklogRun {
  Span span;
  double rate = 0;          // jobs/s over the span
  ProcSample idle;          // after start, before the backlog
  ProcSample end;           // when the backlog has drained
  double cpu_ms_per_1k = 0; // daemon CPU while working, per 1,000 jobs
  double workers_cpu_ms_per_1k = 0;  // its plugin worker processes' CPU (isolation = "process")
  double ready_s = 0;       // start to READY=1
  int scrapes_ok = 0, scrapes_failed = 0;  // DaemonConfig::http: /metrics scrapes
};

struct Report {
  std::vector<Figure> figures;
  std::map<std::string, std::string> failures;    // scenario -> why it reported nothing
  std::map<std::string, double> scenario_seconds;  // scenario -> wall time
  std::vector<std::string> ran;
  std::optional<BacklogRun> noop_100;              // process's 100-worker run, reused by memory
};

using ScenarioFn = std::function<void(const Env&, Report&)>;
const std::vector<std::pair<std::string, ScenarioFn>>& scenarios();

// The daemon over a backlog of n jobs spread over `mix`; `handled` are the kinds whose span is
// measured; `expected` is what the table must hold afterwards. With from_load the span starts
// at the backlog's commit instead of the first attempted_at (retried jobs overwrite it).
BacklogRun run_daemon_backlog(const Env& env, const std::string& scenario, const DaemonConfig& config, int64_t n,
                              const std::vector<KindMix>& mix, const std::vector<std::string>& handled,
                              const Outcomes& expected, bool from_load = false);

// The same backlog on a fresh table, worked by `work(table)` with SQL only.
Span run_ceiling_backlog(const Env& env, const std::string& scenario, int64_t n, const std::vector<KindMix>& mix,
                         const std::vector<std::string>& handled, const Outcomes& expected,
                         const std::function<void(const std::string&)>& work);

// Jobs of each kind in a backlog of n spread round-robin over `mix` (as load_backlog does).
std::vector<int64_t> mix_counts(int64_t n, size_t kinds);

void scenario_enqueue(const Env& env, Report& report);
void scenario_process(const Env& env, Report& report);
void scenario_memory(const Env& env, Report& report);
void scenario_process_tx(const Env& env, Report& report);
void scenario_backlog(const Env& env, Report& report);
void scenario_latency(const Env& env, Report& report);
void scenario_retry_storm(const Env& env, Report& report);
void scenario_retention(const Env& env, Report& report);
void scenario_long_transaction(const Env& env, Report& report);
void scenario_isolation(const Env& env, Report& report);

}  // namespace pgxq::bench
