// Stalls on loopback: a database port that accepts connections and never answers (a proxy in
// this test cuts pgxqd off from the real server and then holds every new connection silent),
// and a row lock held on a job the completer must write. pgxqd gives up a connect after
// connect_timeout with a clear line and keeps retrying with backoff; SIGTERM stops it promptly
// even while a connect would wait an hour; lock_timeout lets the completer retry instead of
// queueing behind the lock; and the systemd watchdog keeps being fed through all of it, since
// none of it is pgxqd being stuck.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "notify_socket.hpp"
#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;

namespace {

// A TCP port on 127.0.0.1 forwarding to the test cluster's unix socket, until blackhole():
// then the forwarded connections are cut and every new one is accepted and never answered.
class Proxy {
public:
  Proxy() {
    const char* host = std::getenv("PGHOST");
    const char* port = std::getenv("PGPORT");
    target_ = std::string(host ? host : "/tmp") + "/.s.PGSQL." + (port ? port : "5432");
    listen_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_, 64) == 0);
    socklen_t len = sizeof addr;
    getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Proxy() {
    stop_ = true;
    thread_.join();
    for (auto& [a, b] : pairs_) close_pair(a, b);
    for (int fd : held_) close(fd);
    close(listen_);
  }
  int port() const { return port_; }
  void blackhole() { blackhole_ = true; }
  // Connections accepted and left unanswered so far.
  int held() {
    std::lock_guard lock(mu_);
    return static_cast<int>(held_.size());
  }

private:
  static void close_pair(int a, int b) {
    close(a);
    close(b);
  }
  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_, POLLIN, 0}};
      for (auto& [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 50) < 0) continue;
      const size_t polled = pairs_.size();  // a pair accepted below was not polled yet
      if (blackhole_ && !pairs_.empty()) {
        for (auto& [a, b] : pairs_) close_pair(a, b);
        pairs_.clear();
        continue;
      }
      if (fds[0].revents & POLLIN) {
        int c = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0 && blackhole_) {
          std::lock_guard lock(mu_);
          held_.push_back(c);
        } else if (c >= 0) {
          int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_un un{};
          un.sun_family = AF_UNIX;
          std::snprintf(un.sun_path, sizeof un.sun_path, "%s", target_.c_str());
          if (connect(s, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0) pairs_.emplace_back(c, s);
          else close_pair(c, s);
        }
      }
      std::vector<std::pair<int, int>> alive;
      for (size_t i = 0; i < pairs_.size(); ++i) {
        auto [a, b] = pairs_[i];
        bool ok = i >= polled || (pump(fds[1 + 2 * i], a, b) && pump(fds[2 + 2 * i], b, a));
        if (ok) alive.emplace_back(a, b);
        else close_pair(a, b);
      }
      pairs_ = std::move(alive);
    }
  }
  static bool pump(const pollfd& p, int from, int to) {
    if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) return true;
    char buf[65536];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }

  std::string target_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, blackhole_{false};
  std::thread thread_;
  std::vector<std::pair<int, int>> pairs_;  // the proxy thread's
  std::mutex mu_;
  std::vector<int> held_;
};

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The daemon's [database] section: through the proxy, with the given connect_timeout.
std::string via_proxy(const Proxy& proxy, const std::string& connect_timeout) {
  return "\n[database]\nurl = \"host=127.0.0.1 port=" + std::to_string(proxy.port()) + " dbname=" +
         env_or("PGDATABASE", "postgres") + " user=" + env_or("PGUSER", "postgres") +
         " sslmode=disable gssencmode=disable\"\nconnect_timeout = \"" + connect_timeout + "\"\n";
}

bool log_has(const Daemon& d, const std::string& text) { return d.log().find(text) != std::string::npos; }

}  // namespace

