// A lost reply, reproduced: the server commits an outcome write and its answer never reaches
// the engine, which writes the outcome again on a new connection. Meanwhile another worker has
// claimed the job with the same attempt number (a snooze gives the attempt back). The repeated
// write must not touch that claim: writes are guarded by the claim's own attempted_at.
//
// Deterministic: an AFTER UPDATE trigger holds the write's transaction on an advisory lock the
// test owns; the test then makes the engine's connections deaf (a proxy on a unix socket that
// drops the server's bytes), lets the write commit, claims the job itself, and only then cuts
// the engine's connections and lets new ones through.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "engine_fixture.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

// Forwards a unix socket to the cluster's. deaf(): the server's bytes are dropped, and new
// clients wait unanswered. cut(): every forwarded connection is closed, new ones go through.
class Proxy {
public:
  Proxy(std::string target, std::string dir, int port) : target_(std::move(target)), dir_(std::move(dir)) {
    path_ = dir_ + "/.s.PGSQL." + std::to_string(port);
    listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0)
      throw std::runtime_error("proxy: cannot listen on " + path_);
    thread_ = std::thread([this] { run(); });
  }
  ~Proxy() {
    stop_ = true;
    thread_.join();
    for (auto& p : pairs_) close_pair(p);
    for (int fd : waiting_) ::close(fd);
    ::close(listener_);
    ::unlink(path_.c_str());
  }
  void deaf() { deaf_ = true; }
  void cut() { cut_ = true; }
  int forwarded() const { return forwarded_.load(); }

private:
  struct Pair {
    int client, server;
  };
  static void close_pair(Pair& p) {
    ::close(p.client);
    ::close(p.server);
  }
  int connect_target() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", target_.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  void admit(int client) {
    int server = connect_target();
    if (server < 0) {
      ::close(client);
      return;
    }
    pairs_.push_back({client, server});
    forwarded_++;
  }
  void run() {
    char buf[65536];
    while (!stop_) {
      if (cut_.exchange(false)) {
        for (auto& p : pairs_) close_pair(p);
        pairs_.clear();
        deaf_ = false;
        for (int fd : waiting_) admit(fd);
        waiting_.clear();
      }
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (auto& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      std::vector<Pair> kept;
      for (size_t i = 0; i < pairs_.size(); ++i) {
        auto& p = pairs_[i];
        bool open = true;
        if (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) {
          ssize_t n = ::read(p.client, buf, sizeof buf);
          open = n > 0 && ::send(p.server, buf, n, MSG_NOSIGNAL) == n;
        }
        if (open && (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))) {
          ssize_t n = ::read(p.server, buf, sizeof buf);
          open = n > 0 && (deaf_ || ::send(p.client, buf, n, MSG_NOSIGNAL) == n);
        }
        if (open) kept.push_back(p);
        else close_pair(p);
      }
      pairs_.swap(kept);
      // After the pairs polled above are served: an admitted one joins the next round.
      if (fds[0].revents & POLLIN) {
        int c = ::accept(listener_, nullptr, nullptr);
        if (c >= 0) {
          if (deaf_) waiting_.push_back(c);
          else admit(c);
        }
      }
    }
  }

  std::string target_, dir_, path_;
  int listener_ = -1;
  std::vector<Pair> pairs_;
  std::vector<int> waiting_;
  std::atomic<bool> stop_{false}, deaf_{false}, cut_{false};
  std::atomic<int> forwarded_{0};
  std::thread thread_;
};

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

}  // namespace

TEST_CASE("a snooze written again after a lost reply does not hand back another worker's claim of the job") {
  if (!conninfo().empty() || env_or("PGHOST", "/")[0] != '/') {
    MESSAGE("skipped: needs the cluster on a unix socket given by PGHOST (not PGXQ_TEST_DATABASE_URL)");
    return;
  }
  EngineFixture f("lostreply");
  auto& db = f.db();
  const std::string T = f.table();
  const int64_t lock_key = 0x5e55'1057;
  // Holds the snooze's transaction, once, until the test lets it commit.
  db.exec("CREATE TABLE " + T + "_held (id int8)");
  db.exec("CREATE FUNCTION " + T + "_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          " IF NOT EXISTS (SELECT 1 FROM " + T + "_held) THEN"
          "   INSERT INTO " + T + "_held VALUES (NEW.id);"
          "   PERFORM pg_advisory_xact_lock(" + std::to_string(lock_key) + ");"
          " END IF; RETURN NULL; END $$");
  db.exec("CREATE TRIGGER hold AFTER UPDATE ON " + T + " FOR EACH ROW WHEN (OLD.state = 'running' AND"
          " NEW.state = 'available') EXECUTE FUNCTION " + T + "_hold()");
  pg::Connection holder = connect();
  holder.exec("SELECT pg_advisory_lock(" + std::to_string(lock_key) + ")");

  auto dir = temp_dir("pgxq-proxy");
  const std::string target = env_or("PGHOST", "/tmp") + "/.s.PGSQL." + env_or("PGPORT", "5432");
  Proxy proxy(target, dir, 5433);
  auto o = f.options();
  o.conninfo = "host=" + dir + " port=5433";
  o.listen = false;
  std::atomic<int> calls{0};
  auto e = f.make_engine(o, {{"snooze_once", [&](const queue::Job&, queue::JobContext&) {
                                calls++;
                                return queue::Outcome::snooze(1h);  // not due again: only the test claims it
                              }}});
  const int64_t id = f.insert("snooze_once");
  e->start();

  // The snooze is written and waits, uncommitted, on the advisory lock.
  REQUIRE(wait_until([&] {
    return scalar(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = " +
                          std::to_string(lock_key & 0xffffffff)) == 1;
  }));
  proxy.deaf();
  holder.exec("SELECT pg_advisory_unlock(" + std::to_string(lock_key) + ")");
  // Committed; its answer went nowhere. The attempt was given back: 0 again.
  REQUIRE(wait_until([&] { return f.row(id).state == "available"; }));
  CHECK(f.row(id).attempt == 0);
  // Another worker claims it, as the next claim would: attempt 1 again, its own attempted_at.
  db.exec("UPDATE " + T + " SET state = 'running', attempt = attempt + 1, attempted_at = clock_timestamp()"
          " WHERE id = $1", {std::to_string(id)});
  const auto theirs = scalar_text(db, "SELECT attempted_at::text FROM " + T + " WHERE id = " + std::to_string(id));
  const int before = proxy.forwarded();
  proxy.cut();
  // The engine reconnects and writes the snooze again: it must find no claim of its own (and
  // without the guard it hands the other worker's claim back to available).
  REQUIRE(wait_until([&] { return f.log.contains("outcome 'available' not applied") || f.row(id).state != "running"; },
                     60s));
  CHECK(f.log.contains("outcome 'available' not applied"));
  CHECK(proxy.forwarded() > before);
  e->stop();
  auto row = f.row(id);
  CHECK(row.state == "running");
  CHECK(row.attempt == 1);
  CHECK(scalar_text(db, "SELECT attempted_at::text FROM " + T + " WHERE id = " + std::to_string(id)) == theirs);
  CHECK(calls.load() == 1);
  db.exec("DROP FUNCTION " + T + "_hold() CASCADE");
  db.exec("DROP TABLE " + T + "_held");
}
