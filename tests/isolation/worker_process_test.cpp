// The worker process itself (`pgxqd __plugin-worker`, isolation/worker_main + worker_host),
// driven by this test in the daemon's place over the same descriptors the pool hands it: Setup →
// Hello with the plugin's kinds; jobs → outcomes with their messages; the job's SQL served from
// here in a real transaction (rows and errors); the job log; should_stop through the shared
// flag; a mistyped setting refused at the line Setup said it was written on; a plugin whose
// descriptor names another plugin refused; Shutdown and EOF end it with status 0; nonsense from
// the daemon and a wrong parent end it with its own statuses.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <pgxq/plugin.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "isolation/protocol.hpp"
#include "support.hpp"

extern char** environ;

using namespace pgxq::isolation;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

int high_dup(int fd) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
  REQUIRE(d >= 0);
  return d;
}

// One worker process of `plugin` (a file in build/plugins), started as the pool starts one.
class Worker {
public:
  explicit Worker(const std::string& plugin_file, std::optional<pid_t> claimed_parent = std::nullopt) {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int memfd = ::memfd_create("pgxq-test-shared", MFD_CLOEXEC);
    REQUIRE(memfd >= 0);
    REQUIRE(::ftruncate(memfd, sizeof(SharedState)) == 0);
    void* m = ::mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    REQUIRE(m != MAP_FAILED);
    shared_ = new (m) SharedState();
    int plugin_fd = ::open(plugin_file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(plugin_fd >= 0);

    // Above every descriptor the file actions write, so that no dup2 clobbers a source.
    int fds[3] = {high_dup(sv[1]), high_dup(memfd), high_dup(plugin_fd)};
    ::close(sv[1]);
    ::close(memfd);
    ::close(plugin_fd);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], kChannelFd);
    posix_spawn_file_actions_adddup2(&actions, fds[1], kSharedFd);
    posix_spawn_file_actions_adddup2(&actions, fds[2], kPluginFd);
    const std::string exe = bin_dir() + "/pgxqd";
    const std::string parent = std::to_string(claimed_parent.value_or(::getpid()));
    std::vector<char*> argv{const_cast<char*>(exe.c_str()), const_cast<char*>(kWorkerCommand),
                            const_cast<char*>(parent.c_str()), nullptr};
    int rc = ::posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    for (int fd : fds) ::close(fd);
    REQUIRE(rc == 0);
    channel_.emplace(sv[0]);
  }

  ~Worker() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::munmap(shared_, sizeof(SharedState));
  }

  pid_t pid() const { return pid_; }
  Channel& channel() { return *channel_; }
  void set_stop(bool stop) { shared_->stop.store(stop ? 1 : 0); }
  void close_channel() { channel_.reset(); }

  void send(const Frame& f) { channel_->send(f); }

  // The next frame within a minute (the worker's own pace; no assertion on time).
  Frame next() {
    for (int i = 0; i < 3000; ++i) {
      if (auto f = channel_->receive(20ms, kMaxWorkerFrame)) return *f;
    }
    FAIL("no frame from the worker within a minute");
    return {};
  }

  // The worker's exit status (or 128 + signal), waiting up to a minute.
  int wait_exit() {
    if (status_) return *status_;
    int st = 0;
    bool done = wait_until(
        [&] {
          pid_t r = ::waitpid(pid_, &st, WNOHANG);
          return r == pid_;
        },
        60s);
    REQUIRE(done);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return *status_;
  }

private:
  pid_t pid_ = -1;
  SharedState* shared_ = nullptr;
  std::optional<Channel> channel_;
  std::optional<int> status_;
};

Setup setup_for(const std::string& name, const std::string& settings = "") {
  Setup s;
  s.plugin_name = name;
  s.plugin_path = plugin_dir() + "/" + name + ".so";
  s.settings_toml = settings;
  s.log_level = 0;
  return s;
}

JobMessage job(int64_t id, const std::string& kind, const std::string& args = "{}") {
  JobMessage j;
  j.id = id;
  j.kind = kind;
  j.queue = "default";
  j.args = args;
  j.attempt = 1;
  j.max_attempts = 5;
  return j;
}

bool is(const Frame& f, MessageType t) { return f.type == static_cast<uint16_t>(t); }

