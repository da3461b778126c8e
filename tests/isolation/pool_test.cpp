// The worker pool with real workers: `pgxqd __plugin-worker` loading the testkit plugin from the
// descriptor the test opened, driven through the protocol the way the remote handler drives it.
// Start, Hello, lending and giving back, deaths with their causes (abort, signals from outside,
// limits, a malformed conversation), replacement with and without a job, restart backoff, stop.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include <pgxq/plugin.h>

#include "isolation/protocol.hpp"
#include "isolation/worker_pool.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::isolation;
using namespace std::chrono_literals;

namespace {

// A logger writing into a string (thread-safe: the pool's supervisor logs too).
struct Log {
  std::shared_ptr<std::ostringstream> out = std::make_shared<std::ostringstream>();
  std::shared_ptr<spdlog::logger> logger;
  Log() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
    sink->set_pattern("%l %v");
    logger = std::make_shared<spdlog::logger>("pool-test", sink);
    logger->set_level(spdlog::level::trace);
    logger->flush_on(spdlog::level::trace);
  }
  std::string text() const {
    logger->flush();
    return out->str();
  }
};

// The testkit plugin, opened as the loader would hand it over.
struct PluginFd {
  std::string path = test::plugin_dir() + "/testkit.so";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ~PluginFd() {
    if (fd >= 0) ::close(fd);
  }
};

PoolOptions options(const PluginFd& plugin, int processes, const Log& log, Limits limits = {}) {
  PoolOptions o;
  o.plugin_name = "testkit";
  o.plugin_path = plugin.path;
  o.plugin_fd = plugin.fd;
  o.executable = test::bin_dir() + "/pgxqd";
  o.setup.plugin_name = "testkit";
  o.setup.plugin_path = plugin.path;
  o.processes = processes;
  o.limits = limits;
  o.start_timeout = 60s;
  o.log = log.logger;
  return o;
}

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// A lease within a deadline (a test failure rather than a hang when none comes).
WorkerLease lease(WorkerPool& pool) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  auto got = pool.acquire([&] { return std::chrono::steady_clock::now() > deadline; });
  REQUIRE(got);
  return std::move(*got);
}

// Sends `kind` as a job and serves the worker until its outcome; nullopt when the channel closed
// first. SQL is refused (these kinds run none).
std::optional<OutcomeMessage> run_job(WorkerLease& w, const std::string& kind, const std::string& args = "{}") {
  static int64_t next_id = 1;
  JobMessage job;
  job.id = next_id++;
  job.kind = kind;
  job.queue = "default";
  job.args = args;
  job.attempt = 1;
  job.max_attempts = 5;
  w.start_job();
  try {
    w.channel().send(encode(job));
    for (;;) {
      auto frame = w.channel().receive(20ms, kMaxWorkerFrame);
      if (!frame) {
        if (auto cause = w.check_limits()) return std::nullopt;
        continue;
      }
      switch (static_cast<MessageType>(frame->type)) {
        case MessageType::outcome: return decode_outcome(*frame);
        case MessageType::exec: w.channel().send(encode(ExecError{PGXQ_PLUGIN_E_SQL, "no SQL in this test", ""})); break;
        default: break;  // logs
      }
    }
  } catch (const ChannelClosed&) {
    return std::nullopt;
  }
}

// Reads until the worker's channel closes (it was killed from outside).
void wait_closed(WorkerLease& w) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  try {
    while (std::chrono::steady_clock::now() < deadline) w.channel().receive(20ms, kMaxWorkerFrame);
  } catch (const ChannelClosed&) {
    return;
  }
  FAIL("the worker's channel did not close");
}

std::string environ_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("pool: starts its processes, and the first one's Hello names the plugin and its kinds") {
  PluginFd plugin;
  REQUIRE(plugin.fd >= 0);
  Log log;
  WorkerPool pool(options(plugin, 3, log));
  CHECK(pool.hello().name == "testkit");
  CHECK(pool.hello().version == "1.0.0");
  CHECK(pool.hello().protocol == kProtocolVersion);
  const std::set<std::string> kinds(pool.hello().kinds.begin(), pool.hello().kinds.end());
  CHECK(kinds.count("noop") == 1);
  CHECK(kinds.count("abort") == 1);
  CHECK(test::wait_until([&] { return pool.stats().idle == 3; }));
  auto stats = pool.stats();
  CHECK(stats.processes == 3);
  CHECK(stats.started == 3);
  CHECK(stats.died == 0);
  CHECK(test::occurrences(log.text(), "plugin testkit: worker process ") >= 3);
  CHECK(log.text().find(" started") != std::string::npos);
}

