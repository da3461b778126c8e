// Every testkit kind through the loader and a direct handler call with a job context over a
// real transaction. The kinds and their args are an interface: these tests pin them.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using queue::OutcomeCode;

namespace {

struct Testkit : LoadedPluginDir {
  Testkit() {
    dir.add_plugin("testkit");
    load();
  }
};

// A table for `record`, dropped at scope exit.
struct RecordTable {
  explicit RecordTable(pg::Connection& c) : conn(c), name(unique_name("rec")) {
    conn.exec("CREATE TABLE " + name + " (job_id bigint NOT NULL, value text)");
  }
  ~RecordTable() {
    try {
      conn.exec("DROP TABLE IF EXISTS " + name);
    } catch (...) {
    }
  }
  int64_t rows() { return scalar(conn, "SELECT count(*) FROM " + name); }
  pg::Connection& conn;
  std::string name;
};

}  // namespace

TEST_CASE("testkit: noop completes") {
  Testkit t;
  auto o = t.run("noop");
  CHECK(o.code == OutcomeCode::complete);
}

TEST_CASE("testkit: sleep completes") {
  Testkit t;
  CHECK(t.run("sleep", R"({"ms": 30})").code == OutcomeCode::complete);
  CHECK(t.run("sleep").code == OutcomeCode::complete);  // no ms: no wait
}

TEST_CASE("testkit: sleep retries with \"cancelled\" when told to stop") {
  Testkit t;
  TxContext ctx(t.conn);
  ctx.stop = true;
  auto o = call(t.loaded, make_job("sleep", R"({"ms": 600000})"), ctx);
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "cancelled");
}

TEST_CASE("testkit: sleep notices should-stop raised while it sleeps") {
  Testkit t;
  struct LateStop : TxContext {
    using TxContext::TxContext;
    bool should_stop() const noexcept override { return ++polls > 3; }
    mutable int polls = 0;
  } ctx(t.conn);
  auto o = call(t.loaded, make_job("sleep", R"({"ms": 600000})"), ctx);
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "cancelled");
  CHECK(ctx.polls == 4);
}

TEST_CASE("testkit: fail retries while attempt <= times, then completes") {
  Testkit t;
  auto args = R"({"times": 2, "message": "boom"})";
  auto o = t.run("fail", args, 1);
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "boom");
  CHECK(t.run("fail", args, 2).code == OutcomeCode::retry);
  CHECK(t.run("fail", args, 3).code == OutcomeCode::complete);
}

TEST_CASE("testkit: fail without times always fails, default message \"fail\"") {
  Testkit t;
  auto o = t.run("fail", "{}", 100);
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "fail");
}

TEST_CASE("testkit: discard discards with its message") {
  Testkit t;
  auto o = t.run("discard", R"({"message": "bye"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message == "bye");
  CHECK(t.run("discard").message == "discard");
}

TEST_CASE("testkit: throw is caught at the boundary and is a failed attempt named by its type") {
  Testkit t;
  auto o = t.run("throw", R"({"message": "kaboom"})");
  CHECK(o.code == OutcomeCode::retry);  // retried with the daemon's backoff
  CHECK(o.message == "std::runtime_error: kaboom");
  CHECK_FALSE(o.delay.has_value());
}

TEST_CASE("testkit: bad args are a discard naming the key") {
  Testkit t;
  auto o = t.run("sleep", R"({"ms": "soon"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message == "args: \"ms\" must be an integer, got a string");
  o = t.run("record", R"({"value": "x"})");
  CHECK(o.message == "args: \"table\" is required but missing or null");
  o = t.run("noop", "not json");  // noop never reads args
  CHECK(o.code == OutcomeCode::complete);
  o = t.run("discard", "[1,2]");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message.find("args: expected a JSON object") == 0);
}

TEST_CASE("testkit: record commits its row exactly when the job completes") {
  Testkit t;
  RecordTable table(t.conn);
  auto job = make_job("record", R"({"table": ")" + table.name + R"(", "value": "v1"})");
  TxContext ctx(t.conn);
  auto o = call(t.loaded, job, ctx);
  CHECK(o.code == OutcomeCode::complete);
  CHECK(table.rows() == 1);
  CHECK(scalar(t.conn, "SELECT job_id FROM " + table.name) == job.id);
  CHECK(scalar_text(t.conn, "SELECT value FROM " + table.name) == "v1");
}

