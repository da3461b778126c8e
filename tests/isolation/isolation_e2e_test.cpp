// End-to-end: the real pgxqd binary running the testkit plugin with isolation = "process" — a
// stream of crashing jobs among 10,000 ordinary ones, kill -9 of a worker mid-job and of the
// daemon itself, graceful shutdown with a job in a worker, the memory and CPU limits, and the
// backoff of a worker that keeps dying. The workers are found as the daemon's children whose
// command line is `pgxqd __plugin-worker <pid>`.
#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "e2e.hpp"

using namespace pgxq::test;

namespace {

// One process as /proc shows it; the start time tells a pid reused by another process apart.
struct Proc {
  int pid = 0;
  int ppid = 0;
  char state = '?';
  unsigned long long start = 0;
};

std::optional<Proc> read_proc(int pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (stat.empty() || close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  Proc p;
  p.pid = pid;
  rest >> p.state >> p.ppid;
  std::string skip;
  for (int field = 5; field < 22; ++field) rest >> skip;  // fields 5..21
  rest >> p.start;                                          // field 22: starttime
  if (!rest) return std::nullopt;
  return p;
}

// The daemon's live worker processes.
std::vector<Proc> workers_of(int daemon) {
  std::vector<Proc> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (auto* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    auto p = read_proc(static_cast<int>(pid));
    if (!p || p->ppid != daemon || p->state == 'Z' || p->state == 'X') continue;
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (cmdline.find("__plugin-worker") == std::string::npos) continue;
    out.push_back(*p);
  }
  closedir(d);
  return out;
}

int64_t worker_count(int daemon) { return static_cast<int64_t>(workers_of(daemon).size()); }

// Gone: no such process, a zombie nobody reaps (the container's init may not), or the pid now
// belongs to another process.
bool gone(const Proc& p) {
  auto now = read_proc(p.pid);
  return !now || now->state == 'Z' || now->state == 'X' || now->start != p.start;
}

// A table for `record` jobs, dropped at scope exit. A slow one makes each insert take a few
// milliseconds (a trigger sleeps), so that a worker spends most of its job between its INSERT
// and its outcome: the moment a kill must not turn into a second row.
struct RecordTable {
  std::string name = unique_name("iso_rec");
  explicit RecordTable(bool slow = false) {
    auto conn = connect();
    conn.exec("CREATE TABLE " + name + " (job_id bigint NOT NULL, value text)");
    if (!slow) return;
    conn.exec("CREATE FUNCTION " + name + "_slow() RETURNS trigger LANGUAGE plpgsql AS"
              " $$BEGIN PERFORM pg_sleep(0.003); RETURN NEW; END$$");
    conn.exec("CREATE TRIGGER slow BEFORE INSERT ON " + name + " FOR EACH ROW EXECUTE FUNCTION " + name + "_slow()");
  }
  ~RecordTable() {
    try {
      auto conn = connect();
      conn.exec("DROP TABLE IF EXISTS " + name);
      conn.exec("DROP FUNCTION IF EXISTS " + name + "_slow()");
    } catch (...) {
    }
  }
};

int64_t query(const std::string& sql) {
  auto conn = connect();
  return scalar(conn, sql);
}

std::string isolated(int processes, const std::string& more = "") {
  return "\n[plugins.testkit]\nisolation = \"process\"\nprocesses = " + std::to_string(processes) + "\n" + more;
}

// Lines of `log` that contain every one of `needles`.
std::vector<std::string> lines_with(const std::string& log, std::initializer_list<std::string> needles) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (std::all_of(needles.begin(), needles.end(), [&](const std::string& n) { return line.find(n) != std::string::npos; }))
      out.push_back(line);
  return out;
}

// What the table holds, by kind, state, attempt and error: printed when a check fails.
std::string summary(const std::string& table) {
  auto conn = connect();
  auto r = conn.exec("SELECT kind || ' ' || state || ' attempt ' || attempt || coalesce(' error ' || left(error, 80), '') ||"
                     " ': ' || count(*) FROM " + table + " GROUP BY kind, state, attempt, error ORDER BY 1 LIMIT 40");
  std::string out;
  for (int i = 0; i < r.rows(); ++i) out += std::string(r.text(i, 0)) + "\n";
  return out;
}

// The last `n` bytes of a log, for failure messages.
std::string tail(const std::string& log, size_t n = 4000) { return log.size() > n ? log.substr(log.size() - n) : log; }

int64_t count_lines(const std::string& log, std::initializer_list<std::string> needles) {
  return static_cast<int64_t>(lines_with(log, needles).size());
}

}  // namespace

