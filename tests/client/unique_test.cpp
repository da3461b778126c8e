// Unique keys against the real database: concurrent inserts of one key make one job and every
// caller learns its id and whether it inserted; a finished job frees its key; the key is per
// kind; insert_many skips taken keys; REPEATABLE READ reports the server's serialization failure;
// a table below migration 8 gets a clear error; go-pgxq's own INSERT still works on a v8 table;
// and README's SQL form (the "Unique jobs" section), run verbatim, does what it says.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <pgxq/client.hpp>

#include <barrier>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

pgxq_insert_opts keyed(const std::string& table, const char* key) {
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = table.c_str();
  o.unique_key = key;
  return o;
}

pgxq_insert_result insert_ex(pgxq::pg::Connection& conn, const char* kind, const pgxq_insert_opts& o) {
  pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
  pgxq_error err{};
  REQUIRE_MESSAGE(pgxq_insert_ex(conn.get(), kind, nullptr, &o, &r, &err) == 0, err.message, " ", err.sqlstate);
  return r;
}

}  // namespace

TEST_CASE("unique: ten connections inserting one key at once make one job, and all ten get its id") {
  TempTable table("uniq");
  constexpr int callers = 10;
  std::vector<pgxq::pg::Connection> conns;
  for (int i = 0; i < callers; ++i) conns.push_back(connect());
  std::barrier start(callers);
  std::mutex m;
  std::vector<pgxq_insert_result> results;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&, i] {
      pgxq_insert_opts o = keyed(table.name(), "report:2026-12-02");
      pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
      pgxq_error err{};
      start.arrive_and_wait();
      int rc = pgxq_insert_ex(conns[i].get(), "daily_report", "{}", &o, &r, &err);
      std::lock_guard lock(m);
      if (rc == 0) results.push_back(r);
      else errors.push_back(std::string(err.sqlstate) + " " + err.message);
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE_MESSAGE(errors.empty(), errors.front());
  REQUIRE(results.size() == callers);
  CHECK(count_rows(conns[0], table.name()) == 1);
  const int64_t id = scalar(conns[0], "SELECT id FROM " + table.name());
  int inserted = 0;
  for (const auto& r : results) {
    CHECK(r.id == id);
    inserted += r.inserted;
  }
  CHECK(inserted == 1);
}

TEST_CASE("unique: inserts waiting on an uncommitted holder get its id once it commits") {
  TempTable table("uniq");
  auto holder = connect();
  holder.exec("BEGIN");
  const pgxq_insert_opts o = keyed(table.name(), "k");
  const pgxq_insert_result first = insert_ex(holder, "sync", o);
  REQUIRE(first.inserted == 1);

  // Nine callers start while the holder's row is uncommitted: each INSERT waits for it.
  constexpr int waiters = 9;
  std::vector<pgxq::pg::Connection> conns;
  for (int i = 0; i < waiters; ++i) conns.push_back(connect());
  std::mutex m;
  std::vector<pgxq_insert_result> results;
  std::vector<std::thread> threads;
  for (int i = 0; i < waiters; ++i) {
    threads.emplace_back([&, i] {
      pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
      pgxq_error err{};
      if (pgxq_insert_ex(conns[i].get(), "sync", "{}", &o, &r, &err) != 0) r.id = -1;
      std::lock_guard lock(m);
      results.push_back(r);
    });
  }
  auto observer = connect();
  const bool all_waiting = wait_until([&] {
    return scalar(observer, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
                  {"%" + table.name() + "%ON CONFLICT%"}) == waiters;
  });
  holder.exec("COMMIT");
  for (auto& t : threads) t.join();
  CHECK(all_waiting);
  REQUIRE(results.size() == waiters);
  for (const auto& r : results) {
    CHECK(r.id == first.id);
    CHECK(r.inserted == 0);
  }
  CHECK(count_rows(observer, table.name()) == 1);
}

