// Reliability test helpers: see reliability.hpp.
#include "reliability.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <pgxq/client.h>

namespace pgxq::test::rel {

bool long_mode() {
  const char* v = std::getenv("PGXQ_RELIABILITY_LONG");
  return v && *v && std::string(v) != "0";
}

Rng::Rng() {
  const char* s = std::getenv("PGXQ_RELIABILITY_SEED");
  seed_ = s && *s ? std::stoull(s) : std::random_device{}();
  gen_.seed(seed_);
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
  if (hi < lo) hi = lo;
  return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
}

std::string Rng::describe() const {
  return "seed=" + std::to_string(seed_) + " (replay: PGXQ_RELIABILITY_SEED=" + std::to_string(seed_) + ")" +
         (long_mode() ? " long mode" : " short mode");
}

TempDatabase::TempDatabase() : name_(unique_name("pgxq_rel")) {
  auto conn = test::connect();
  conn.exec("CREATE DATABASE " + name_);
}

TempDatabase::~TempDatabase() {
  try {
    auto conn = test::connect();
    conn.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
  }
}

std::string TempDatabase::conninfo() const {
  auto base = test::conninfo();
  return (base.empty() ? "" : base + " ") + "dbname=" + name_;
}

void migrate(const std::string& conninfo, const std::string& table) {
  pg::Connection conn(conninfo);
  pgxq_error err{};
  if (pgxq_migrate(conn.get(), table.c_str(), &err) != 0)
    throw std::runtime_error(std::string("migrate failed: ") + err.message);
}

void create_record_table(const std::string& conninfo, const std::string& table) {
  pg::Connection conn(conninfo);
  conn.exec("CREATE TABLE " + table + " (seq bigserial PRIMARY KEY, job_id bigint NOT NULL, value text)");
}

void enqueue_records(const std::string& conninfo, const std::string& table, const std::string& record_table, int n,
                     int max_attempts) {
  pg::Connection conn(conninfo);
  conn.exec("INSERT INTO " + table +
                " (kind, args, max_attempts) SELECT 'record', jsonb_build_object('table', $1::text, 'value', g::text, "
                "'then', 'complete'), $2::int FROM generate_series(1, $3::int) g",
            {pg::Param(record_table), pg::Param(std::to_string(max_attempts)), pg::Param(std::to_string(n))});
}

std::optional<int64_t> try_scalar(const std::string& conninfo, const std::string& sql) {
  try {
    pg::Connection conn(conninfo);
    return scalar(conn, sql);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool wait_count(const std::string& conninfo, const std::string& sql, int64_t at_least,
                std::chrono::milliseconds deadline) {
  return wait_until(
      [&] {
        auto v = try_scalar(conninfo, sql);
        return v && *v >= at_least;
      },
      deadline);
}

std::string Tally::str() const {
  std::ostringstream s;
  s << "jobs=" << jobs << " completed=" << completed << " not_completed=" << not_completed
    << " record_rows=" << record_rows << " distinct_jobs_in_records=" << record_jobs << " doubled=" << doubled()
    << " completed_without_row=" << completed_without_row << " rows_without_completion=" << rows_without_completion;
  return s.str();
}

Tally tally(const std::string& conninfo, const std::string& table, const std::string& record_table) {
  pg::Connection conn(conninfo);
  Tally t;
  t.jobs = scalar(conn, "SELECT count(*) FROM " + table);
  t.completed = scalar(conn, "SELECT count(*) FROM " + table + " WHERE state = 'completed'");
  t.not_completed = t.jobs - t.completed;
  t.record_rows = scalar(conn, "SELECT count(*) FROM " + record_table);
  t.record_jobs = scalar(conn, "SELECT count(DISTINCT job_id) FROM " + record_table);
  t.completed_without_row = scalar(conn, "SELECT count(*) FROM " + table + " j WHERE j.kind = 'record' AND " +
                                             "j.state = 'completed' AND NOT EXISTS (SELECT 1 FROM " + record_table +
                                             " r WHERE r.job_id = j.id)");
  t.rows_without_completion = scalar(conn, "SELECT count(*) FROM " + record_table + " r WHERE NOT EXISTS (SELECT 1 FROM " +
                                               table + " j WHERE j.id = r.job_id AND j.state = 'completed')");
  return t;
}

DaemonConfig::DaemonConfig(const std::string& table, const std::map<std::string, std::string>& worker,
                           const std::string& extra)
    : dir(temp_dir("pgxqd-rel")), path(dir + "/pgxqd.toml") {
  std::string text = "[worker]\ntable = \"" + table + "\"\n";
  for (auto& [k, v] : worker) text += k + " = " + v + "\n";
  text += "\n[backoff]\ninitial = \"50ms\"\nmax = \"200ms\"\n\n[plugins]\ndir = \"" + plugin_dir() + "\"\n" + with_test_isolation(extra);
  write_file(path, text);
}

DaemonConfig::~DaemonConfig() {
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}

Daemon::Daemon(std::string config_path, std::map<std::string, std::string> env, std::vector<std::string> extra_args)
    : env_(std::move(env)) {
  argv_ = {bin_dir() + "/pgxqd", "run", "--config", std::move(config_path)};
  if (geteuid() == 0) argv_.push_back("--allow-root");
  argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
}

Daemon::~Daemon() {
  if (proc_ && proc_->running()) {
    proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds(10));
  }
}

void Daemon::archive() {
  if (!proc_) return;
  history_ += proc_->err();
  history_ += proc_->out();
  proc_.reset();
}

void Daemon::start() {
  if (proc_ && proc_->running()) throw std::logic_error("daemon already running");
  archive();
  proc_ = std::make_unique<Process>(argv_, env_);
  ++starts_;
}

bool Daemon::running() { return proc_ && proc_->running(); }

int Daemon::pid() const { return proc_ ? proc_->pid() : -1; }

void Daemon::kill9() {
  if (!proc_) return;
  proc_->signal(SIGKILL);
  proc_->wait(std::chrono::seconds(30));
}

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds deadline) {
  if (!proc_) return std::nullopt;
  return proc_->wait(deadline);
}

std::optional<int> Daemon::stop(std::chrono::milliseconds deadline) {
  if (!proc_) return std::nullopt;
  proc_->signal(SIGTERM);
  return proc_->wait(deadline);
}

std::string Daemon::log() const {
  std::string all = history_;
  if (proc_) all += proc_->err() + proc_->out();
  return all;
}

int count_lines(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

}  // namespace pgxq::test::rel
