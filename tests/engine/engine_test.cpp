// The engine against a real PostgreSQL with the testkit plugin: one test per go-pgxq client
// scenario, plus pgxqd's own promises (batched completion, NOTIFY wake-up, rescue of
// exhausted jobs, rollback when rescued meanwhile, reconnects).
#include <doctest/doctest.h>

#include <thread>

#include <pgxq/client.h>

#include "engine_fixture.hpp"
#include "manual_clock.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

std::string record_args(const std::string& table, const std::string& value, const std::string& then = "complete") {
  return R"({"table":")" + table + R"(","value":")" + value + R"(","then":")" + then + R"("})";
}

}  // namespace

TEST_CASE("processes jobs: noop completes with attempt 1") {
  EngineFixture f;
  auto e = f.make_engine(f.options());
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(f.insert("noop"));
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 20; }));
  e->stop();
  for (auto id : ids) {
    auto r = f.row(id);
    CHECK(r.state == "completed");
    CHECK(r.attempt == 1);
    CHECK_FALSE(r.completed_at_null);
  }
  auto stats = e->stats();
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].completed == 20);
  CHECK(stats[0].claimed == 20);
}

TEST_CASE("handler transaction commits together with the completion") {
  EngineFixture f;
  auto rec = f.record_table();
  auto ok = f.insert("record", record_args(rec, "kept"));
  auto failing = f.insert("record", record_args(rec, "gone", "fail"), "default", 0, 1);
  auto discarded = f.insert("record", record_args(rec, "gone too", "discard"));
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, ok, "completed"));
  REQUIRE(wait_state(f, failing, "failed"));
  REQUIRE(wait_state(f, discarded, "discarded"));
  e->stop();
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 1);
  CHECK(scalar(f.db(), "SELECT job_id FROM " + rec) == ok);
  CHECK(*f.row(failing).error == "record: then fail");
  CHECK(*f.row(discarded).error == "discard: record: then discard");
}

TEST_CASE("retry with error, later success") {
  EngineFixture f;
  auto id = f.insert("fail", R"({"times": 2, "message": "not yet"})");
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, id, "completed"));
  e->stop();
  auto r = f.row(id);
  CHECK(r.attempt == 3);
  CHECK(r.error.value_or("") == "not yet");  // the last failure's text is kept
  CHECK(e->stats()[0].retried == 2);
}

TEST_CASE("discard records 'discard: <message>'") {
  EngineFixture f;
  auto id = f.insert("discard", R"({"message": "bad input"})");
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, id, "discarded"));
  e->stop();
  auto r = f.row(id);
  CHECK(r.error.value_or("") == "discard: bad input");
  CHECK(r.attempt == 1);
  CHECK_FALSE(r.completed_at_null);
}

TEST_CASE("max attempts reached: failed") {
  EngineFixture f;
  auto id = f.insert("fail", R"({"message": "always"})", "default", 0, 3);
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, id, "failed"));
  e->stop();
  auto r = f.row(id);
  CHECK(r.attempt == 3);
  CHECK(r.error.value_or("") == "always");
  CHECK_FALSE(r.completed_at_null);
}

TEST_CASE("a kind without a handler is never claimed") {
  EngineFixture f;
  auto unknown = f.insert("no_such_kind");
  auto known = f.insert("noop");
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, known, "completed"));
  // Several poll rounds later it is still untouched.
  auto claimed_before = e->stats()[0].claimed;
  REQUIRE(wait_until([&] { return e->stats()[0].claimed == claimed_before; }, 1s));
  f.insert("noop");
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 2; }));
  e->stop();
  auto r = f.row(unknown);
  CHECK(r.state == "available");
  CHECK(r.attempt == 0);
  CHECK(r.attempted_at_null);
}

TEST_CASE("handler exception: a failed attempt, retried, failed as '<type>: <what>'") {
  EngineFixture f;
  auto id = f.insert("throw", R"({"message": "kaboom"})", "default", 0, 3);
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, id, "failed"));
  e->stop();
  auto r = f.row(id);
  CHECK(r.attempt == 3);
  CHECK(r.error.value_or("") == "std::runtime_error: kaboom");
}

TEST_CASE("unknown outcome code is an error naming the code, then retried") {
  EngineFixture f;
  auto id = f.insert("unknown_outcome", "{}", "default", 0, 1);
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, id, "failed"));
  e->stop();
  auto err = f.row(id).error.value_or("");
  CHECK(err.find("unknown outcome") != std::string::npos);
}

