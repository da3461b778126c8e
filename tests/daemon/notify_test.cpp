// End-to-end: the systemd notification protocol observed through a test NOTIFY_SOCKET —
// READY=1 once the engine started, STATUS= with queue counts, WATCHDOG=1, STOPPING=1 on SIGTERM.
#include <doctest/doctest.h>

#include <signal.h>

#include "e2e.hpp"
#include "notify_socket.hpp"

using namespace pgxq::test;

TEST_CASE("sd_notify: READY=1 after start, STATUS= with queue counts, STOPPING=1 on SIGTERM") {
  TempTable t("e2e_notify");
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 4\n[queues.mail]\nmax_workers = 2\n");
  NotifySocket sock(cfg.dir + "/notify.sock");
  Process p(run_argv(cfg.path), {{"NOTIFY_SOCKET", cfg.dir + "/notify.sock"}});
  REQUIRE(sock.wait_for("READY=1"));
  CHECK(p.err().find("started:") != std::string::npos);  // READY comes after the engine started
  REQUIRE(sock.wait_for("STATUS="));
  bool counts = false;
  for (const auto& m : sock.messages())
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