Hello hello_of(Worker& w) {
  Frame f = w.next();
  if (is(f, MessageType::init_failed)) FAIL("init failed: " << decode_init_failed(f).message);
  REQUIRE(is(f, MessageType::hello));
  return decode_hello(f);
}

OutcomeMessage outcome_of(Worker& w) {
  for (;;) {
    Frame f = w.next();
    if (is(f, MessageType::outcome)) return decode_outcome(f);
    REQUIRE_MESSAGE((is(f, MessageType::job_log) || is(f, MessageType::plugin_log)),
                    "unexpected " << type_name(f.type));
  }
}

}  // namespace

TEST_CASE("worker process: Hello with the plugin's kinds, outcomes with their messages, Shutdown exits 0") {
  Worker w(plugin_dir() + "/testkit.so");
  w.send(encode(setup_for("testkit")));
  Hello h = hello_of(w);
  CHECK(h.protocol == kProtocolVersion);
  CHECK(h.pid == w.pid());
  CHECK(h.name == "testkit");
  CHECK(h.abi_major == 1);
  for (const char* kind : {"noop", "fail", "discard", "throw", "record", "sleep"})
    CHECK(std::find(h.kinds.begin(), h.kinds.end(), kind) != h.kinds.end());

  w.send(encode(job(1, "noop")));
  OutcomeMessage o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_COMPLETE);

  w.send(encode(job(2, "fail", R"({"message": "boom"})")));
  o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_RETRY);
  CHECK(o.message == std::optional<std::string>("boom"));

  w.send(encode(job(3, "discard", R"({"message": "no"})")));
  o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_DISCARD);
  CHECK(o.message == std::optional<std::string>("no"));

  w.send(encode(job(4, "throw", R"({"message": "thrown"})")));
  o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_RETRY);
  REQUIRE(o.message.has_value());
  CHECK(o.message->find("thrown") != std::string::npos);

  w.send(encode(job(5, "no_such_kind")));
  o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_RETRY);
  REQUIRE(o.message.has_value());
  CHECK(o.message->find("no_such_kind") != std::string::npos);

  w.send(encode(Shutdown{}));
  CHECK(w.wait_exit() == 0);
}

TEST_CASE("worker process: the job's SQL is served by the daemon side, rows and errors") {
  auto conn = connect();
  const std::string table = unique_name("iso_worker_rec");
  conn.exec("CREATE TABLE " + table + " (job_id bigint, value text)", {});
  Worker w(plugin_dir() + "/testkit.so");
  w.send(encode(setup_for("testkit")));
  hello_of(w);

  // The record job's INSERT arrives as an Exec; run it here and answer with its rows.
  w.send(encode(job(42, "record", R"({"table": ")" + table + R"(", "value": "v42"})")));
  Frame f = w.next();
  REQUIRE(is(f, MessageType::exec));
  Exec x = decode_exec(f);
  CHECK(x.sql.find("INSERT INTO") != std::string::npos);
  REQUIRE(x.params.size() == 2);
  CHECK(x.params[0] == std::optional<std::string>("42"));
  CHECK(x.params[1] == std::optional<std::string>("v42"));
  std::vector<pgxq::pg::Param> params;
  for (const auto& p : x.params) params.push_back(p ? pgxq::pg::Param(std::string_view(*p)) : pgxq::pg::Param());
  auto result = conn.exec(x.sql, std::span<const pgxq::pg::Param>(params));
  Rows rows;
  rows.affected = result.affected();
  w.send(encode(rows));
  OutcomeMessage o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_COMPLETE);
  CHECK(scalar(conn, "SELECT count(*) FROM " + table + " WHERE job_id = 42 AND value = 'v42'") == 1);

  // The same statement refused: the plugin sees the error (message and SQLSTATE) and retries.
  w.send(encode(job(43, "record", R"({"table": ")" + table + R"(", "value": "v43"})")));
  f = w.next();
  REQUIRE(is(f, MessageType::exec));
  w.send(encode(ExecError{PGXQ_PLUGIN_E_SQL, "duplicate key value violates unique constraint \"x\"", "23505"}));
  o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_RETRY);
  REQUIRE(o.message.has_value());
  CHECK(o.message->find("duplicate key value") != std::string::npos);

  w.send(encode(Shutdown{}));
  CHECK(w.wait_exit() == 0);
  conn.exec("DROP TABLE " + table, {});
}

