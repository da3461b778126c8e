// bench/scenario_latency: an idle daemon with the default 1 s poll interval, jobs enqueued one
// at a time (libpgxq, one transaction each) at a steady rate; pickup (attempted_at −
// created_at) and end-to-end (completed_at − created_at) percentiles read from the table.
// Pickups well under the poll interval prove the NOTIFY wake-up.
#include <pgxq/client.h>

#include <cmath>
#include <thread>

#include "scenarios.hpp"

namespace pgxq::bench {

void scenario_latency(const Env& env, Report& report) {
  const auto& o = env.options;
  const auto n = static_cast<int64_t>(std::llround(o.latency_rate * o.latency_seconds));
  if (n < 1) throw std::runtime_error("latency: rate x duration gives no job");
  JobTable table(env, "latency");
  DaemonConfig c;  // defaults: poll 1s, 100 workers, batch 10
  c.table = table.name();
  c.pool_size = o.pool_size;
  pg::Connection conn(env.conninfo);
  pg::Connection enqueuer(env.conninfo);
  Daemon daemon(env, c);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // idle: the first poll has passed
  progress("latency", "enqueuing " + std::to_string(n) + " jobs at " + std::to_string(static_cast<int>(o.latency_rate)) +
                          "/s, one per transaction");
  pgxq_insert_opts opts = PGXQ_INSERT_OPTS_INIT;
  opts.table = table.name().c_str();
  auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / o.latency_rate);
  for (int64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i)));
    pgxq_error err{};
    if (pgxq_insert(enqueuer.get(), "noop", "{}", &opts, &err) < 0)
      throw std::runtime_error(std::string("latency: pgxq_insert failed: ") + err.message);
  }
  wait_drained(conn, table.name(), {"noop"}, std::chrono::seconds(60), "latency", [&] { return daemon.alive(); }, n);
  auto end = daemon.sample();
  daemon.stop();
  verify_outcomes(conn, table.name(), {{{"noop", "completed", 1}, n}});

  auto r = conn.exec(
      "SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY p)::text, max(p),"
      " percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY e)::text, max(e)"
      " FROM (SELECT extract(epoch FROM attempted_at - created_at)::float8 * 1000 AS p,"
      "              extract(epoch FROM completed_at - created_at)::float8 * 1000 AS e FROM " +
      table.name() + ") x");
  auto parse = [](std::string_view text) {
    std::vector<double> v;
    std::string s(text.substr(1, text.size() - 2));
    for (size_t pos = 0; pos < s.size();) {
      size_t comma = s.find(',', pos);
      if (comma == std::string::npos) comma = s.size();
      v.push_back(std::stod(s.substr(pos, comma - pos)));
      pos = comma + 1;
    }
    return v;
  };
  auto pickup = parse(r.text(0, 0)), e2e = parse(r.text(0, 2));
  pickup.push_back(std::stod(std::string(r.text(0, 1))));
  e2e.push_back(std::stod(std::string(r.text(0, 3))));
  const char* labels[] = {"p50", "p90", "p99", "max"};
  const std::string shape = " (" + std::to_string(n) + " jobs at " + std::to_string(static_cast<int>(o.latency_rate)) +
                            "/s, poll 1s)";
  for (int i = 0; i < 4; ++i) {
    Figure f;
    f.scenario = "latency";
    f.name = std::string("pickup ") + labels[i] + shape;
    f.unit = "ms";
    f.value = pickup[static_cast<size_t>(i)];
    f.jobs = n;
    if (i == 0) {
      f.target = "<= 2 ms";
      f.met = f.value <= 2.0;
    } else if (i == 2) {
      f.target = "<= 5 ms";
      f.met = f.value <= 5.0;
    }
    report.figures.push_back(f);
  }
  for (int i = 0; i < 4; ++i) {
    Figure f;
    f.scenario = "latency";
    f.name = std::string("end-to-end ") + labels[i] + shape;
    f.unit = "ms";
    f.value = e2e[static_cast<size_t>(i)];
    f.jobs = n;
    report.figures.push_back(f);
  }
  (void)end;
}

}  // namespace pgxq::bench