TEST_CASE("a database port that never answers: connects give up after connect_timeout and are retried - the "
          "watchdog stays fed") {
  if (!std::getenv("PGHOST") || std::string(std::getenv("PGHOST")).rfind('/', 0) != 0) {
    MESSAGE("skipped: needs the test cluster's unix socket directory in PGHOST");
    return;
  }
  TempTable t("rel_blackhole");
  Proxy proxy;
  // The outage is logged once, with its first error (a cut connection); each connect that then
  // gives up is a debug line.
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"rescue_after", "\"2s\""}},
                   via_proxy(proxy, "1s") + "\n[log]\nlevel = \"debug\"\n");
  NotifySocket sock(cfg.dir + "/notify.sock");
  Daemon d(cfg.path, {{"NOTIFY_SOCKET", sock.path()}, {"WATCHDOG_USEC", "2000000"}});
  d.start();
  REQUIRE(wait_until([&] { return sock.count("READY=1") == 1; }));
  auto c = connect();
  c.exec("INSERT INTO " + t.name() + " (kind) SELECT 'noop' FROM generate_series(1, 20)");
  REQUIRE(wait_count(conninfo(), "SELECT count(*) FROM " + t.name() + " WHERE state = 'completed'", 20));

  proxy.blackhole();
  // A clear line, once for the outage; then reconnects keep coming, each giving up in time.
  REQUIRE(wait_until([&] { return log_has(d, "no answer within 1s (connect_timeout)"); }));
  CHECK(log_has(d, "database unavailable"));
  REQUIRE(wait_until([&] { return proxy.held() >= 8; }));
  // A database outage is not pgxqd being stuck.
  CHECK(sock.wait_more("WATCHDOG=1", 6));
  INFO(d.log());
  CHECK_FALSE(log_has(d, "engine stuck"));
  auto code = d.stop(std::chrono::seconds(60));
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("a database port that never answers: the watchdog stays fed while connects wait, and SIGTERM stops "
          "pgxqd while they would wait an hour") {
  if (!std::getenv("PGHOST") || std::string(std::getenv("PGHOST")).rfind('/', 0) != 0) {
    MESSAGE("skipped: needs the test cluster's unix socket directory in PGHOST");
    return;
  }
  TempTable t("rel_blackhole_stop");
  Proxy proxy;
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"rescue_after", "\"2s\""}}, via_proxy(proxy, "1h"));
  NotifySocket sock(cfg.dir + "/notify.sock");
  Daemon d(cfg.path, {{"NOTIFY_SOCKET", sock.path()}, {"WATCHDOG_USEC", "1000000"}});
  d.start();
  REQUIRE(wait_until([&] { return sock.count("READY=1") == 1; }));
  proxy.blackhole();
  // Several loops (producer, listener, rescuer) are now inside a connect that nothing answers.
  REQUIRE(wait_until([&] { return proxy.held() >= 3; }));
  // A connect within its connect_timeout is no reason to stop feeding the watchdog.
  CHECK(sock.wait_more("WATCHDOG=1", 4));
  // An hour of connect_timeout: only an abandoned connect lets it end within this deadline.
  auto code = d.stop(std::chrono::seconds(60));
  INFO(d.log());
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("a row lock on a job the completer must write: lock_timeout lets it retry, nothing lost or doubled, "
          "the watchdog stays fed") {
  TempTable t("rel_rowlock");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"rescue_after", "\"1h\""}},
                   "\n[database]\nlock_timeout = \"200ms\"\n");
  NotifySocket sock(cfg.dir + "/notify.sock");
  Daemon d(cfg.path, {{"NOTIFY_SOCKET", sock.path()}, {"WATCHDOG_USEC", "1000000"}});
  d.start();
  REQUIRE(wait_until([&] { return sock.count("READY=1") == 1; }));
  auto c = connect();
  // A handler without SQL, so its outcome goes through the completer; long enough for the test
  // to lock the row after the claim.
  const auto id = std::to_string(
      scalar(c, "INSERT INTO " + t.name() + " (kind, args) VALUES ('sleep', '{\"ms\": 3000}') RETURNING id"));
  const std::string state_sql = "SELECT state FROM " + t.name() + " WHERE id = " + id;
  REQUIRE(wait_until([&] { return scalar_text(c, state_sql) == "running"; }));
  auto holder = connect();
  holder.exec("BEGIN");
  REQUIRE(scalar_text(holder, state_sql + " FOR UPDATE") == "running");

  // The completer's write gives up on the lock (55P03) and is retried, instead of waiting.
  REQUIRE(wait_until([&] { return log_has(d, "55P03"); }));
  // A completer that waits on a lock the database reports is not pgxqd being stuck.
  CHECK(sock.wait_more("WATCHDOG=1", 2));
  holder.exec("COMMIT");

  REQUIRE(wait_until([&] { return scalar_text(c, state_sql) == "completed"; }));
  CHECK(scalar(c, "SELECT attempt FROM " + t.name() + " WHERE id = " + id) == 1);
  INFO(d.log());
  CHECK_FALSE(log_has(d, "engine stuck"));
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
}
