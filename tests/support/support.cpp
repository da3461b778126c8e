// Test support implementation: see support.hpp.
#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <pgxq/client.h>

namespace pgxq::test {

std::string conninfo() {
  const char* url = std::getenv("PGXQ_TEST_DATABASE_URL");
  return url ? url : "";
}

pg::Connection connect() { return pg::Connection(conninfo()); }

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

TempTable::TempTable(const std::string& prefix) : name_(unique_name(prefix)) {
  auto conn = connect();
  pgxq_error err{};
  if (pgxq_migrate(conn.get(), name_.c_str(), &err) != 0)
    throw std::runtime_error(std::string("migrate failed: ") + err.message);
}

TempTable::~TempTable() {
  try {
    auto conn = connect();
    conn.exec("DROP TABLE IF EXISTS " + name_ + ", " + name_ + "_pause, " + name_ + "_cancel, " + name_ + "_periodic CASCADE");
    // Migration 2's trigger function and the version ledger outlive the table.
    conn.exec("DROP FUNCTION IF EXISTS " + name_ + "_notify()");
    conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1", {name_});
  } catch (...) {
  }
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(5ms);
  }
}

int64_t scalar(pg::Connection& conn, const std::string& sql, std::initializer_list<pg::Param> params) {
  auto r = conn.exec(sql, params);
  if (r.rows() == 0 || r.is_null(0, 0)) return 0;
  return r.int64(0, 0);
}

std::optional<std::string> scalar_text(pg::Connection& conn, const std::string& sql,
                                       std::initializer_list<pg::Param> params) {
  auto r = conn.exec(sql, params);
  if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
  return std::string(r.text(0, 0));
}

std::string with_test_isolation(const std::string& extra) {
  const char* mode = std::getenv("PGXQ_TEST_ISOLATION");
  if (!mode || !*mode || extra.find("isolation =") != std::string::npos) return extra;
  const std::string header = "[plugins.testkit]\n", line = std::string("isolation = \"") + mode + "\"\n";
  if (auto at = extra.find(header); at != std::string::npos)
    return extra.substr(0, at + header.size()) + line + extra.substr(at + header.size());
  return extra + "\n" + header + line;
}

std::string bin_dir() { return PGXQ_BIN_DIR; }
std::string plugin_dir() { return PGXQ_PLUGIN_DIR; }
std::string source_dir() { return PGXQ_SOURCE_DIR; }

std::string temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  chmod(tmpl.c_str(), 0755);
  return tmpl;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> extra_env,
                 std::optional<std::string> stdin_text)
    : dir_(temp_dir("pgxq-proc")) {
  std::string in_path = dir_ + "/stdin";
  write_file(in_path, stdin_text.value_or(""));
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (auto& [k, v] : extra_env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(10s);
  }
  std::string cmd = "rm -rf '" + dir_ + "'";
  if (std::system(cmd.c_str()) != 0) {
  }
}

void Process::signal(int sig) {
  if (!status_) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds deadline) {
  if (status_) return status_;
  auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

bool Process::running() { return !status_ && !wait(0ms); }

std::string Process::out() const { return read_file(dir_ + "/stdout"); }
std::string Process::err() const { return read_file(dir_ + "/stderr"); }

bool Process::wait_for_output(const std::string& text, std::chrono::milliseconds deadline) {
  return wait_until([&] { return out().find(text) != std::string::npos || err().find(text) != std::string::npos; },
                    deadline);
}

RunResult run(std::vector<std::string> argv, std::map<std::string, std::string> extra_env,
              std::optional<std::string> stdin_text) {
  Process p(std::move(argv), std::move(extra_env), std::move(stdin_text));
  auto code = p.wait(120s);
  if (!code) {
    p.signal(SIGKILL);
    throw std::runtime_error("command did not finish within 120s");
  }
  return {*code, p.out(), p.err()};
}

}  // namespace pgxq::test
