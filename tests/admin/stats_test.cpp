// admin::collect_stats against real job tables: the counts per queue and kind by state, the
// oldest due and longest running ages, the last hour's finished jobs, paused queues, the queue
// filter, the JSON form the status page reads, and tables that lack later migrations.
#include <doctest/doctest.h>

#include "admin/stats.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

// Jobs in every state: queue "mail" kind "send" (3 due, 2 later, 1 running, failures), queue
// "default" kind "hello" (completed only).
void seed(pg::Connection& conn, const std::string& t) {
  conn.exec("INSERT INTO " + t + " (kind, queue, scheduled_at) SELECT 'send', 'mail', now() - interval '10 minutes' FROM generate_series(1, 3)");
  conn.exec("INSERT INTO " + t + " (kind, queue, scheduled_at) SELECT 'send', 'mail', now() + interval '1 hour' FROM generate_series(1, 2)");
  conn.exec("INSERT INTO " + t + " (kind, queue, state, attempt, attempted_at) VALUES ('send', 'mail', 'running', 1, now() - interval '90 seconds')");
  conn.exec("INSERT INTO " + t + " (kind, queue, state, attempt, completed_at, error) VALUES"
            " ('send', 'mail', 'failed', 5, now() - interval '10 minutes', 'boom'),"
            " ('send', 'mail', 'discarded', 1, now() - interval '20 minutes', 'bad address'),"
            " ('send', 'mail', 'failed', 5, now() - interval '2 hours', 'old failure')");
  conn.exec("INSERT INTO " + t + " (kind, queue, state, attempt, completed_at) SELECT 'hello', 'default', 'completed', 1,"
            " now() - interval '1 minute' FROM generate_series(1, 4)");
  conn.exec("INSERT INTO " + t + " (kind, queue, state, attempt, completed_at) SELECT 'hello', 'default', 'completed', 1,"
            " now() - interval '30 minutes' FROM generate_series(1, 6)");
}

const admin::KindStats* find(const admin::TableStats& s, const std::string& queue, const std::string& kind) {
  for (const auto& q : s.queues)
    if (q.queue == queue)
      for (const auto& k : q.kinds)
        if (k.kind == kind) return &k;
  return nullptr;
}

}  // namespace

TEST_CASE("stats: counts per queue and kind, ages, the last hour's finished jobs") {
  TempTable table("adm_stats");
  auto conn = connect();
  seed(conn, table.name());
  auto s = admin::collect_stats(conn, table.name(), std::nullopt);
  CHECK(s.table == table.name());
  REQUIRE(s.queues.size() == 2);
  CHECK(s.queues[0].queue == "default");
  CHECK(s.queues[1].queue == "mail");
  CHECK(s.hints.empty());

  auto* send = find(s, "mail", "send");
  REQUIRE(send);
  CHECK(send->available.value == 3);
  CHECK(send->scheduled.value == 2);
  CHECK_FALSE(send->available.capped);
  CHECK(send->running.value == 1);
  REQUIRE(send->oldest_due_age_seconds);
  CHECK(*send->oldest_due_age_seconds >= 600);
  CHECK(*send->oldest_due_age_seconds < 3600);
  REQUIRE(send->longest_running_seconds);
  CHECK(*send->longest_running_seconds >= 90);
  REQUIRE(send->failed_last_hour);
  CHECK(send->failed_last_hour->value == 1);  // the one two hours ago is not counted
  CHECK(send->discarded_last_hour->value == 1);
  CHECK(send->completed_last_hour->value == 0);

  auto* hello = find(s, "default", "hello");
  REQUIRE(hello);
  CHECK(hello->available.value == 0);
  CHECK_FALSE(hello->oldest_due_age_seconds);
  CHECK_FALSE(hello->longest_running_seconds);
  CHECK(hello->completed_last_hour->value == 10);
  CHECK(hello->completed_last_5_minutes->value == 4);
  CHECK(hello->failed_last_hour->value == 0);
}