TEST_CASE("unique: an unfinished job holds its key, and a completed, failed or discarded one frees it") {
  TempTable table("uniq");
  auto conn = connect();
  const pgxq_insert_opts o = keyed(table.name(), "user:42");
  int64_t holder = insert_ex(conn, "welcome", o).id;
  for (const char* held : {"running", "available"}) {
    INFO("holder ", held);
    conn.exec("UPDATE " + table.name() + " SET state = $1::text, scheduled_at = now() + interval '1 day' WHERE id = $2::int8",
              {held, std::to_string(holder)});
    const auto again = insert_ex(conn, "welcome", o);
    CHECK(again.inserted == 0);
    CHECK(again.id == holder);
    pgxq_error err{};
    CHECK(pgxq_insert(conn.get(), "welcome", nullptr, &o, &err) == holder);  // the plain call returns it too
  }
  for (const char* finished : {"completed", "failed", "discarded"}) {
    INFO("holder became ", finished);
    conn.exec("UPDATE " + table.name() + " SET state = $1::text WHERE id = $2::int8", {finished, std::to_string(holder)});
    const auto next = insert_ex(conn, "welcome", o);
    CHECK(next.inserted == 1);
    CHECK(next.id != holder);
    holder = next.id;
  }
  CHECK(count_rows(conn, table.name(), "unique_key = 'user:42'") == 4);
  CHECK(count_rows(conn, table.name(), "unique_key = 'user:42' AND state IN ('available', 'running')") == 1);

  // Without a key nothing is unique; the result says "inserted" every time.
  pgxq_insert_opts plain = PGXQ_INSERT_OPTS_INIT;
  plain.table = table.name().c_str();
  CHECK(insert_ex(conn, "welcome", plain).inserted == 1);
  CHECK(insert_ex(conn, "welcome", plain).inserted == 1);
  CHECK(count_rows(conn, table.name(), "unique_key IS NULL") == 2);
}

TEST_CASE("unique: the key is per kind, and queue, args and schedule are not part of it") {
  TempTable table("uniq");
  auto conn = connect();
  pgxq_insert_opts o = keyed(table.name(), "order:7");
  const auto a = insert_ex(conn, "ship", o);
  const auto b = insert_ex(conn, "invoice", o);
  CHECK(a.inserted == 1);
  CHECK(b.inserted == 1);
  CHECK(a.id != b.id);

  o.queue = "other";
  o.has_delay = 1;
  o.delay_seconds = 3600;
  pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
  pgxq_error err{};
  REQUIRE(pgxq_insert_ex(conn.get(), "ship", R"({"different": true})", &o, &r, &err) == 0);
  CHECK(r.inserted == 0);
  CHECK(r.id == a.id);
  CHECK(count_rows(conn, table.name()) == 2);

  // The C++ header.
  pgxq::client::Options cpp;
  cpp.table = table.name();
  cpp.unique_key = "order:7";
  const auto c = pgxq::client::insert_ex(conn.get(), "ship", "{}", cpp);
  CHECK_FALSE(c.inserted);
  CHECK(c.id == a.id);
  cpp.unique_key = "order:8";
  CHECK(pgxq::client::insert_ex(conn.get(), "ship", "{}", cpp).inserted);
}

TEST_CASE("unique: bad keys and result structs are refused before anything is sent") {
  TempTable table("uniq");
  auto conn = connect();
  pgxq_error err{};
  pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
  pgxq_insert_opts o = keyed(table.name(), "");
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(contains(err.message, "unique_key must not be empty"));
  const std::string long_key(1001, 'x');
  o.unique_key = long_key.c_str();
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(contains(err.message, "unique_key is 1001 bytes"));
  o.unique_key = "fine";
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, nullptr, &err) == -1);
  CHECK(contains(err.message, "out is NULL"));
  r.struct_size = 4;
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(contains(err.message, "pgxq_insert_result.struct_size is 4"));
  CHECK(std::string(err.sqlstate).empty());
  CHECK(count_rows(conn, table.name()) == 0);
}