TEST_CASE("worker process: should_stop follows the shared flag, and the job log travels with its level") {
  Worker w(plugin_dir() + "/testkit.so");
  w.send(encode(setup_for("testkit")));
  hello_of(w);
  w.send(encode(job(7, "sleep", R"({"ms": 3600000})")));
  w.set_stop(true);
  OutcomeMessage o = outcome_of(w);
  CHECK(o.code == PGXQ_OUTCOME_RETRY);
  CHECK(o.message == std::optional<std::string>("cancelled"));
  w.set_stop(false);
  w.close_channel();  // EOF: the daemon let go of the worker
  CHECK(w.wait_exit() == 0);

  Worker hc(plugin_dir() + "/hello_c.so");
  hc.send(encode(setup_for("hello_c", "greeting = \"Howdy\"\n")));
  Hello h = hello_of(hc);
  CHECK(h.kinds == std::vector<std::string>{"hello"});
  hc.send(encode(job(8, "hello", R"({"name": "Ada"})")));
  Frame f = hc.next();
  REQUIRE(is(f, MessageType::job_log));
  JobLog l = decode_job_log(f);
  CHECK(l.level == PGXQ_LOG_INFO);
  CHECK(l.message == "Howdy, Ada!");  // the daemon adds "plugin hello_c: "
  CHECK(outcome_of(hc).code == PGXQ_OUTCOME_COMPLETE);

  // Below Setup's log level nothing is sent.
  Worker quiet(plugin_dir() + "/hello_c.so");
  Setup s = setup_for("hello_c");
  s.log_level = PGXQ_LOG_WARN;
  quiet.send(encode(s));
  hello_of(quiet);
  quiet.send(encode(job(9, "hello", R"({"name": "Bob"})")));
  Frame only = quiet.next();
  CHECK(is(only, MessageType::outcome));
}

TEST_CASE("worker process: a mistyped setting is refused at the line Setup recorded, status 78") {
  Worker w(plugin_dir() + "/hello_c.so");
  Setup s = setup_for("hello_c", "\n\n\ngreeting = 5\n");
  s.config_file = "/etc/pgxqd/pgxqd.toml";
  s.setting_lines = {{"greeting", 12}};
  w.send(encode(s));
  Frame f = w.next();
  REQUIRE(is(f, MessageType::init_failed));
  const std::string m = decode_init_failed(f).message;
  INFO(m);
  CHECK(m.find("plugin hello_c (" + plugin_dir() + "/hello_c.so): init failed: ") == 0);
  CHECK(m.find("setting \"greeting\" must be a string, found an integer (/etc/pgxqd/pgxqd.toml:line 12)") !=
        std::string::npos);
  CHECK(w.wait_exit() == 78);
}

TEST_CASE("worker process: a descriptor naming another plugin is refused") {
  Worker w(plugin_dir() + "/testkit.so");
  w.send(encode(setup_for("other")));
  Frame f = w.next();
  REQUIRE(is(f, MessageType::init_failed));
  const std::string m = decode_init_failed(f).message;
  INFO(m);
  CHECK(m.find("names itself \"testkit\" in its descriptor, not \"other\"") != std::string::npos);
  CHECK(m.find("rename it to testkit.so") != std::string::npos);
  CHECK(w.wait_exit() == 78);
}

TEST_CASE("worker process: nonsense from the daemon, another protocol, or a wrong parent") {
  {
    Worker w(plugin_dir() + "/testkit.so");
    w.send(encode(setup_for("testkit")));
    hello_of(w);
    w.send(encode(Hello{}));  // a daemon never sends a Hello
    CHECK(w.wait_exit() == 70);
  }
  {
    Worker w(plugin_dir() + "/testkit.so");
    Setup s = setup_for("testkit");
    s.protocol = kProtocolVersion + 1;
    w.send(encode(s));
    Frame f = w.next();
    REQUIRE(is(f, MessageType::init_failed));
    CHECK(decode_init_failed(f).message.find("protocol") != std::string::npos);
    CHECK(w.wait_exit() == 78);
  }
  {
    // Started by someone claiming another parent: it leaves at once (the daemon may be gone).
    Worker w(plugin_dir() + "/testkit.so", ::getpid() + 100000);
    CHECK(w.wait_exit() == 71);
  }
}
