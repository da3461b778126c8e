// The worker pool's pure parts and its spawner, without a worker: the cause texts a job's
// error column gets, the /proc parsers the limits rely on, and what a spawned process starts
// with (descriptors 3-5, empty signal mask, default dispositions, own process group, no PG*
// variables), seen by a shell script put in the worker's place.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <string>

#include "isolation/death_cause.hpp"
#include "isolation/process_stats.hpp"
#include "isolation/protocol.hpp"
#include "isolation/spawn.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::isolation;
using namespace std::chrono_literals;

namespace {

int status_of_signal(int sig) {
  pid_t pid = fork();
  if (pid == 0) {
    signal(sig, SIG_DFL);
    // No core file for the test: the status says the same without it.
    struct rlimit none {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    raise(sig);
    _exit(100);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

int status_of_exit(int code) {
  pid_t pid = fork();
  if (pid == 0) _exit(code);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("death cause: signals by number and name, exit statuses") {
  CHECK(death_cause(status_of_signal(SIGSEGV)) == "worker process died: signal 11 (SIGSEGV)");
  CHECK(death_cause(status_of_signal(SIGABRT)) == "worker process died: signal 6 (SIGABRT)");
  CHECK(death_cause(status_of_signal(SIGKILL)) == "worker process died: signal 9 (SIGKILL)");
  CHECK(death_cause(status_of_exit(3)) == "worker process exited with status 3");
  CHECK(death_cause(status_of_exit(0)) == "worker process exited with status 0");
  CHECK(signal_text(SIGBUS) == "signal 7 (SIGBUS)");
}

TEST_CASE("death cause: limits in MiB when whole, else bytes, and CPU in its largest whole unit") {
  CHECK(memory_limit_cause(256ull << 20) == "killed: memory limit 256 MiB");
  CHECK(memory_limit_cause(512ull << 20) == "killed: memory limit 512 MiB");
  CHECK(memory_limit_cause(1ull << 30) == "killed: memory limit 1024 MiB");
  CHECK(memory_limit_cause(1000) == "killed: memory limit 1000 bytes");
  CHECK(memory_limit_cause((1ull << 20) + 1) == "killed: memory limit 1048577 bytes");
  CHECK(cpu_limit_cause(1s) == "killed: cpu limit 1s");
  CHECK(cpu_limit_cause(2s) == "killed: cpu limit 2s");
  CHECK(cpu_limit_cause(1500ms) == "killed: cpu limit 1500ms");
  CHECK(cpu_limit_cause(5min) == "killed: cpu limit 5m");
  CHECK(cpu_limit_cause(1h) == "killed: cpu limit 1h");
  CHECK(killed_alive_cause("sent a malformed message (truncated Outcome)") ==
        "worker process sent a malformed message (truncated Outcome); killed");
}

TEST_CASE("process stats: the /proc parsers") {
  CHECK(parse_statm_resident("1000 250 100 10 0 500 0\n", 4096) == 250u * 4096);
  CHECK(parse_statm_size("1000 250 100 10 0 500 0\n", 4096) == 1000u * 4096);
  CHECK_FALSE(parse_statm_resident("", 4096));
  CHECK_FALSE(parse_statm_resident("12", 4096));
  // A command name holding ") " and spaces: the fields count from the last ')'.
  const std::string stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0 100 0 0\n";
  CHECK(parse_stat_cpu_ticks(stat) == 42u);
  CHECK_FALSE(parse_stat_cpu_ticks("4242 (x) S 1 2"));
  CHECK_FALSE(parse_stat_cpu_ticks("no parenthesis"));
  CHECK(parse_status_vmhwm("Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n") == 1234u * 1024);
  CHECK_FALSE(parse_status_vmhwm("Name:\tx\n"));
  CHECK_FALSE(parse_status_vmhwm("VmHWM:\t12 MB\n"));
}

TEST_CASE("process stats: readings of this very process, and none of a process that is gone") {
  auto rss = resident_bytes(getpid());
  REQUIRE(rss);
  CHECK(*rss > 0);
  auto peak = peak_resident_bytes(getpid());
  REQUIRE(peak);
  CHECK(*peak >= *rss / 2);  // sampled at different moments: only the order of magnitude
  // Burn a little CPU: the reading grows (never checked against a time, only against itself).
  auto before = cpu_time(getpid());
  REQUIRE(before);
  volatile uint64_t x = 0;
  CHECK(test::wait_until([&] {
    for (int i = 0; i < 1000000; ++i) x = x + i;
    auto now = cpu_time(getpid());
    return now && *now > *before;
  }));
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  CHECK_FALSE(resident_bytes(child));
  CHECK_FALSE(cpu_time(child));
  CHECK_FALSE(peak_resident_bytes(child));
}

TEST_CASE("spawn: the environment loses PG* and PGXQ_* variables and keeps the rest") {
  std::string a = "PGPASSWORD=secret", b = "PGXQD_DATABASE_URL=postgres://x", c = "HOME=/home/x", d = "LANG=C",
              e = "XPGFOO=kept";
  char* env[] = {a.data(), b.data(), c.data(), d.data(), e.data(), nullptr};
  CHECK(worker_environment(env) == std::vector<std::string>{"HOME=/home/x", "LANG=C", "XPGFOO=kept"});
}

TEST_CASE("spawn: a worker starts with descriptors 3-5, an empty signal mask, default dispositions, its own group") {
  const std::string dir = test::temp_dir("pool-spawn");
  const std::string script = dir + "/worker.sh";
  // Reports on its channel (fd 3) what it was given, then exits.
  test::write_file(script,
                   "#!/bin/sh\n"
                   "# First, with builtins only: the shell blocks signals around its own forks.\n"
                   "while read -r k v; do case \"$k\" in SigBlk:|SigIgn:) echo \"$k $v\" >&3;; esac; done "
                   "</proc/$$/status\n"
                   "{\n"
                   "  echo \"argv: $1 $2\"\n"
                   "  echo \"fd3: $(readlink /proc/$$/fd/3 | cut -d: -f1)\"\n"
                   "  echo \"fd4: $(readlink /proc/$$/fd/4)\"\n"
                   "  echo \"fd5: $(readlink /proc/$$/fd/5)\"\n"
                   "  echo \"pgrp: $(cut -d')' -f2 /proc/$$/stat | cut -d' ' -f4) self: $$\"\n"
                   "  echo \"pg-env: $(env | grep -c '^PG')\"\n"
                   "} >&3\n");
  ::chmod(script.c_str(), 0755);
  const std::string plugin = dir + "/plugin.so";
  test::write_file(plugin, "not really a plugin");
  int plugin_fd = ::open(plugin.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(plugin_fd >= 0);
  int shared_fd = ::memfd_create("pgxq-test-state", MFD_CLOEXEC);
  REQUIRE(shared_fd >= 0);

  // What the daemon has that a worker must not: a blocked signal, an ignored one, a PG variable.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto old_usr2 = signal(SIGUSR2, SIG_IGN);
  ::setenv("PGXQ_POOL_TEST_SECRET", "x", 1);

  Spawned sp = spawn_worker(script, shared_fd, plugin_fd);

  ::unsetenv("PGXQ_POOL_TEST_SECRET");
  signal(SIGUSR2, old_usr2);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  REQUIRE(sp.pid > 0);
  CHECK((::fcntl(sp.channel_fd, F_GETFD) & FD_CLOEXEC) != 0);
  std::string report;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(sp.channel_fd, buf, sizeof buf);
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  ::close(sp.channel_fd);
  int status = 0;
  REQUIRE(::waitpid(sp.pid, &status, 0) == sp.pid);
  CHECK(WIFEXITED(status));
  INFO(report);
  CHECK(report.find("argv: " + std::string(kWorkerCommand) + " " + std::to_string(getpid()) + "\n") != std::string::npos);
  CHECK(report.find("fd3: socket\n") != std::string::npos);
  CHECK(report.find("fd4: /memfd:pgxq-test-state") != std::string::npos);
  CHECK(report.find("fd5: " + plugin + "\n") != std::string::npos);
  CHECK(report.find("pgrp: " + std::to_string(sp.pid) + " self: " + std::to_string(sp.pid) + "\n") != std::string::npos);
  CHECK(report.find("SigBlk: 0000000000000000\n") != std::string::npos);
  // The standard signals at their defaults (glibc's posix_spawn leaves its own internal
  // real-time signals, 32 and 33, ignored in the child; the program's libc sets them up again).
  auto at = report.find("SigIgn: ");
  REQUIRE(at != std::string::npos);
  const unsigned long long ignored = std::stoull(report.substr(at + 8, 16), nullptr, 16);
  CHECK((ignored & 0x7fffffffull) == 0);  // bit n-1 is signal n: signals 1-31
  CHECK(report.find("pg-env: 0\n") != std::string::npos);
  ::close(plugin_fd);
  ::close(shared_fd);
  std::filesystem::remove_all(dir);
}

TEST_CASE("spawn: an executable that cannot run is an error, not a worker") {
  int shared_fd = ::memfd_create("pgxq-test-state", MFD_CLOEXEC);
  int plugin_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  try {
    spawn_worker("/nonexistent/pgxqd", shared_fd, plugin_fd);
    FAIL("spawned a worker from a file that does not exist");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()).find("cannot start a plugin worker process (/nonexistent/pgxqd)") != std::string::npos);
  }
  ::close(shared_fd);
  ::close(plugin_fd);
}
