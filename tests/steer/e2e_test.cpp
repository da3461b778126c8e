// The operator's controls end to end: real pgxqd daemons with the testkit plugin, steered by
// the real `pgxqd pause/resume/cancel/retry` commands. A paused queue stays unclaimed on every
// daemon (also one restarted while it is paused) while another queue is worked; resume brings
// it back; a long running job is cancelled on whichever daemon runs it; a retried failed job
// runs again with its attempts counted from 1.
#include <doctest/doctest.h>

#include "e2e.hpp"
#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

RunResult steer(const std::string& config, std::vector<std::string> args) {
  args.insert(args.begin(), pgxqd());
  args.push_back("--config");
  args.push_back(config);
  return run(std::move(args));
}

bool started(Daemon& d) {
  return wait_until([&] { return count_lines(d.log(), " started: database=") >= d.starts(); }, 60s);
}

std::string row(const std::string& table, int64_t id) {
  auto c = connect();
  return scalar_text(c, "SELECT state || ':' || attempt || ':' || coalesce(error, '') FROM " + table + " WHERE id = $1",
                     {pg::Param(std::to_string(id))})
      .value_or("(none)");
}

int64_t insert(const std::string& table, const std::string& kind, const std::string& args, const std::string& queue,
               int max_attempts = 5) {
  auto c = connect();
  return c.exec("INSERT INTO " + table + " (kind, args, queue, max_attempts) VALUES ($1, $2::jsonb, $3, $4) RETURNING id",
                {pg::Param(kind), pg::Param(args), pg::Param(queue), pg::Param(std::to_string(max_attempts))})
      .int64(0, 0);
}

bool wait_row(const std::string& table, int64_t id, const std::string& want, std::chrono::milliseconds deadline = 60s) {
  return wait_until([&] { return row(table, id).rfind(want, 0) == 0; }, deadline);
}

const std::string kQueues = "[queues.default]\nmax_workers = 2\n[queues.other]\nmax_workers = 2\n";

}  // namespace

TEST_CASE("pause: every daemon on the table stops claiming the queue, a restarted one too, resume brings it back") {
  TempTable t("steer_e2e_pause");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}}, kQueues);
  REQUIRE(steer(cfg.path, {"pause", "default"}).code == 0);
  Daemon a(cfg.path), b(cfg.path);
  a.start();
  b.start();
  REQUIRE(started(a));
  REQUIRE(started(b));
  std::vector<int64_t> held;
  for (int i = 0; i < 6; ++i) held.push_back(insert(t.name(), "noop", "{}", "default"));
  // The other queue is worked meanwhile, by both daemons, for longer than a control pass.
  for (int i = 0; i < 6; ++i) insert(t.name(), "sleep", "{\"ms\":400}", "other");
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "queue = 'other' AND state = 'completed'") == 6; }));
  CHECK(count_jobs(t.name(), "queue = 'default' AND state = 'available'") == 6);

  // A daemon started while the queue is paused obeys before its first claim.
  REQUIRE(a.stop() == std::optional<int>(0));
  a.start();
  REQUIRE(started(a));
  for (int i = 0; i < 4; ++i) insert(t.name(), "sleep", "{\"ms\":400}", "other");
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "queue = 'other' AND state = 'completed'") == 10; }));
  CHECK(count_jobs(t.name(), "queue = 'default' AND state = 'available'") == 6);
  CHECK(count_lines(a.log(), "queue default on " + t.name() + ": paused by the operator") == 2);  // once per start
  CHECK(count_lines(b.log(), "queue default on " + t.name() + ": paused by the operator") == 1);

  auto r = steer(cfg.path, {"resume", "default"});
  REQUIRE(r.code == 0);
  CHECK(wait_until([&] { return count_jobs(t.name(), "queue = 'default' AND state = 'completed'") == 6; }));
  CHECK(wait_until([&] { return count_lines(b.log(), "queue default on " + t.name() + ": resumed") == 1; }));
  CHECK(a.stop() == std::optional<int>(0));
  CHECK(b.stop() == std::optional<int>(0));
}

TEST_CASE("cancel: a long running job on either of two daemons ends discarded 'cancelled by operator', an available one at once") {
  TempTable t("steer_e2e_cancel");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}}, kQueues);
  Daemon a(cfg.path), b(cfg.path);
  a.start();
  b.start();
  REQUIRE(started(a));
  REQUIRE(started(b));
  const int64_t slow = insert(t.name(), "sleep", "{\"ms\":600000}", "default");
  REQUIRE(wait_row(t.name(), slow, "running"));
  auto r = steer(cfg.path, {"cancel", std::to_string(slow)});
  CHECK(r.code == 0);
  CHECK(r.out.find("asked the daemons to stop 1 running job(s): " + std::to_string(slow)) != std::string::npos);
  // Well under the 10 minutes the handler would sleep.
  CHECK(wait_row(t.name(), slow, "discarded:1:cancelled by operator", 60s));

  // Not due for an hour: no daemon takes it before the command does.
  const int64_t waiting = connect()
                              .exec("INSERT INTO " + t.name() + " (kind, args, scheduled_at) VALUES ('noop', '{}', now() + "
                                    "interval '1 hour') RETURNING id")
                              .int64(0, 0);
  auto x = steer(cfg.path, {"cancel", std::to_string(waiting), "--json"});
  CHECK(x.code == 0);
  CHECK(row(t.name(), waiting) == "discarded:0:cancelled by operator");  // at once, by the command

  auto again = steer(cfg.path, {"cancel", std::to_string(slow)});
  CHECK(again.code == 1);
  CHECK(again.out.find("not cancellable") != std::string::npos);
  CHECK(a.stop() == std::optional<int>(0));
  CHECK(b.stop() == std::optional<int>(0));
}

TEST_CASE("retry: a failed job runs again and gets all of its attempts again") {
  TempTable t("steer_e2e_retry");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}});
  Daemon d(cfg.path);
  d.start();
  REQUIRE(started(d));
  // Fails on attempts 1 to 3: with max_attempts 2 it ends failed at attempt 2.
  const int64_t id = insert(t.name(), "fail", "{\"message\":\"nope\",\"times\":3}", "default", 2);
  REQUIRE(wait_row(t.name(), id, "failed:2:nope"));
  auto c = connect();
  const auto first_run = scalar_text(c, "SELECT attempted_at::text FROM " + t.name() + " WHERE id = $1",
                                     {pg::Param(std::to_string(id))});
  auto r = steer(cfg.path, {"retry", std::to_string(id)});
  REQUIRE(r.code == 0);
  // Run again from attempt 1: two more failed attempts, so failed at attempt 2 again (counted on
  // from 2, it would have had one attempt, 3, and ended failed at 3).
  CHECK(wait_until([&] {
    return scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE id = $1 AND state = 'failed' AND attempted_at::text <> $2",
                  {pg::Param(std::to_string(id)), pg::Param(*first_run)}) == 1;
  }));
  CHECK(row(t.name(), id) == "failed:2:nope");
  CHECK(d.stop() == std::optional<int>(0));
}