TEST_CASE("unique: insert_many skips specs whose key is taken and counts the jobs inserted") {
  TempTable table("uniq");
  auto conn = connect();
  const int64_t existing = insert_ex(conn, "mail", keyed(table.name(), "taken")).id;

  pgxq_insert_opts taken = keyed(table.name(), "taken"), fresh = keyed(table.name(), "fresh"),
                   quoted = keyed(table.name(), "a \"quoted\" key, with \\ and {braces}");
  quoted.has_priority = 1;
  quoted.priority = 3;
  quoted.has_delay = 1;
  quoted.delay_seconds = 60;
  std::vector<pgxq_job_spec> specs(6, pgxq_job_spec PGXQ_JOB_SPEC_INIT);
  const char* args[6] = {R"({"n": 0})", R"({"n": 1})", R"({"n": 2})", R"({"n": 3, "s": "tab\there"})", R"({"n": 4})",
                         nullptr};
  const pgxq_insert_opts* opts[6] = {&taken, &fresh, &fresh, &quoted, nullptr, nullptr};
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].kind = "mail";
    specs[i].args_json = args[i];
    specs[i].opts = opts[i];
  }
  pgxq_error err{};
  // Skipped: spec 0 (held by `existing`) and spec 2 (spec 1 took "fresh" first).
  REQUIRE_MESSAGE(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == 4, err.message);
  CHECK(count_rows(conn, table.name()) == 5);
  CHECK(count_rows(conn, table.name(), "unique_key = 'taken'") == 1);
  CHECK(count_rows(conn, table.name(), "unique_key = 'taken' AND id = " + std::to_string(existing)) == 1);
  CHECK(count_rows(conn, table.name(), "unique_key = 'fresh' AND args = '{\"n\": 1}'") == 1);
  CHECK(count_rows(conn, table.name(),
                   "unique_key = 'a \"quoted\" key, with \\ and {braces}' AND priority = 3 AND args->>'s' = E'tab\\there'"
                   " AND scheduled_at > now() + interval '50 seconds'") == 1);
  CHECK(count_rows(conn, table.name(), "unique_key IS NULL AND args IN ('{\"n\": 4}', '{}')") == 2);

  // The C++ header's batch.
  std::vector<pgxq::client::JobSpec> batch(3);
  for (auto& j : batch) {
    j.kind = "mail";
    j.options.unique_key = "fresh";
  }
  batch[2].options.unique_key = "cpp";
  CHECK(pgxq::client::insert_many(conn.get(), batch, table.name()) == 1);
}