TEST_CASE("concurrent engines process each job exactly once") {
  EngineFixture f;
  auto rec = f.record_table();
  const int n = 600;
  std::string rows;
  for (int i = 0; i < n; ++i) f.insert("record", record_args(rec, std::to_string(i)));
  auto o = f.options();
  o.max_workers = 8;
  o.batch_size = 5;
  auto a = f.make_engine(o);
  auto b = f.make_engine(o);
  auto c = f.make_engine(o);
  a->start();
  b->start();
  c->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == n; }, 120s));
  a->stop();
  b->stop();
  c->stop();
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == n);
  CHECK(scalar(f.db(), "SELECT count(DISTINCT job_id) FROM " + rec) == n);
  CHECK(f.count("attempt <> 1") == 0);
}

TEST_CASE("graceful shutdown finishes running jobs and leaves the rest available") {
  EngineFixture f;
  auto o = f.options();
  o.max_workers = 2;
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(f.insert("sleep", R"({"ms": 300})"));
  auto e = f.make_engine(o);
  e->start();
  // Started, not merely claimed: claimed-but-unstarted jobs would be released instead.
  REQUIRE(wait_until([&] { return e->stats()[0].running == 2; }));
  e->stop();
  CHECK(f.count("state = 'completed'") >= 2);
  CHECK(f.count("state = 'running'") == 0);
  // Everything not completed is available and untouched.
  CHECK(f.count("state = 'available' AND (attempt <> 0 OR attempted_at IS NOT NULL)") == 0);
  CHECK(f.count("state = 'completed'") + f.count("state = 'available'") == 6);
}

TEST_CASE("shutdown timeout: running handlers are told to stop") {
  EngineFixture f;
  auto o = f.options();
  o.shutdown_timeout = 200ms;
  o.max_workers = 2;
  auto id = f.insert("sleep", R"({"ms": 600000})");
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return e->stats()[0].running == 1; }));
  e->stop();
  auto r = f.row(id);
  CHECK(r.state == "available");  // retried by the cancelled handler
  CHECK(r.error.value_or("") == "cancelled");
  CHECK(f.log.contains("shutdown timeout"));
}

TEST_CASE("custom schema-qualified table") {
  auto db = connect();
  auto schema = unique_name("s");
  db.exec("CREATE SCHEMA " + schema);
  struct Drop {
    pg::Connection& db;
    std::string s;
    ~Drop() {
      try {
        db.exec("DROP SCHEMA " + s + " CASCADE");
      } catch (...) {
      }
    }
  } drop{db, schema};
  EngineFixture f;  // for the plugins and logger
  std::string table = schema + ".jobs";
  pgxq_error err{};
  REQUIRE(pgxq_migrate(db.get(), table.c_str(), &err) == 0);
  db.exec("INSERT INTO " + table + " (kind) VALUES ('noop')");
  auto o = f.options();
  o.table = table;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return scalar(db, "SELECT count(*) FROM " + table + " WHERE state = 'completed'") == 1; }));
  e->stop();
}

TEST_CASE("rescue: orphaned jobs run again, exhausted ones fail with a clear error") {
  EngineFixture f;
  auto orphan = f.insert("noop");
  auto exhausted = f.insert("noop", "{}", "default", 0, 3);
  f.db().exec("UPDATE " + f.table() +
              " SET state = 'running', attempt = 1, attempted_at = now() - interval '10 minutes' WHERE id = $1",
              {std::to_string(orphan)});
  f.db().exec("UPDATE " + f.table() +
              " SET state = 'running', attempt = 3, attempted_at = now() - interval '10 minutes' WHERE id = $1",
              {std::to_string(exhausted)});
  auto o = f.options();
  o.rescue_after = 1s;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_state(f, orphan, "completed"));
  REQUIRE(wait_state(f, exhausted, "failed"));
  e->stop();
  CHECK(f.row(orphan).attempt == 2);
  CHECK(f.row(exhausted).error.value_or("") == "rescued after attempt 3 of 3: worker lost");
  CHECK(e->stats()[0].rescued == 2);
}

TEST_CASE("the rescuer runs on the engine's clock") {
  EngineFixture f;
  auto clock = std::make_shared<ManualClock>();
  auto o = f.options();
  o.clock = clock;
  o.rescue_after = 1h;  // a rescue pass at start, then every 30 minutes
  auto e = f.make_engine(o);
  auto first = f.insert("noop");
  e->start();
  REQUIRE(wait_state(f, first, "completed"));
  int64_t orphan = 0;
  {
    // Running for two hours by the database's clock; committed as such, so no claim takes it.
    pg::Transaction tx(f.db());
    orphan = f.insert("noop");
    f.db().exec("UPDATE " + f.table() +
                    " SET state = 'running', attempt = 1, attempted_at = now() - interval '2 hours' WHERE id = $1",
                {std::to_string(orphan)});
    tx.commit();
  }
  clock->advance(30min);
  CHECK(wait_state(f, orphan, "completed", 20s));
  e->stop();
  CHECK(f.row(orphan).attempt == 2);
  CHECK(e->stats()[0].rescued == 1);
}

