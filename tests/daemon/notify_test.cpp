// End-to-end: the systemd notification protocol observed through a test NOTIFY_SOCKET —
// READY=1 once the engine started, STATUS= with queue counts, WATCHDOG=1, STOPPING=1 on SIGTERM.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "e2e.hpp"

using namespace pgxq::test;

namespace {

class NotifySocket {
public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  // Collects datagrams until one contains `text` or the deadline passes.
  bool wait_for(const std::string& text, std::chrono::milliseconds deadline = 60s) {
    return wait_until(
        [&] {
          pollfd p{fd_, POLLIN, 0};
          while (poll(&p, 1, 0) > 0) {
            char buf[4096];
            ssize_t n = recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) break;
            messages.emplace_back(buf, static_cast<size_t>(n));
          }
          for (const auto& m : messages)
            if (m.find(text) != std::string::npos) return true;
          return false;
        },
        deadline);
  }
  std::vector<std::string> messages;

private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("sd_notify: READY=1 after start, STATUS= with queue counts, STOPPING=1 on SIGTERM") {
  TempTable t("e2e_notify");
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 4\n[queues.mail]\nmax_workers = 2\n");
  NotifySocket sock(cfg.dir + "/notify.sock");
  Process p(run_argv(cfg.path), {{"NOTIFY_SOCKET", cfg.dir + "/notify.sock"}});
  REQUIRE(sock.wait_for("READY=1"));
  CHECK(p.err().find("started:") != std::string::npos);  // READY comes after the engine started
  REQUIRE(sock.wait_for("STATUS="));
  bool counts = false;
  for (const auto& m : sock.messages)
    if (m.find("default 0/4 running") != std::string::npos && m.find("mail 0/2 running") != std::string::npos) counts = true;
  CHECK(counts);
  enqueue_sql(t.name(), "noop", "{}", 5);
  CHECK(sock.wait_for("completed 5"));
  p.signal(SIGTERM);
  CHECK(sock.wait_for("STOPPING=1"));
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("sd_notify: WATCHDOG=1 keeps coming from the engine loop when systemd asks for a watchdog") {
  TempTable t("e2e_watchdog");
  TestConfig cfg(t.name());
  NotifySocket sock(cfg.dir + "/notify.sock");
  Process p(run_argv(cfg.path), {{"NOTIFY_SOCKET", cfg.dir + "/notify.sock"}, {"WATCHDOG_USEC", "3000000"}});
  REQUIRE(sock.wait_for("READY=1"));
  CHECK(sock.wait_for("WATCHDOG=1"));
  CHECK(p.err().find("systemd watchdog enabled") != std::string::npos);
  p.signal(SIGTERM);
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("sd_notify: nothing is sent and nothing breaks without NOTIFY_SOCKET, and READY never comes when start fails") {
  TestConfig cfg(unique_name("e2e_notify_missing"));  // table does not exist: start fails
  NotifySocket sock(cfg.dir + "/notify.sock");
  auto r = run(run_argv(cfg.path), {{"NOTIFY_SOCKET", cfg.dir + "/notify.sock"}});
  CHECK(r.code == 1);
  CHECK_FALSE(sock.wait_for("READY=1", 0ms));
}