TEST_CASE("stats: the queue filter, paused queues, and the JSON fields the status page reads") {
  TempTable table("adm_stats");
  auto conn = connect();
  seed(conn, table.name());
  conn.exec("INSERT INTO " + table.name() + "_pause (queue, paused_by) VALUES ('mail', 'ops'), ('idle', NULL)");

  auto only_mail = admin::collect_stats(conn, table.name(), std::string("mail"));
  REQUIRE(only_mail.queues.size() == 1);
  CHECK(only_mail.queues[0].queue == "mail");
  CHECK(only_mail.queues[0].paused);
  CHECK(only_mail.queues[0].paused_by == std::optional<std::string>("ops"));

  auto none = admin::collect_stats(conn, table.name(), std::string("no_such_queue"));
  CHECK(none.queues.empty());

  auto all = admin::collect_stats(conn, table.name(), std::nullopt);
  REQUIRE(all.queues.size() == 3);  // a paused queue without jobs is listed too
  CHECK(all.queues[1].queue == "idle");
  CHECK(all.queues[1].paused);
  CHECK(all.queues[1].kinds.empty());
  CHECK_FALSE(all.queues[0].paused);

  auto j = admin::to_json(all);
  CHECK(j["table"] == table.name());
  auto& mail = j["queues"][2];
  CHECK(mail["queue"] == "mail");
  CHECK(mail["paused"] == true);
  auto& k = mail["kinds"][0];
  CHECK(k["kind"] == "send");
  CHECK(k["available"] == 3);
  CHECK(k["scheduled"] == 2);
  CHECK(k["running"] == 1);
  CHECK(k["oldest_due_age_seconds"].is_number());
  CHECK(k["longest_running_seconds"].is_number());
  CHECK(k["failed_last_hour"] == 1);
  CHECK(k["discarded_last_hour"] == 1);
  CHECK(k["completed_last_hour"] == 0);
  CHECK(k["lower_bounds"].empty());
  auto& hello = j["queues"][0]["kinds"][0];
  CHECK(hello["oldest_due_age_seconds"].is_null());
  CHECK(hello["longest_running_seconds"].is_null());
}

TEST_CASE("stats: estimates appear once the table is analysed") {
  TempTable table("adm_stats");
  auto conn = connect();
  seed(conn, table.name());
  conn.exec("ANALYZE " + table.name());
  auto s = admin::collect_stats(conn, table.name(), std::nullopt);
  REQUIRE(s.estimated_rows);
  CHECK(*s.estimated_rows == 19);
  bool completed = false;
  for (const auto& [state, n] : s.estimated_by_state)
    if (state == "completed") completed = n == 10;
  CHECK(completed);
}

TEST_CASE("stats: a table without the pause table and finished-jobs index says to migrate, and still counts") {
  TempTable table("adm_old");
  auto conn = connect();
  seed(conn, table.name());
  conn.exec("DROP TABLE " + table.name() + "_pause");
  conn.exec("DROP INDEX idx_" + table.name() + "_done");
  auto s = admin::collect_stats(conn, table.name(), std::nullopt);
  REQUIRE(s.hints.size() == 2);
  CHECK(s.hints[0].find("pgxqd migrate") != std::string::npos);
  auto* send = find(s, "mail", "send");
  REQUIRE(send);
  CHECK(send->available.value == 3);
  CHECK_FALSE(send->failed_last_hour);
  CHECK(admin::to_json(s)["queues"][1]["kinds"][0]["failed_last_hour"].is_null());
}

TEST_CASE("stats: a missing table is TableMissing, naming migrate") {
  auto conn = connect();
  const std::string name = unique_name("adm_missing");
  try {
    admin::collect_stats(conn, name, std::nullopt);
    FAIL("expected TableMissing");
  } catch (const admin::TableMissing& e) {
    CHECK(std::string(e.what()).find("pgxqd migrate --table " + name) != std::string::npos);
  }
}

TEST_CASE("stats: a count that reaches the cap stops there and is marked a lower bound") {
  TempTable table("adm_cap");
  auto conn = connect();
  seed(conn, table.name());
  conn.exec("INSERT INTO " + table.name() + " (kind, queue, state, attempt, completed_at) SELECT 'hello', 'default',"
            " 'completed', 1, now() FROM generate_series(1, 5)");
  auto s = admin::collect_stats(conn, table.name(), std::nullopt, 3);
  auto* send = find(s, "mail", "send");
  REQUIRE(send);
  CHECK(send->available.value == 3);  // 3 due + 2 later: more than 3 entries read
  CHECK(send->available.capped);
  CHECK(send->scheduled.capped);
  auto* hello = find(s, "default", "hello");
  REQUIRE(hello);
  CHECK(hello->completed_last_hour->value == 3);
  CHECK(hello->completed_last_hour->capped);
  CHECK_FALSE(send->running.capped);  // one running job
  auto j = admin::to_json(s);
  CHECK(j["count_cap"] == 3);
  CHECK(j["queues"][1]["kinds"][0]["lower_bounds"] == nlohmann::json({"available", "scheduled"}));

  auto uncapped = admin::collect_stats(conn, table.name(), std::nullopt);
  CHECK(find(uncapped, "default", "hello")->completed_last_hour->value == 15);
  CHECK_FALSE(find(uncapped, "mail", "send")->available.capped);
}