TEST_CASE("isolation: crashing jobs among 10,000 ordinary ones — the daemon lives, every job ends as it must") {
  TempTable t("iso_stream");
  RecordTable rec;
  constexpr int kOrdinary = 10'000, kPerCrashKind = 20, kProcesses = 8;
  // rescue_after is an hour: a crashed attempt that waited for the rescuer would never finish
  // within the deadline below.
  // The crashers have a queue of their own with two workers, so that they cannot take every
  // handler of the daemon while their workers restart: ordinary jobs keep finishing between
  // deaths, as they would among real work (a pool that does nothing but crash backs off: see the
  // last test).
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 14\n[queues.crash]\nmax_workers = 2\n" + isolated(kProcesses),
                 "rescue_after = \"1h\"\nbatch_size = 50\n");
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  REQUIRE(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));

  // Ordinary jobs wait all the while (topped up below) until the last crasher is done.
  auto conn = connect();
  int64_t ordinary = 0;
  auto add_ordinary = [&](int n) {
    conn.exec("INSERT INTO " + t.name() +
                  " (kind, args, max_attempts)"
                  " SELECT 'record', jsonb_build_object('table', $1::text, 'value', i::text), 3"
                  " FROM generate_series(1, " + std::to_string(n) + ") i",
              {pgxq::pg::Param(rec.name)});
    ordinary += n;
  };
  add_ordinary(kOrdinary);
  conn.exec("INSERT INTO " + t.name() +
            " (kind, args, max_attempts, queue)"
            " SELECT (ARRAY['segv', 'abort', 'exit'])[i % 3 + 1], '{}', 3, 'crash'"
            " FROM generate_series(1, " + std::to_string(3 * kPerCrashKind) + ") i");

  const std::string crashers = "kind IN ('segv', 'abort', 'exit')";
  INFO("jobs:\n" << summary(t.name()));  // (evaluated when a check fails)
  INFO("pgxqd's log (end):\n" << tail(p.err()));
  auto crashers_left = [&] { return count_jobs(t.name(), crashers + " AND state IN ('available', 'running')"); };
  auto ordinary_waiting = [&] { return count_jobs(t.name(), "kind = 'record' AND state = 'available'"); };
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (crashers_left() > 0 && p.running() && std::chrono::steady_clock::now() < deadline) {
    if (ordinary_waiting() < 500) add_ordinary(1'000);
    wait_until([&] { return crashers_left() == 0 || ordinary_waiting() < 500 || !p.running(); }, 10s);
  }
  REQUIRE(crashers_left() == 0);
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state IN ('available', 'running')") == 0 || !p.running(); },
                     120s));
  REQUIRE(p.running());
  INFO("ordinary jobs: " << ordinary);

  // Every ordinary job completed, its row committed exactly once.
  CHECK(ordinary >= kOrdinary);
  CHECK(count_jobs(t.name(), "kind = 'record' AND state = 'completed'") == ordinary);
  CHECK(query("SELECT count(*) FROM " + rec.name) == ordinary);
  CHECK(query("SELECT count(DISTINCT job_id) FROM " + rec.name) == ordinary);
  CHECK(query("SELECT count(*) FROM " + t.name() + " j WHERE kind = 'record' AND (SELECT count(*) FROM " + rec.name +
              " r WHERE r.job_id = j.id) = 1") == ordinary);
  // Every crasher failed after its three attempts, with its cause.
  CHECK(count_jobs(t.name(), crashers + " AND state = 'failed' AND attempt = 3") == 3 * kPerCrashKind);
  CHECK(count_jobs(t.name(), "kind = 'segv' AND error = 'worker process died: signal 11 (SIGSEGV)'") == kPerCrashKind);
  CHECK(count_jobs(t.name(), "kind = 'abort' AND error = 'worker process died: signal 6 (SIGABRT)'") == kPerCrashKind);
  CHECK(count_jobs(t.name(), "kind = 'exit' AND error = 'worker process exited with status 3'") == kPerCrashKind);

  // The pool is whole again (a replacement counts once its Hello is logged, a little after its
  // process exists), and the operator saw each death with its job.
  CHECK(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));
  CHECK(wait_until(
      [&] {
        return count_lines(p.err(), {"plugin testkit: worker process ", " started"}) >= kProcesses + 9 * kPerCrashKind;
      },
      30s));
  auto err = p.err();
  CHECK(count_lines(err, {"kind=segv queue=crash: plugin testkit: worker process ", "died: signal 11 (SIGSEGV)"}) ==
        3 * kPerCrashKind);
  CHECK(count_lines(err, {"kind=exit queue=crash: plugin testkit: worker process ", "exited with status 3"}) ==
        3 * kPerCrashKind);
  CHECK(count_lines(err, {"plugin testkit: worker process ", " started"}) >= kProcesses + 9 * kPerCrashKind);
  stop_cleanly(p);
}