TEST_CASE("unique: under REPEATABLE READ a key taken after the snapshot is the server's serialization failure") {
  TempTable table("uniq");
  auto tx = connect();
  auto other = connect();
  const pgxq_insert_opts o = keyed(table.name(), "rr");
  tx.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  tx.exec("SELECT count(*) FROM " + table.name());  // takes the snapshot
  insert_ex(other, "k", o);
  pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
  pgxq_error err{};
  CHECK(pgxq_insert_ex(tx.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(std::string(err.sqlstate) == "40001");
  CHECK(r.id == 0);  // untouched on failure
  tx.exec("ROLLBACK");

  // A holder the snapshot sees is found as under READ COMMITTED.
  tx.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  const auto found = insert_ex(tx, "k", o);
  CHECK(found.inserted == 0);
  CHECK(found.id == scalar(other, "SELECT id FROM " + table.name()));
  tx.exec("COMMIT");
}

TEST_CASE("unique: a table below migration 8 gets a clear error naming its version, and nothing is inserted") {
  const std::string name = unique_name("uniq_old");
  Cleanup drop("DROP TABLE IF EXISTS " + name + " CASCADE");
  auto conn = connect();
  exec_script(conn, go_pgxq_ddl(name));  // go-pgxq's table: no ledger entry, version 0
  pgxq_insert_opts o = keyed(name, "k");
  pgxq_insert_result r = PGXQ_INSERT_RESULT_INIT;
  pgxq_error err{};
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(std::string(err.sqlstate) == "42703");
  CHECK(contains(err.message, "job table " + name + " is at schema version 0; unique keys need migration 8: run `pgxqd migrate`"));
  pgxq_job_spec spec = PGXQ_JOB_SPEC_INIT;
  spec.kind = "k";
  spec.opts = &o;
  CHECK(pgxq_insert_many(conn.get(), name.c_str(), &spec, 1, &err) == -1);
  CHECK(contains(err.message, "is at schema version 0; unique keys need migration 8"));
  // Inside a transaction the version cannot be read any more: the error says what it shows.
  conn.exec("BEGIN");
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(contains(err.message, "is below schema version 7 (it has no unique_key column); unique keys need migration 8"));
  conn.exec("ROLLBACK");
  // Jobs without a key still go in.
  o.unique_key = nullptr;
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == 0);
  CHECK(count_rows(conn, name) == 1);

  // Migrated to 7 but without the unique index (as if migration 8 had not run).
  TempTable table("uniq");
  conn.exec("DROP INDEX idx_" + table.name() + "_unique");
  conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version = 8", {table.name()});
  o = keyed(table.name(), "k");
  CHECK(pgxq_insert_ex(conn.get(), "k", nullptr, &o, &r, &err) == -1);
  CHECK(std::string(err.sqlstate) == "42P10");
  CHECK(contains(err.message, "job table " + table.name() + " is at schema version 7; unique keys need migration 8"));
  CHECK(count_rows(conn, table.name()) == 0);
  pgxq_migrate(conn.get(), table.name().c_str(), &err);
  CHECK(insert_ex(conn, "k", o).inserted == 1);
}

TEST_CASE("unique: go-pgxq's own INSERT still works on a table at migration 8, beside keyed jobs") {
  TempTable table("uniq");
  auto conn = connect();
  insert_ex(conn, "k", keyed(table.name(), "go"));
  // go-pgxq v0.2.0's Insert statement (as in migrate_test.cpp): no unique_key, so never a conflict.
  const std::string go_insert = "INSERT INTO " + table.name() +
                                " (kind, args, queue, priority, scheduled_at, max_attempts)\n"
                                "VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6)\n"
                                "RETURNING id, kind, args, state, queue, priority, attempt, max_attempts,\n"
                                "          scheduled_at, created_at, attempted_at, completed_at, error";
  for (int i = 0; i < 2; ++i) {
    auto r = conn.exec(go_insert, {"k", "{\"from\": \"go\"}", "default", "0", std::nullopt, "5"});
    CHECK(r.rows() == 1);
  }
  CHECK(count_rows(conn, table.name(), "kind = 'k' AND unique_key IS NULL") == 2);
  CHECK(count_rows(conn, table.name(), "kind = 'k'") == 3);
}

namespace {

// The ```sql blocks of README.md's "### Unique jobs in SQL" section, in order.
std::vector<std::string> readme_unique_sql() {
  const std::string readme = read_file(source_dir() + "/README.md");
  const size_t section = readme.find("\n### Unique jobs in SQL\n");
  REQUIRE(section != std::string::npos);
  const size_t end = readme.find("\n#", section + 1);
  std::vector<std::string> blocks;
  for (size_t at = readme.find("```sql\n", section); at != std::string::npos && at < end;
       at = readme.find("```sql\n", at + 1)) {
    const size_t body = at + 7;
    blocks.push_back(readme.substr(body, readme.find("```", body) - body));
  }
  return blocks;
}

}  // namespace

TEST_CASE("unique: README's SQL form, run as written, inserts once and then finds the holder") {
  TempTable table("uniq");
  auto conn = connect();
  auto blocks = readme_unique_sql();
  REQUIRE(blocks.size() == 2);
  const std::string insert = replace_all(blocks[0], "pgxq_job", table.name());
  const std::string holder = replace_all(blocks[1], "pgxq_job", table.name());
  auto first = conn.exec(insert, {"send_digest", "{\"user\": 42}", "default", "digest:user:42"});
  REQUIRE(first.rows() == 1);
  const int64_t id = first.int64(0, 0);
  auto second = conn.exec(insert, {"send_digest", "{\"user\": 42}", "default", "digest:user:42"});
  CHECK(second.rows() == 0);
  auto found = conn.exec(holder, {"send_digest", "digest:user:42"});
  REQUIRE(found.rows() == 1);
  CHECK(found.int64(0, 0) == id);
  // libpgxq agrees with it.
  const auto lib = insert_ex(conn, "send_digest", keyed(table.name(), "digest:user:42"));
  CHECK(lib.inserted == 0);
  CHECK(lib.id == id);
  // Once the job is done the key is free again.
  conn.exec("UPDATE " + table.name() + " SET state = 'completed' WHERE id = " + std::to_string(id));
  CHECK(conn.exec(insert, {"send_digest", "{\"user\": 42}", "default", "digest:user:42"}).rows() == 1);
  CHECK(conn.exec(holder, {"send_digest", "digest:user:42"}).int64(0, 0) != id);
}
