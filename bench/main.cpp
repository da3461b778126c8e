// pgxq-bench: measures pgxqd (the real binary, with the testkit plugin) against PostgreSQL's
// own ceiling for the same work, on the same cluster, in the same run. main parses the
// options, prepares the environment, runs the chosen scenarios and reports.
#include <CLI/CLI.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "report.hpp"
#include "scenarios.hpp"

namespace fs = std::filesystem;
using namespace pgxq::bench;

namespace {

std::string self_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

// A private plugin dir holding only testkit.so: the daemon's handled kinds are then exactly
// testkit's, whatever else sits in build/plugins, and the ceiling claims with the same list.
std::string private_plugins(const std::string& from, const std::string& workdir) {
  const fs::path src = fs::path(from) / "testkit.so";
  if (!fs::exists(src))
    throw std::runtime_error(src.string() + " not found: build the testkit plugin (cmake --build build --target testkit) "
                             "or point --plugins at the directory that holds it");
  const fs::path dir = fs::path(workdir) / "plugins";
  fs::create_directory(dir);
  fs::copy_file(src, dir / "testkit.so");
  chmod(dir.c_str(), 0755);
  chmod((dir / "testkit.so").c_str(), 0755);
  return dir.string();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--quick") o = quick_defaults(o);

  CLI::App app{"pgxq-bench: pgxqd's throughput, latency and memory against PostgreSQL's own ceiling for the same work.\n"
               "Uses the database from --database or libpq's environment (PGHOST, PGDATABASE, ...); bench/run starts a "
               "throwaway cluster for it."};
  std::string scenario_list;
  app.add_flag("--quick", o.quick, "everything small (well under a minute); explicit sizes still apply");
  app.add_flag("--json", o.json, "print one JSON object on stdout (the table goes to stderr)");
  app.add_option("--scenario", scenario_list,
                 "comma-separated scenarios to run (default all): enqueue, process, memory, process-tx, backlog, "
                 "latency, retry-storm, retention, long-transaction, isolation");
  app.add_option("--database", o.database, "libpq URI or key=value string (default: libpq's environment)");
  app.add_option("--pgxqd", o.pgxqd, "the pgxqd binary (default: next to pgxq-bench)");
  app.add_option("--plugins", o.plugins, "directory holding testkit.so (default: ../plugins next to pgxq-bench)");
  app.add_option("-n,--jobs", o.process_jobs, "process/memory: backlog of no-op jobs")->check(CLI::PositiveNumber);
  app.add_option("--workers", o.process_workers, "process: worker counts to run (batch = min(workers, 100))")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  app.add_option("--pool-size", o.pool_size, "pgxqd's [database] pool_size, and the transactional ceiling's connections")
      ->check(CLI::PositiveNumber);
  app.add_option("--tx-jobs", o.tx_jobs, "process-tx: backlog of record jobs")->check(CLI::PositiveNumber);
  app.add_option("--tx-workers", o.tx_workers, "process-tx: workers")->check(CLI::PositiveNumber);
  app.add_option("--backlog", o.backlog_big, "backlog: the large backlog (10 kinds, 5 handled)")->check(CLI::PositiveNumber);
  app.add_option("--backlog-small", o.backlog_small, "backlog: the small backlog it is compared with")
      ->check(CLI::PositiveNumber);
  app.add_option("--backlog-workers", o.backlog_workers, "backlog: workers")->check(CLI::PositiveNumber);
  app.add_option("--enqueue-one", o.enqueue_one, "enqueue: jobs inserted one per transaction")->check(CLI::PositiveNumber);
  app.add_option("--enqueue-many", o.enqueue_many, "enqueue: jobs inserted through COPY")->check(CLI::PositiveNumber);
  app.add_option("--enqueue-batch", o.enqueue_batch, "enqueue: jobs per COPY")->check(CLI::PositiveNumber);
  app.add_option("--rounds", o.rounds, "enqueue: alternating rounds, best kept")->check(CLI::PositiveNumber);
  app.add_option("--latency-rate", o.latency_rate, "latency: jobs enqueued per second")->check(CLI::PositiveNumber);
  app.add_option("--latency-seconds", o.latency_seconds, "latency: how long to enqueue")->check(CLI::PositiveNumber);
  app.add_option("--retry-jobs", o.retry_jobs, "retry-storm: jobs that fail twice")->check(CLI::PositiveNumber);
  app.add_flag("--http", o.http,
               "process: run pgxqd with [http] listen on a free loopback port and scrape /metrics every second");
  app.add_option("--retention-old", o.retention_old, "retention: finished jobs past their retention")
      ->check(CLI::PositiveNumber);
  app.add_option("--retention-backlog", o.retention_backlog, "retention: available jobs worked meanwhile")
      ->check(CLI::PositiveNumber);
  app.add_option("--long-tx-jobs", o.long_tx_jobs, "long-transaction: backlog worked beside it")
      ->check(CLI::PositiveNumber);
  app.add_option("--long-tx-seconds", o.long_tx_seconds, "long-transaction: how long it is held open")
      ->check(CLI::PositiveNumber);
  app.add_option("--isolation-jobs", o.isolation_jobs, "isolation: no-op backlog, in each mode")
      ->check(CLI::PositiveNumber);
  app.add_option("--isolation-tx-jobs", o.isolation_tx_jobs, "isolation: record backlog, in each mode")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> chosen;
  for (size_t pos = 0; pos < scenario_list.size();) {
    size_t comma = scenario_list.find(',', pos);
    if (comma == std::string::npos) comma = scenario_list.size();
    if (comma > pos) chosen.push_back(scenario_list.substr(pos, comma - pos));
    pos = comma + 1;
  }
  for (auto& name : chosen) {
    bool known = false;
    for (auto& [n, _] : scenarios()) known |= n == name;
    if (!known) {
      std::cerr << "pgxq-bench: unknown scenario '" << name << "'; known: ";
      for (auto& [n, _] : scenarios()) std::cerr << n << " ";
      std::cerr << "\n";
      return 64;
    }
  }

  Env env;
  env.options = o;
  env.conninfo = o.database;
  const std::string here = self_dir();
  env.pgxqd = o.pgxqd.empty() ? here + "/pgxqd" : o.pgxqd;
  if (access(env.pgxqd.c_str(), X_OK) != 0) {
    std::cerr << "pgxq-bench: " << env.pgxqd << " is not an executable: build pgxqd (cmake --build build --target pgxqd) "
              << "or pass --pgxqd\n";
    return 69;
  }
  char tmpl[] = "/tmp/pgxq-bench.XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("pgxq-bench: mkdtemp");
    return 1;
  }
  env.workdir = tmpl;
  chmod(env.workdir.c_str(), 0755);
  int code = 0;
  try {
    env.plugins = private_plugins(o.plugins.empty() ? here + "/../plugins" : o.plugins, env.workdir);
    Machine machine = read_machine(env);
    Report report;
    auto started = Clock::now();
    for (auto& [name, fn] : scenarios()) {
      if (!chosen.empty() && std::find(chosen.begin(), chosen.end(), name) == chosen.end()) continue;
      report.ran.push_back(name);
      progress(name, "start");
      auto t0 = Clock::now();
      size_t before = report.figures.size();
      try {
        fn(env, report);
      } catch (const std::exception& e) {
        report.figures.resize(before);  // a scenario that did not verify reports nothing
        report.failures[name] = e.what();
        progress(name, std::string("FAILED: ") + e.what());
        code = 1;
      }
      report.scenario_seconds[name] = seconds_since(t0);
      progress(name, "done in " + std::to_string(static_cast<int>(seconds_since(t0))) + " s");
    }
    read_load_end(machine);
    std::string table = format_table(machine, report);
    if (o.json) {
      std::cerr << table;
      std::cout << format_json(env, machine, report, seconds_since(started));
    } else {
      std::cout << table;
    }
  } catch (const std::exception& e) {
    std::cerr << "pgxq-bench: " << e.what() << "\n";
    code = 1;
  }
  std::error_code ec;
  fs::remove_all(env.workdir, ec);
  return code;
}