TEST_CASE("isolation: kill -9 of a worker mid-job — the job is retried, record rows are committed exactly once") {
  TempTable t("iso_killw");
  RecordTable rec(/*slow=*/true);
  constexpr int kJobs = 3'000, kProcesses = 4;
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 8\n" + isolated(kProcesses), "rescue_after = \"1h\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  REQUIRE(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));
  {
    auto conn = connect();
    conn.exec("INSERT INTO " + t.name() +
                  " (kind, args) SELECT 'record', jsonb_build_object('table', $1::text, 'value', i::text)"
                  " FROM generate_series(1, " + std::to_string(kJobs) + ") i",
              {pgxq::pg::Param(rec.name)});
  }
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'completed'") > 0; }));

  // Kill workers (busy nearly all the time while the backlog lasts, most of it waiting for their
  // INSERT) until one of the kills lands inside a job; after each kill wait for the pool to
  // replace the worker.
  int kills = 0;
  // (a killed attempt is back to available with the cause as its error, then runs again)
  auto killed_mid_job = [&] {
    return count_jobs(t.name(), "attempt >= 2 OR error = 'worker process died: signal 9 (SIGKILL)'") > 0;
  };
  INFO("jobs:\n" << summary(t.name()));
  INFO("pgxqd's log (end):\n" << tail(p.err()));
  while (!killed_mid_job() && kills < 40 && count_jobs(t.name(), "state = 'available'") > 0) {
    auto workers = workers_of(p.pid());
    if (workers.empty()) {
      REQUIRE(wait_until([&] { return !workers_of(p.pid()).empty(); }, 30s));
      continue;
    }
    const Proc victim = workers[kills % workers.size()];
    ::kill(victim.pid, SIGKILL);
    ++kills;
    REQUIRE(wait_until([&] {
      auto now = workers_of(p.pid());
      return gone(victim) && static_cast<int64_t>(now.size()) == kProcesses;
    }, 30s));
  }
  REQUIRE(killed_mid_job());
  INFO("kills: " << kills);

  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'completed'") == kJobs || !p.running(); }, 120s));
  REQUIRE(p.running());
  CHECK(count_jobs(t.name(), "state = 'completed'") == kJobs);
  CHECK(query("SELECT count(*) FROM " + rec.name) == kJobs);
  CHECK(query("SELECT count(DISTINCT job_id) FROM " + rec.name) == kJobs);
  // A killed attempt is recorded with its cause (the job then completed on its next attempt).
  CHECK(p.err().find("died: signal 9 (SIGKILL)") != std::string::npos);
  stop_cleanly(p);
}

TEST_CASE("isolation: kill -9 of the daemon takes its worker processes with it") {
  TempTable t("iso_killd");
  constexpr int kProcesses = 3;
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 4\n" + isolated(kProcesses));
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  enqueue_sql(t.name(), "sleep", R"({"ms": 600000})", 1);  // one worker busy in a handler
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'running'") == 1; }));
  REQUIRE(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));
  auto workers = workers_of(p.pid());

  p.signal(SIGKILL);
  REQUIRE(p.wait(30s));
  CHECK(wait_until([&] { return std::all_of(workers.begin(), workers.end(), gone); }, 30s));
}

TEST_CASE("isolation: SIGTERM lets a job in a worker finish, then the workers exit") {
  TempTable t("iso_term");
  constexpr int kProcesses = 2;
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 2\n" + isolated(kProcesses) + "\n[log]\nlevel = \"debug\"\n",
                 "shutdown_timeout = \"60s\"\ncancel_grace = \"10s\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  enqueue_sql(t.name(), "sleep", R"({"ms": 1500})", 1);
  // The handler's own log line, sent by the worker through the daemon: the job is in the worker.
  REQUIRE(p.wait_for_output("sleeping 1500 ms"));
  REQUIRE(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));
  auto workers = workers_of(p.pid());
  p.signal(SIGTERM);
  auto code = p.wait(60s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(count_jobs(t.name(), "state = 'completed'") == 1);
  CHECK(std::all_of(workers.begin(), workers.end(), gone));
}

