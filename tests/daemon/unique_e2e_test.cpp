// End-to-end: unique keys through the real pgxqd binary — `enqueue --unique-key` says whether it
// inserted or found the job already there (text and --json), a table below migration 8 gets a
// clear error, the daemon works keyed jobs (a retried attempt keeps its key, a finished job frees
// it), and `retry` leaves a job whose key another unfinished job holds while retrying the rest.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>

#include "e2e.hpp"

using namespace pgxq::test;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

RunResult pgxqd_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), pgxqd());
  return run(std::move(args));
}

// `pgxqd enqueue KIND {} --unique-key KEY --table T [extra...]`.
RunResult enqueue_keyed(const std::string& table, const std::string& kind, const std::string& key,
                        std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"enqueue", kind, "{}", "--unique-key", key, "--table", table};
  args.insert(args.end(), extra.begin(), extra.end());
  return pgxqd_cmd(std::move(args));
}

int64_t leading_id(const std::string& out) { return std::stoll(out); }

}  // namespace

TEST_CASE("enqueue --unique-key: prints the id and whether it inserted, in text and JSON, exit 0 both times") {
  TempTable t("e2e_uniq");
  auto first = enqueue_keyed(t.name(), "noop", "user:42");
  REQUIRE_MESSAGE(first.code == 0, first.err);
  const int64_t id = leading_id(first.out);
  CHECK(first.out == std::to_string(id) + " inserted\n");

  auto again = enqueue_keyed(t.name(), "noop", "user:42");
  REQUIRE_MESSAGE(again.code == 0, again.err);
  CHECK(again.out == std::to_string(id) + " already there: job " + std::to_string(id) +
                         " (noop) holds unique key 'user:42'; nothing was inserted\n");

  auto json = enqueue_keyed(t.name(), "noop", "user:42", {"--json"});
  REQUIRE_MESSAGE(json.code == 0, json.err);
  CHECK(contains(json.out, "\"id\":" + std::to_string(id) + ","));
  CHECK(contains(json.out, "\"inserted\":false"));
  CHECK(contains(json.out, "\"unique_key\":\"user:42\""));

  auto other_kind = enqueue_keyed(t.name(), "sleep", "user:42", {"--json"});
  REQUIRE_MESSAGE(other_kind.code == 0, other_kind.err);
  CHECK(contains(other_kind.out, "\"inserted\":true"));
  CHECK(count_jobs(t.name(), "unique_key = 'user:42'") == 2);

  // Without a key the output is the id alone, as before.
  auto plain = pgxqd_cmd({"enqueue", "noop", "{}", "--table", t.name()});
  REQUIRE_MESSAGE(plain.code == 0, plain.err);
  CHECK(plain.out == std::to_string(leading_id(plain.out)) + "\n");

  // stdin lines with keys: taken ones are skipped and counted.
  auto batch = run({pgxqd(), "enqueue", "--stdin", "--table", t.name()}, {},
                   std::string(R"({"kind":"noop","unique_key":"user:42"})") + "\n" + R"({"kind":"noop","unique_key":"user:43"})" +
                       "\n" + R"({"kind":"noop","unique_key":"user:43"})" + "\n");
  REQUIRE_MESSAGE(batch.code == 0, batch.err);
  CHECK(batch.out == "1 inserted, 2 skipped (their unique key was taken)\n");
  CHECK(count_jobs(t.name(), "kind = 'noop' AND unique_key IS NOT NULL") == 2);
  auto batch_json = run({pgxqd(), "enqueue", "--stdin", "--json", "--table", t.name()}, {},
                        std::string(R"({"kind":"noop","unique_key":"user:43"})") + "\n" + R"({"kind":"noop"})" + "\n");
  REQUIRE_MESSAGE(batch_json.code == 0, batch_json.err);
  CHECK(batch_json.out == "{\"inserted\":1,\"skipped\":1}\n");

  // An empty key is bad input: exit 64, nothing inserted.
  auto empty = enqueue_keyed(t.name(), "noop", "");
  CHECK(empty.code == 64);
  CHECK(contains(empty.err, "unique_key must not be empty"));
  CHECK(count_jobs(t.name(), "true") == 5);
}

TEST_CASE("enqueue --unique-key on a table below migration 8: a clear error naming pgxqd migrate, nothing inserted") {
  TempTable t("e2e_uniq");
  {
    auto conn = connect();
    conn.exec("DROP INDEX idx_" + t.name() + "_unique");
    conn.exec("DELETE FROM pgxq_schema_migrations WHERE job_table = $1 AND version = 8", {t.name()});
  }
  auto r = enqueue_keyed(t.name(), "noop", "k");
  CHECK(r.code == 1);
  CHECK(contains(r.err, "job table " + t.name() + " is at schema version 7; unique keys need migration 8: run `pgxqd migrate`"));
  CHECK(count_jobs(t.name(), "true") == 0);
  auto migrated = pgxqd_cmd({"migrate", "--table", t.name()});
  REQUIRE_MESSAGE(migrated.code == 0, migrated.err);
  CHECK(enqueue_keyed(t.name(), "noop", "k").code == 0);
}