TEST_CASE("pool: a worker runs a job and goes back, and its process is its own, without PG variables") {
  PluginFd plugin;
  Log log;
  ::setenv("PGXQ_POOL_TEST_SECRET", "do not pass on", 1);
  WorkerPool pool(options(plugin, 1, log));
  ::unsetenv("PGXQ_POOL_TEST_SECRET");
  auto w = lease(pool);
  const pid_t pid = w.pid();
  CHECK(pid > 0);
  CHECK(pool.stats().busy == 1);
  CHECK(environ_of(pid).find("PGXQ_POOL_TEST_SECRET") == std::string::npos);
  CHECK(::getpgid(pid) == pid);
  auto outcome = run_job(w, "noop");
  REQUIRE(outcome);
  CHECK(outcome->code == PGXQ_OUTCOME_COMPLETE);
  CHECK_FALSE(w.finish());
  CHECK(pool.stats().idle == 1);
  auto again = lease(pool);
  CHECK(again.pid() == pid);  // the same worker serves the next job
  auto discarded = run_job(again, "discard", R"({"message":"nope"})");
  REQUIRE(discarded);
  CHECK(discarded->code == PGXQ_OUTCOME_DISCARD);
  CHECK(discarded->message == std::optional<std::string>("nope"));
  CHECK_FALSE(again.finish());
}

TEST_CASE("pool: a worker that aborts is reaped with its cause and replaced, and the others keep serving") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 2, log));
  REQUIRE(test::wait_until([&] { return pool.stats().idle == 2; }));
  auto w = lease(pool);
  const pid_t pid = w.pid();
  CHECK_FALSE(run_job(w, "abort"));
  CHECK(w.retire("closed its channel") == "worker process died: signal 6 (SIGABRT)");
  CHECK(gone(pid));
  CHECK(pool.stats().died == 1);
  auto other = lease(pool);  // the other worker, or the replacement
  CHECK(other.pid() != pid);
  auto outcome = run_job(other, "noop");
  REQUIRE(outcome);
  CHECK(outcome->code == PGXQ_OUTCOME_COMPLETE);
  CHECK_FALSE(other.finish());
  CHECK(test::wait_until([&] { return pool.stats().idle == 2 && pool.stats().started == 3; }));
}

TEST_CASE("pool: deaths by signals from outside are told by name") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  for (auto [sig, cause] : {std::pair{SIGSEGV, "worker process died: signal 11 (SIGSEGV)"},
                            std::pair{SIGKILL, "worker process died: signal 9 (SIGKILL)"}}) {
    auto w = lease(pool);
    const pid_t pid = w.pid();
    w.start_job();
    JobMessage job;
    job.id = 1;
    job.kind = "hang";
    job.queue = "default";
    job.args = R"({"ms": 600000})";
    w.channel().send(encode(job));
    ::kill(pid, sig);
    wait_closed(w);
    CHECK(w.retire("closed its channel") == cause);
    CHECK(gone(pid));
  }
}

TEST_CASE("pool: a worker alive when retired (a malformed message) is killed, and the cause says so") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  auto w = lease(pool);
  const pid_t pid = w.pid();
  CHECK(w.retire("sent a malformed message (a test's)") == "worker process sent a malformed message (a test's); killed");
  CHECK(gone(pid));
  CHECK(test::wait_until([&] { return pool.stats().idle == 1; }));
}

TEST_CASE("pool: a lease dropped without finish() or retire() retires its worker") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  pid_t pid;
  {
    auto w = lease(pool);
    pid = w.pid();
  }
  CHECK(gone(pid));
  CHECK(pool.stats().died == 1);
  CHECK(test::wait_until([&] { return pool.stats().idle == 1; }));
}

TEST_CASE("pool: a memory limit below what a worker uses kills it at the first check") {
  PluginFd plugin;
  Log log;
  Limits limits;
  limits.memory_bytes = 1 << 20;  // any pgxqd process is larger
  WorkerPool pool(options(plugin, 1, log, limits));
  auto w = lease(pool);
  const pid_t pid = w.pid();
  w.start_job();
  CHECK(w.check_limits() == std::optional<std::string>("killed: memory limit 1 MiB"));
  CHECK(w.retire("closed its channel") == "killed: memory limit 1 MiB");
  CHECK(gone(pid));
}

// The backstop: RLIMIT_AS above the worker's address space by the limit and 64 MiB.
TEST_CASE("pool: with a memory limit, a started worker's address space is capped above its size by the limit") {
  PluginFd plugin;
  Log log;
  Limits limits;
  limits.memory_bytes = 256ull << 20;
  WorkerPool pool(options(plugin, 1, log, limits));
  auto w = lease(pool);
  rlimit rl{};
  REQUIRE(::prlimit(w.pid(), RLIMIT_AS, nullptr, &rl) == 0);
  REQUIRE(rl.rlim_cur != RLIM_INFINITY);
  std::ifstream statm("/proc/" + std::to_string(w.pid()) + "/statm");
  uint64_t pages = 0;
  statm >> pages;
  const uint64_t vsz = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  CHECK(rl.rlim_cur > limits.memory_bytes);
  CHECK(rl.rlim_cur >= vsz + limits.memory_bytes);  // what it has now and the limit, at least
  CHECK_FALSE(w.finish());
  WorkerPool unlimited(options(plugin, 1, log));
  auto u = lease(unlimited);
  REQUIRE(::prlimit(u.pid(), RLIMIT_AS, nullptr, &rl) == 0);
  CHECK(rl.rlim_cur == RLIM_INFINITY);
  CHECK_FALSE(u.finish());
}