TEST_CASE("isolation: past shutdown_timeout a job in a worker is told to stop through the shared flag") {
  TempTable t("iso_cancel");
  constexpr int kProcesses = 2;
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 2\n" + isolated(kProcesses),
                 "shutdown_timeout = \"100ms\"\ncancel_grace = \"30s\"\n");
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  enqueue_sql(t.name(), "sleep", R"({"ms": 600000})", 2);
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'running'") == 2; }));
  REQUIRE(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));
  auto workers = workers_of(p.pid());
  p.signal(SIGTERM);
  // `sleep` returns "cancelled" once should-stop is raised: well before cancel_grace runs out.
  auto code = p.wait(25s);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(count_jobs(t.name(), "state = 'running'") == 0);
  CHECK(count_jobs(t.name(), "state = 'available'") == 2);
  CHECK(std::all_of(workers.begin(), workers.end(), gone));
}

TEST_CASE("isolation: memory and CPU limits kill the job's worker and record the limit, other jobs go on") {
  if (pgxq::test::kAddressSanitizer) {
    MESSAGE("not run in an AddressSanitizer build: a worker's shadow memory alone is over any small memory limit");
    return;
  }
  TempTable t("iso_limits");
  constexpr int kProcesses = 2;
  TestConfig cfg(t.name(),
                 "[queues.default]\nmax_workers = 4\n" + isolated(kProcesses, "memory_limit = \"64MiB\"\ncpu_limit = \"1s\"\n"));
  Process p(run_argv(cfg.path));
  REQUIRE(p.wait_for_output("started:"));
  {
    auto conn = connect();
    conn.exec("INSERT INTO " + t.name() + " (kind, max_attempts) VALUES ('oom', 2), ('spin', 1)");
  }
  enqueue_sql(t.name(), "noop", "{}", 50);
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state IN ('available', 'running')") == 0 || !p.running(); }, 120s));
  REQUIRE(p.running());
  CHECK(count_jobs(t.name(), "kind = 'oom' AND state = 'failed' AND attempt = 2 AND error = 'killed: memory limit 64 MiB'") == 1);
  CHECK(count_jobs(t.name(), "kind = 'spin' AND state = 'failed' AND attempt = 1 AND error = 'killed: cpu limit 1s'") == 1);
  CHECK(count_jobs(t.name(), "kind = 'noop' AND state = 'completed'") == 50);
  CHECK(wait_until([&] { return worker_count(p.pid()) == kProcesses; }, 30s));
  // Whatever the limit left behind is gone: a noop after the kills still completes.
  enqueue_sql(t.name(), "noop", "{}", 1);
  CHECK(wait_until([&] { return count_jobs(t.name(), "kind = 'noop' AND state = 'completed'") == 51; }));
  stop_cleanly(p);
}

TEST_CASE("isolation: a worker that keeps dying is restarted with backoff, logged as a warning per step") {
  TempTable t("iso_backoff");
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 2\n" + isolated(1));
  // Under JOURNAL_STREAM each line starts with its syslog priority: <4> is a warning.
  Process p(run_argv(cfg.path), {{"JOURNAL_STREAM", "8:12345"}});
  REQUIRE(p.wait_for_output("started:"));
  {
    auto conn = connect();
    conn.exec("INSERT INTO " + t.name() + " (kind, max_attempts) SELECT 'segv', 1 FROM generate_series(1, 5)");
  }
  // Five deaths in a row with one process: the starts after the 3rd and 4th (and 5th) wait.
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "kind = 'segv' AND state = 'failed'") == 5 || !p.running(); }, 60s));
  REQUIRE(p.running());
  // The pool came back: a job after the deaths completes (and its outcome ends the streak).
  enqueue_sql(t.name(), "noop", "{}", 1);
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "kind = 'noop' AND state = 'completed'") == 1; }, 60s));

  const auto err = p.err();
  INFO(err);
  CHECK(count_lines(err, {"<4>job ", "kind=segv", "plugin testkit: worker process ", "died: signal 11 (SIGSEGV)"}) == 5);
  // The pool's own warnings (not a job's): one per backoff step, i.e. for the starts after the
  // 3rd, 4th and 5th deaths in a row — at least two, and not one per attempt to start.
  const int64_t backoff = count_lines(err, {"<4>plugin testkit: ", "worker processes died in a row"});
  CHECK(backoff >= 2);
  CHECK(backoff <= 3);
  stop_cleanly(p);
}
