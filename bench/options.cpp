// bench/options: the scenario registry, quick-mode sizes and small shared helpers.
#include <iostream>

#include "bench.hpp"
#include "scenarios.hpp"

namespace pgxq::bench {

Options quick_defaults(Options o) {
  o.quick = true;
  o.enqueue_one = 1'000;
  o.enqueue_many = 20'000;
  o.rounds = 1;
  o.process_jobs = 10'000;
  o.tx_jobs = 2'000;
  o.backlog_big = 50'000;
  o.backlog_small = 5'000;
  o.latency_rate = 50;
  o.latency_seconds = 2;
  o.retry_jobs = 1'000;
  o.retention_old = 200'000;
  o.retention_backlog = 20'000;
  o.long_tx_jobs = 20'000;
  o.long_tx_seconds = 10;
  o.isolation_jobs = 5'000;
  o.isolation_tx_jobs = 1'000;
  return o;
}

const std::vector<std::string>& testkit_kinds() {
  // Sorted, as the engine keeps its handled kinds.
  static const std::vector<std::string> kinds{"abort", "discard", "fail", "noop", "record", "sleep", "throw",
                                              "unknown_outcome"};
  return kinds;
}

const std::vector<std::pair<std::string, ScenarioFn>>& scenarios() {
  static const std::vector<std::pair<std::string, ScenarioFn>> all{
      {"enqueue", scenario_enqueue},     {"process", scenario_process}, {"memory", scenario_memory},
      {"process-tx", scenario_process_tx}, {"backlog", scenario_backlog}, {"latency", scenario_latency},
      {"retry-storm", scenario_retry_storm}, {"retention", scenario_retention},
      {"long-transaction", scenario_long_transaction}, {"isolation", scenario_isolation}};
  return all;
}

void progress(const std::string& scenario, const std::string& message) {
  std::cerr << "[pgxq-bench " << scenario << "] " << message << std::endl;
}

std::string group_thousands(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace pgxq::bench