TEST_CASE("testkit: record then fail / discard rolls its row back") {
  Testkit t;
  RecordTable table(t.conn);
  auto o = t.run("record", R"({"table": ")" + table.name + R"(", "value": "x", "then": "fail"})");
  CHECK(o.code == OutcomeCode::retry);
  o = t.run("record", R"({"table": ")" + table.name + R"(", "value": "x", "then": "discard"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(table.rows() == 0);
  o = t.run("record", R"({"table": ")" + table.name + R"(", "then": "complete"})");
  CHECK(o.code == OutcomeCode::complete);
  CHECK(table.rows() == 1);
  CHECK_FALSE(scalar_text(t.conn, "SELECT value FROM " + table.name).has_value());  // value omitted: NULL
}

TEST_CASE("testkit: record validates the table name and the then value") {
  Testkit t;
  auto o = t.run("record", R"({"table": "x; DROP TABLE y", "value": "v"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message.find("not a valid table name") != std::string::npos);
  o = t.run("record", R"({"table": "Upper", "value": "v"})");
  CHECK(o.code == OutcomeCode::discard);
  o = t.run("record", R"({"table": "a.b.c", "value": "v"})");
  CHECK(o.code == OutcomeCode::discard);
  o = t.run("record", R"({"table": "t", "then": "maybe"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message.find("\"then\" must be complete, fail or discard") != std::string::npos);
  o = t.run("record", R"({"table": "no_such_schema_x.t", "value": "v"})");
  CHECK(o.code == OutcomeCode::retry);  // a database error: retried
  CHECK(o.message.find("does not exist") != std::string::npos);
}

TEST_CASE("testkit: unknown_outcome is an error for the job") {
  Testkit t;
  auto o = t.run("unknown_outcome");
  CHECK(o.code == OutcomeCode::error);
  CHECK(o.message == "handler returned unknown outcome code 99");
}

// Runs `kind` in a forked child (after `prepare`, e.g. a resource limit) and returns its wait
// status: these kinds end their process, so they never run in the test's own.
static int run_in_child(Testkit& t, const std::string& kind, const std::string& args = "{}",
                 void (*prepare)() = nullptr) {
  auto handler = t.loaded.handlers().find(kind);
  REQUIRE(handler != t.loaded.handlers().end());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // doctest's crash handlers would report the child's death as a crashed test case.
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGXCPU}) ::signal(sig, SIG_DFL);
    if (prepare) prepare();
    struct NoDb : queue::JobContext {
      pg::Result exec(std::string_view, std::span<const pg::Param>) override { return {}; }
      bool should_stop() const noexcept override { return true; }  // the crashing kinds ignore it
      void log(queue::LogLevel, std::string_view) override {}
    } ctx;
    handler->second(make_job(kind, args), ctx);
    _exit(0);  // not reached
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

TEST_CASE("testkit: abort kills the process (run in a child, never in-process)") {
  Testkit t;
  int status = run_in_child(t, "abort");
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("testkit: segv dies of SIGSEGV") {
  Testkit t;
  int status = run_in_child(t, "segv");
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGSEGV);
}

TEST_CASE("testkit: exit ends the process with status 3, or the status its args give") {
  Testkit t;
  int status = run_in_child(t, "exit");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  status = run_in_child(t, "exit", R"({"status": 7})");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);
  CHECK(t.run("exit", R"({"status": "x"})").code == OutcomeCode::discard);  // bad args: no exit
}

TEST_CASE("testkit: oom allocates until an allocation fails (address space limited in the child)") {
  if (pgxq::test::kAddressSanitizer) {
    MESSAGE("not run in an AddressSanitizer build: its shadow memory does not fit under an address-space limit");
    return;
  }
  Testkit t;
  int status = run_in_child(t, "oom", "{}", [] {
    // Room for what the process already maps plus 64 MiB: the kind fills it, then aborts.
    rlimit as{};
    getrlimit(RLIMIT_AS, &as);
    std::string statm = read_file("/proc/self/statm");
    rlim_t pages = std::stoull(statm);
    rlim_t limit = pages * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (rlim_t{64} << 20);
    as.rlim_cur = limit;
    setrlimit(RLIMIT_AS, &as);
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("testkit: spin burns CPU until the CPU limit stops it (it never checks should-stop)") {
  Testkit t;
  int status = run_in_child(t, "spin", "{}", [] {
    rlimit cpu{1, 2};  // SIGXCPU after 1 s of CPU time, SIGKILL after 2 s
    setrlimit(RLIMIT_CPU, &cpu);
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGXCPU);
}
