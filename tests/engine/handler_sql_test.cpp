// Handler SQL against exactly-once: a handler that ends the job's transaction itself (COMMIT,
// ROLLBACK, COMMIT AND CHAIN through exec), session state a handler leaves on its pooled
// connection (search_path, role, settings, advisory locks, temp tables, prepared statements,
// LISTEN) never reaching the next job, the engine's completion not redirected by a handler's
// temp table, and a commit the server refuses (a deferred constraint) recorded at once as a
// failed attempt with the server's error.
#include <doctest/doctest.h>

#include "engine_fixture.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

pg::Result run(queue::JobContext& ctx, const std::string& sql, std::initializer_list<pg::Param> params = {}) {
  return ctx.exec(sql, std::span<const pg::Param>(params.begin(), params.size()));
}

// One handler per transaction-ending statement: writes 'before', runs `statement`, then tries
// to write 'after' (recording in `refused` whether exec refused it), and returns complete.
queue::Handler ends_own_transaction(const std::string& rec, const std::string& statement,
                                    std::shared_ptr<std::atomic<int>> refused) {
  return [=](const queue::Job& job, queue::JobContext& ctx) {
    const std::string id = std::to_string(job.id);
    run(ctx, "INSERT INTO " + rec + " (job_id, value) VALUES ($1, 'before')", {id});
    run(ctx, statement);
    try {
      run(ctx, "INSERT INTO " + rec + " (job_id, value) VALUES ($1, 'after')", {id});
    } catch (const pg::Error& e) {
      if (e.sqlstate() == "2D000") ++*refused;
    }
    return queue::Outcome::complete();
  };
}

}  // namespace

TEST_CASE("a handler that ends the job's transaction itself fails the job, and nothing after it is kept") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  auto rec = f.record_table();
  auto refused = std::make_shared<std::atomic<int>>(0);
  queue::HandlerMap extra{{"commits", ends_own_transaction(rec, "COMMIT", refused)},
                          {"rolls_back", ends_own_transaction(rec, "ROLLBACK", refused)},
                          {"chains", ends_own_transaction(rec, "COMMIT AND CHAIN", refused)},
                          {"savepoint", [rec](const queue::Job& job, queue::JobContext& ctx) {
                             // Benign: the transaction stays open, so the work left commits with the job.
                             const std::string id = std::to_string(job.id);
                             run(ctx, "SAVEPOINT s");
                             run(ctx, "INSERT INTO " + rec + " (job_id, value) VALUES ($1, 'undone')", {id});
                             run(ctx, "ROLLBACK TO SAVEPOINT s");
                             run(ctx, "INSERT INTO " + rec + " (job_id, value) VALUES ($1, 'kept')", {id});
                             return queue::Outcome::complete();
                           }}};
  const int64_t commits = f.insert("commits"), rolls_back = f.insert("rolls_back"), chains = f.insert("chains"),
                savepoint = f.insert("savepoint");
  auto e = f.make_engine(f.options(), extra);
  e->start();
  REQUIRE(wait_state(f, savepoint, "completed"));
  REQUIRE(wait_state(f, commits, "failed"));
  REQUIRE(wait_state(f, rolls_back, "failed"));
  REQUIRE(wait_state(f, chains, "failed"));
  e->stop();

  for (auto [id, tag] : {std::pair{commits, "COMMIT"}, std::pair{rolls_back, "ROLLBACK"}, std::pair{chains, "COMMIT"}}) {
    auto row = f.row(id);
    CHECK(row.attempt == 1);  // final at once: a retry would repeat work the handler committed
    REQUIRE(row.error);
    CHECK(row.error->find(std::string("handler ended the job's transaction itself (") + tag) != std::string::npos);
  }
  CHECK(refused->load() == 3);
  auto values = [&](int64_t id) {
    return scalar_text(f.db(), "SELECT string_agg(value, ',' ORDER BY seq) FROM " + rec + " WHERE job_id = $1",
                       {std::to_string(id)});
  };
  // Committed by the handler's own COMMIT: cannot be undone, and is the only row.
  CHECK(values(commits) == std::optional<std::string>("before"));
  CHECK(values(chains) == std::optional<std::string>("before"));
  CHECK(values(rolls_back) == std::nullopt);
  CHECK(values(savepoint) == std::optional<std::string>("kept"));
}