TEST_CASE("the poll runs on the engine's clock") {
  EngineFixture f;
  auto clock = std::make_shared<ManualClock>();
  auto o = f.options();
  o.clock = clock;
  o.listen = false;  // only the poll finds new jobs
  o.poll_interval = 1h;
  auto e = f.make_engine(o);
  auto first = f.insert("noop");
  e->start();
  REQUIRE(wait_state(f, first, "completed"));  // claimed at start
  auto second = f.insert("noop");
  clock->advance(1h);
  CHECK(wait_state(f, second, "completed", 20s));
  e->stop();
}

TEST_CASE("priority order: lower priority values run first") {
  EngineFixture f;
  auto rec = f.record_table();
  for (int p : {3, 1, 2, 0, 1}) f.insert("record", record_args(rec, std::to_string(p)), "default", p);
  auto o = f.options();
  o.max_workers = 1;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 5; }));
  e->stop();
  auto r = f.db().exec("SELECT string_agg(value, ',' ORDER BY seq) FROM " + rec);
  CHECK(r.text(0, 0) == "0,1,1,2,3");
}

TEST_CASE("a better-priority job inserted while a backlog drains is not left behind the scan fronts") {
  // Claims scan each kind from where the last one took its first job (queue/scan_front.hpp);
  // a job that lands before that front must still be found by the periodic full scan, not
  // only when the backlog has drained.
  EngineFixture f;
  f.db().exec("INSERT INTO " + f.table() +
              " (kind, args, priority) SELECT 'sleep', '{\"ms\": 20}', 1 FROM generate_series(1, 300)");
  auto o = f.options();
  o.max_workers = 2;
  o.batch_size = 2;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") >= 10; }));
  auto urgent = f.insert("sleep", "{\"ms\": 0}", "default", 0);  // same kind: behind its front
  REQUIRE(wait_state(f, urgent, "completed"));
  // 300 jobs of 20 ms on 2 workers take 3 s; the full scan comes within 100 ms.
  CHECK(f.count("kind = 'sleep' AND state = 'available'") > 150);
  e->stop();
}

TEST_CASE("a job scheduled in the future is not picked early") {
  EngineFixture f;
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = f.table().c_str();
  o.has_delay = 1;
  o.delay_seconds = 3600;
  pgxq_error err{};
  auto later = pgxq_insert(f.db().get(), "noop", nullptr, &o, &err);
  REQUIRE(later > 0);
  auto now = f.insert("noop");
  auto e = f.make_engine(f.options());
  e->start();
  REQUIRE(wait_state(f, now, "completed"));
  auto claimed = e->stats()[0].claimed;
  f.insert("noop");
  REQUIRE(wait_until([&] { return e->stats()[0].claimed > claimed; }));
  e->stop();
  CHECK(f.row(later).state == "available");
  CHECK(f.row(later).attempt == 0);
}

TEST_CASE("queues are isolated") {
  EngineFixture f;
  auto a = f.insert("noop", "{}", "a");
  auto b = f.insert("noop", "{}", "b");
  auto o = f.options();
  o.queues = {queue::QueueOptions{"a", "", 2}};
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_state(f, a, "completed"));
  e->stop();
  CHECK(f.row(b).state == "available");
}

TEST_CASE("several queues in one engine, each with its own concurrency") {
  EngineFixture f;
  for (int i = 0; i < 10; ++i) {
    f.insert("noop", "{}", "a");
    f.insert("noop", "{}", "b");
  }
  auto o = f.options();
  o.queues = {queue::QueueOptions{"a", "", 1}, queue::QueueOptions{"b", "", 3}};
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 20; }));
  // The counters follow the table: the completer counts a batch once its write has returned.
  REQUIRE(wait_until([&] {
    auto s = e->stats();
    return s.size() == 2 && s[0].completed + s[1].completed == 20;
  }));
  auto stats = e->stats();
  e->stop();
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].max_workers == 1);
  CHECK(stats[1].max_workers == 3);
  CHECK(stats[0].completed == 10);
  CHECK(stats[1].completed == 10);
}