TEST_CASE("run: pgxqd works keyed jobs like any other, and a key is free again once its job has finished") {
  TempTable t("e2e_uniq");
  std::vector<int64_t> first_ids;
  for (const char* key : {"a", "b", "c"}) {
    auto r = enqueue_keyed(t.name(), "noop", key);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    first_ids.push_back(leading_id(r.out));
  }
  // A keyed job that fails once goes back to available with its key (the same row) and then completes.
  auto flaky = pgxqd_cmd({"enqueue", "fail", R"({"times": 1})", "--unique-key", "flaky", "--table", t.name()});
  REQUIRE_MESSAGE(flaky.code == 0, flaky.err);

  TestConfig cfg(t.name());
  Process p(run_argv(cfg.path));
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'completed'") == 4; }));
  CHECK(count_jobs(t.name(), "unique_key = 'flaky' AND state = 'completed' AND attempt = 2") == 1);

  // Finished jobs free their keys: the same keys make new jobs, and the daemon works those too.
  for (const char* key : {"a", "b", "c"}) {
    auto r = enqueue_keyed(t.name(), "noop", key);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(contains(r.out, " inserted"));
    CHECK(std::find(first_ids.begin(), first_ids.end(), leading_id(r.out)) == first_ids.end());
  }
  REQUIRE(wait_until([&] { return count_jobs(t.name(), "state = 'completed'") == 7; }));
  CHECK(count_jobs(t.name(), "unique_key IN ('a', 'b', 'c') AND state = 'completed'") == 6);
  p.signal(SIGTERM);
  auto code = p.wait();
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("retry: a job whose unique key another unfinished job holds is not retried, and the others are") {
  TempTable t("e2e_uniq");
  auto conn = connect();
  auto insert = [&](const std::string& state, const std::optional<std::string>& key) {
    return conn
        .exec("INSERT INTO " + t.name() +
                  " (kind, state, unique_key, completed_at) VALUES ('mail', $1::text, $2::text,"
                  " CASE WHEN $1::text IN ('failed', 'discarded') THEN now() END) RETURNING id",
              {pgxq::pg::Param(state), key ? pgxq::pg::Param(*key) : pgxq::pg::Param()})
        .int64(0, 0);
  };
  const int64_t failed_taken = insert("failed", "k1");
  const int64_t holder = insert("available", "k1");
  const int64_t failed_free = insert("discarded", "k2");
  const int64_t plain = insert("failed", std::nullopt);
  const int64_t twin_a = insert("failed", "k3");
  const int64_t twin_b = insert("failed", "k3");

  SUBCASE("by id") {
    auto r = pgxqd_cmd({"retry", std::to_string(failed_taken), std::to_string(failed_free), std::to_string(plain),
                        std::to_string(twin_a), std::to_string(twin_b), "--table", t.name()});
    CHECK(r.code == 1);
    CHECK(contains(r.out, "retried 3 job(s)"));
    CHECK(contains(r.out, "not retried: job " + std::to_string(failed_taken) + " is failed, and its unique key 'k1' (kind mail) is held by job " +
                              std::to_string(holder) + " (available)"));
    CHECK(contains(r.out, "not retried: job " + std::to_string(twin_b) + " is failed, and its unique key 'k3' (kind mail) is held by job " +
                              std::to_string(twin_a) + " (retried by this same command)"));
  }
  SUBCASE("in bulk, one job per batch") {
    auto r = pgxqd_cmd({"retry", "--state", "failed", "--batch-size", "1", "--table", t.name(), "--json"});
    CHECK(r.code == 1);
    CHECK(contains(r.out, "\"retried\": 2"));
    CHECK(contains(r.out, "\"key_taken\": 2"));
    CHECK(contains(r.out, "\"holder\": " + std::to_string(holder)));
    CHECK(contains(r.out, "\"holder\": " + std::to_string(twin_a)));
    auto d = pgxqd_cmd({"retry", "--state", "discarded", "--table", t.name()});
    CHECK(d.code == 0);
  }
  SUBCASE("in bulk, all in one batch") {
    auto r = pgxqd_cmd({"retry", "--state", "failed", "--table", t.name()});
    CHECK(r.code == 1);
    CHECK(contains(r.out, "retried 2 failed job(s)"));
    CHECK(contains(r.out, "not retried: job " + std::to_string(failed_taken)));
    CHECK(contains(r.out, "not retried: job " + std::to_string(twin_b) + " is failed, and its unique key 'k3' (kind mail) is held by job " +
                              std::to_string(twin_a) + " (retried by this same command)"));
    auto d = pgxqd_cmd({"retry", "--state", "discarded", "--table", t.name()});
    CHECK(d.code == 0);
  }
  const std::string id = "id = ";
  CHECK(count_jobs(t.name(), id + std::to_string(failed_taken) + " AND state = 'failed'") == 1);
  CHECK(count_jobs(t.name(), id + std::to_string(twin_b) + " AND state = 'failed'") == 1);
  for (int64_t retried : {failed_free, plain, twin_a})
    CHECK(count_jobs(t.name(), id + std::to_string(retried) + " AND state = 'available' AND attempt = 0") == 1);
  CHECK(count_jobs(t.name(), "state IN ('available', 'running') AND unique_key IS NOT NULL") == 3);
}