TEST_CASE("session state a handler leaves on its connection does not reach the next job") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  auto role = unique_name("leak_role");
  auto seen = unique_name("seen");
  f.db().exec("CREATE ROLE " + role + " NOLOGIN");
  f.db().exec("GRANT ALL ON " + f.table() + " TO " + role);
  f.db().exec("CREATE TABLE " + seen +
              " (job_id bigint, pid int, search_path text, who text, timeout text, app text, advisory bigint,"
              " temp_table bool, prepared bigint, listening bigint)");
  f.db().exec("GRANT ALL ON " + seen + " TO " + role);
  const std::string probe =
      "INSERT INTO " + seen + " SELECT $1, pg_backend_pid(), current_setting('search_path'), current_user,"
      " current_setting('statement_timeout'), current_setting('application_name'),"
      " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),"
      " to_regclass('pg_temp.leaked') IS NOT NULL, (SELECT count(*) FROM pg_prepared_statements),"
      " (SELECT count(*) FROM pg_listening_channels())";
  queue::HandlerMap extra{
      {"dirty",
       [&](const queue::Job& job, queue::JobContext& ctx) {
         run(ctx, probe, {std::to_string(job.id)});  // the pid, and the state before
         for (const char* sql : {"SET search_path TO leaked_schema, public", "SET statement_timeout = '4321s'",
                                 "SET application_name = 'leaked'", "SELECT pg_advisory_lock(4242)",
                                 "CREATE TEMP TABLE leaked (x int)", "PREPARE leaked_stmt AS SELECT 1",
                                 "LISTEN leaked_channel"})
           run(ctx, sql);
         run(ctx, "SET ROLE " + role);
         return queue::Outcome::complete();
       }},
      {"probe", [&](const queue::Job& job, queue::JobContext& ctx) {
         run(ctx, probe, {std::to_string(job.id)});
         return queue::Outcome::complete();
       }}};
  // One connection, one worker: the probe runs on the very session the dirty job used.
  auto o = f.options();
  o.pool_size = 1;
  o.max_workers = 1;
  const int64_t dirty = f.insert("dirty", "{}", "default", 0), probe_id = f.insert("probe", "{}", "default", 1);
  auto e = f.make_engine(o, extra);
  e->start();
  REQUIRE(wait_state(f, dirty, "completed"));
  REQUIRE(wait_state(f, probe_id, "completed"));
  e->stop();

  auto r = f.db().exec("SELECT job_id, pid, search_path, who, timeout, app, advisory, temp_table, prepared, listening"
                       " FROM " + seen + " ORDER BY job_id");
  REQUIRE(r.rows() == 2);
  CHECK(r.text(0, 1) == r.text(1, 1));  // same backend
  for (int col = 2; col < r.columns(); ++col) {
    INFO("column " << r.column_name(col) << ": before '" << r.text(0, col) << "', next job '" << r.text(1, col)
                   << "'");
    CHECK(r.text(0, col) == r.text(1, col));
  }
  CHECK(r.text(1, 5).find("pgxqd") != std::string_view::npos);  // the session is named again
  f.db().exec("DROP TABLE " + seen);
  f.db().exec("DROP OWNED BY " + role);
  f.db().exec("DROP ROLE " + role);
}

TEST_CASE("a handler's temp table named like the job table does not take the job's completion") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  queue::HandlerMap extra{{"decoy", [&](const queue::Job& job, queue::JobContext& ctx) {
                             // pg_temp comes first in every search_path: an unqualified name finds this copy.
                             run(ctx, "CREATE TEMP TABLE " + f.table() + " AS SELECT * FROM public." + f.table() +
                                          " WHERE id = $1",
                                 {std::to_string(job.id)});
                             return queue::Outcome::complete();
                           }}};
  const int64_t id = f.insert("decoy");
  auto e = f.make_engine(f.options(), extra);
  e->start();
  REQUIRE(wait_state(f, id, "completed", 30s));
  e->stop();
}

TEST_CASE("a commit the server refuses is a failed attempt at once, with the server's error") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  auto unique = unique_name("deferred");
  f.db().exec("CREATE TABLE " + unique + " (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)");
  f.db().exec("INSERT INTO " + unique + " VALUES (1)");
  queue::HandlerMap extra{{"violates", [&](const queue::Job&, queue::JobContext& ctx) {
                             run(ctx, "INSERT INTO " + unique + " VALUES (1)");  // checked at COMMIT
                             return queue::Outcome::complete();
                           }}};
  const int64_t id = f.insert("violates", "{}", "default", 0, 2);
  auto o = f.options();
  o.rescue_after = std::chrono::hours(1);  // only a recorded failure can move the job
  auto e = f.make_engine(o, extra);
  e->start();
  REQUIRE(wait_state(f, id, "failed"));
  e->stop();
  auto row = f.row(id);
  CHECK(row.attempt == 2);
  REQUIRE(row.error);
  CHECK(row.error->find("could not be committed") != std::string::npos);
  CHECK(row.error->find("23505") != std::string::npos);
  CHECK(scalar(f.db(), "SELECT count(*) FROM " + unique) == 1);
  f.db().exec("DROP TABLE " + unique);
}