TEST_CASE("pool: a peak over the memory limit found at finish() retires the worker instead of giving it back") {
  PluginFd plugin;
  Log log;
  Limits limits;
  limits.memory_bytes = 1 << 20;
  WorkerPool pool(options(plugin, 1, log, limits));
  auto w = lease(pool);
  const pid_t pid = w.pid();
  CHECK(w.finish() == std::optional<std::string>("killed: memory limit 1 MiB"));
  CHECK(gone(pid));
  CHECK(pool.stats().died == 1);
}

TEST_CASE("pool: without limits, checks never kill") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  auto w = lease(pool);
  w.start_job();
  CHECK_FALSE(w.check_limits());
  auto outcome = run_job(w, "sleep", R"({"ms": 50})");
  REQUIRE(outcome);
  CHECK_FALSE(w.finish());
}

TEST_CASE("pool: an idle worker that dies is replaced without waiting for a job") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  pid_t pid;
  {
    auto w = lease(pool);
    pid = w.pid();
    CHECK_FALSE(w.finish());
  }
  ::kill(pid, SIGKILL);
  CHECK(test::wait_until([&] { return pool.stats().started == 2 && pool.stats().idle == 1; }));
  CHECK(gone(pid));
  CHECK(log.text().find("plugin testkit: worker process " + std::to_string(pid) +
                        " ended while idle: worker process died: signal 9 (SIGKILL)") != std::string::npos);
}

TEST_CASE("pool: workers that keep dying are restarted with backoff, logged once per step") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  for (int i = 0; i < 4; ++i) {
    auto w = lease(pool);
    ::kill(w.pid(), SIGKILL);
    wait_closed(w);
    CHECK(w.retire("closed its channel") == "worker process died: signal 9 (SIGKILL)");
  }
  const std::string text = log.text();
  CHECK(test::occurrences(text, "3 worker processes died in a row in slot 1 of 1 with no job finished in between; starting the next one there in 250ms") == 1);
  CHECK(test::occurrences(text, "4 worker processes died in a row in slot 1 of 1 with no job finished in between; starting the next one there in 500ms") == 1);
  // Still replaced, and a finished job ends the run of deaths.
  auto w = lease(pool);
  auto outcome = run_job(w, "noop");
  REQUIRE(outcome);
  CHECK_FALSE(w.finish());
  auto next = lease(pool);
  ::kill(next.pid(), SIGKILL);
  wait_closed(next);
  next.retire("closed its channel");
  CHECK(test::occurrences(log.text(), "died in a row") == 2);  // one death after a job: no backoff
}

TEST_CASE("pool: acquire gives up when asked while every worker is busy") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 1, log));
  auto w = lease(pool);
  int asked = 0;
  CHECK_FALSE(pool.acquire([&] { return ++asked >= 3; }));
  CHECK(asked == 3);
  CHECK_FALSE(w.finish());
}

TEST_CASE("pool: stop shuts the workers down, leaves no process, and lends nothing after") {
  PluginFd plugin;
  Log log;
  WorkerPool pool(options(plugin, 3, log));
  REQUIRE(test::wait_until([&] { return pool.stats().idle == 3; }));
  std::vector<pid_t> pids;
  {
    std::vector<WorkerLease> all;
    for (int i = 0; i < 3; ++i) all.push_back(lease(pool));
    for (auto& w : all) {
      pids.push_back(w.pid());
      CHECK_FALSE(w.finish());
    }
  }
  pool.stop(10s);
  for (pid_t pid : pids) CHECK(gone(pid));
  CHECK(pool.stats().processes == 0);
  CHECK_FALSE(pool.acquire({}));
  pool.stop();  // idempotent
}

TEST_CASE("pool: a worker that refuses to start makes the pool's constructor fail with why") {
  PluginFd plugin;
  Log log;
  auto o = options(plugin, 2, log);
  o.setup.plugin_name = "not_testkit";  // the descriptor's name must match
  try {
    WorkerPool pool(std::move(o));
    FAIL("a pool started with a worker that refused its Setup");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("not_testkit") != std::string::npos);
  }
  auto missing = options(plugin, 1, log);
  missing.executable = "/nonexistent/pgxqd";
  try {
    WorkerPool pool(std::move(missing));
    FAIL("a pool started without an executable");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot start a plugin worker process (/nonexistent/pgxqd)") != std::string::npos);
  }
}