TEST_CASE("start and stop edge cases") {
  EngineFixture f;
  {
    auto e = f.make_engine(f.options());
    e->stop();  // before start: no hang
    e->stop();
    CHECK_THROWS_AS(e->start(), std::logic_error);
  }
  {
    auto e = f.make_engine(f.options());
    e->start();
    CHECK_THROWS_AS(e->start(), std::logic_error);
    e->stop();
    e->stop();
    e->stop_fast();
    CHECK_FALSE(e->running());
  }
  {
    auto o = f.options();
    o.table = "missing_" + unique_name("t");
    auto e = f.make_engine(o);
    CHECK_THROWS_WITH_AS(e->start(), doctest::Contains("pgxqd migrate"), pg::Error);
  }
  CHECK_THROWS_AS(queue::Engine(
                      [&] {
                        auto o = f.options();
                        o.table = "bad; drop table x";
                        return o;
                      }(),
                      {}, f.log.logger),
                  std::invalid_argument);
}

TEST_CASE("completion after a rescue meanwhile rolls back the handler's work") {
  EngineFixture f;
  auto rec = f.record_table();
  std::string table = f.table();
  queue::HandlerMap extra;
  extra["write_then_lose"] = [&](const queue::Job& job, queue::JobContext& ctx) {
    std::string id = std::to_string(job.id);
    std::vector<pg::Param> p{id};
    ctx.exec("INSERT INTO " + rec + " (job_id, value) VALUES ($1, 'should vanish')", p);
    // Another worker's rescuer takes the job back while this handler still runs.
    auto other = connect();
    other.exec("UPDATE " + table + " SET state = 'available', attempted_at = NULL WHERE id = $1", {id});
    return queue::Outcome::complete();
  };
  auto id = f.insert("write_then_lose", "{}", "default", 0, 1);
  auto o = f.options();
  o.poll_interval = 60s;  // only the initial claim: the job is not claimed a second time
  auto e = f.make_engine(o, extra);
  e->start();
  REQUIRE(wait_until([&] { return f.log.contains("rolled back"); }));
  e->stop();
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 0);
  CHECK(f.row(id).state == "available");
}

TEST_CASE("batched completer: 10,000 no-SQL jobs, every outcome recorded exactly once") {
  EngineFixture f;
  {
    // Bulk insert through plain SQL (the trigger notifies once per statement).
    f.db().exec("INSERT INTO " + f.table() +
                " (kind, args) SELECT CASE WHEN g % 10 = 0 THEN 'fail' ELSE 'noop' END,"
                " CASE WHEN g % 10 = 0 THEN '{\"times\": 1}'::jsonb ELSE '{}'::jsonb END FROM generate_series(1, 10000) g");
  }
  auto o = f.options();
  o.max_workers = 50;
  o.batch_size = 50;
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 10000; }, 180s));
  e->stop();
  CHECK(f.count("kind = 'noop' AND attempt <> 1") == 0);
  CHECK(f.count("kind = 'fail' AND attempt <> 2") == 0);
  auto s = e->stats()[0];
  CHECK(s.completed == 10000);
  CHECK(s.retried == 1000);
  CHECK(s.claimed == 11000);
}

TEST_CASE("NOTIFY wakes an idle producer long before the poll interval") {
  EngineFixture f;
  auto o = f.options();
  o.poll_interval = 60s;
  auto e = f.make_engine(o);
  auto first = f.insert("noop");
  e->start();
  REQUIRE(wait_state(f, first, "completed"));
  // The producer now sleeps for up to 60s; only a notification can wake it in time.
  auto second = f.insert("noop");
  CHECK(wait_state(f, second, "completed", 20s));
  e->stop();
}

TEST_CASE("reconnects after pg_terminate_backend of every engine connection") {
  EngineFixture f;
  auto o = f.options();
  o.poll_interval = 200ms;
  o.application_name = unique_name("pgxqd_reconnect");  // kill only this engine's sessions
  auto e = f.make_engine(o);
  auto rec = f.record_table();
  f.insert("record", record_args(rec, "before"));  // opens a handler connection
  f.insert("noop");                                 // opens the completer's connection
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 2; }));
  const std::string roles_sql =
      "SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE application_name IN"
      " ($1 || ' producer', $1 || ' listener', $1 || ' completer', $1 || ' handler')";
  REQUIRE(wait_until([&] { return scalar(f.db(), roles_sql, {o.application_name}) == 4; }));
  auto killed = scalar(f.db(),
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE application_name LIKE $1 || ' %'",
                       {o.application_name});
  CHECK(killed >= 4);  // producer, listener, completer, handler (and the rescuer)
  for (int i = 0; i < 20; ++i) f.insert("record", record_args(rec, "after " + std::to_string(i)));
  f.insert("noop");
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 23; }, 60s));
  e->stop();
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + rec) == 21);
  CHECK(scalar(f.db(), "SELECT count(DISTINCT job_id) FROM " + rec) == 21);
  CHECK(f.log.contains("database unavailable"));
}
