// The real pgxqd binary's retry, cancel, pause, resume and purge: exit codes, messages and JSON,
// and bad input (ids, states, durations, queue names, an unreachable database) changing nothing.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "e2e.hpp"

using namespace pgxq::test;
namespace pg = pgxq::pg;

namespace {

RunResult pgxqd_cmd(const std::string& table, std::vector<std::string> args) {
  args.insert(args.begin(), pgxqd());
  args.push_back("--table");
  args.push_back(table);
  return run(std::move(args));
}

int64_t insert(const std::string& table, const std::string& state, const std::string& age = "0") {
  auto c = connect();
  return c.exec("INSERT INTO " + table + " (kind, args, state, attempt, completed_at, error) VALUES ('k', '{}', $1,"
                " CASE WHEN $1 = 'available' THEN 0 ELSE 2 END,"
                " CASE WHEN $1 IN ('completed', 'failed', 'discarded') THEN now() - $2::interval END,"
                " CASE WHEN $1 = 'failed' THEN 'boom' END) RETURNING id",
                {pg::Param(state), pg::Param(age)})
      .int64(0, 0);
}

// Every row's state, in id order: what "nothing changed" compares.
std::string snapshot(const std::string& table) {
  auto c = connect();
  return scalar_text(c, "SELECT string_agg(id || ':' || state || ':' || attempt, ',' ORDER BY id) FROM " + table)
             .value_or("") +
         "|" + std::to_string(scalar(c, "SELECT count(*) FROM " + table + "_pause")) + "|" +
         std::to_string(scalar(c, "SELECT count(*) FROM " + table + "_cancel"));
}

}  // namespace

TEST_CASE("steering commands: --help shows an example") {
  for (const char* cmd : {"retry", "cancel", "pause", "resume", "purge"}) {
    auto r = run({pgxqd(), cmd, "--help"});
    CHECK(r.code == 0);
    CHECK(r.out.find("Example") != std::string::npos);
    CHECK(r.out.find("--json") != std::string::npos);
  }
}

TEST_CASE("steering commands: bad input exits 64, says why, and changes nothing") {
  TempTable t("steer_cli_bad");
  const int64_t failed = insert(t.name(), "failed", "2 days");
  const int64_t available = insert(t.name(), "available");
  insert(t.name(), "completed", "3 days");
  const std::string before = snapshot(t.name());
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"retry"}, "nothing to retry"},
      {{"retry", "abc"}, "is not a job id"},
      {{"retry", "0"}, "is not a job id"},
      {{"retry", std::to_string(failed), "99999999"}, "no job with id 99999999"},
      {{"retry", "--state", "running"}, "only failed or discarded"},
      {{"retry", "--state", "completed"}, "only failed or discarded"},
      {{"retry", std::to_string(failed), "--state", "failed"}, "not both"},
      {{"retry", "--state", "failed", "--queue", ""}, "must not be empty"},
      {{"cancel"}, "nothing to cancel"},
      {{"cancel", std::to_string(available), "12345678"}, "no job with id 12345678"},
      {{"cancel", "--kind", "k", "--state", "completed"}, "only available or running"},
      {{"cancel", "-5"}, ""},
      {{"pause"}, ""},
      {{"pause", ""}, "must not be empty"},
      {{"pause", "ok", " spaced"}, "begins or ends with a space"},
      {{"resume", "bad\nname"}, "control character"},
      {{"purge", "--state", "running", "--older-than", "1d"}, "completed, discarded or failed"},
      {{"purge", "--state", "available", "--older-than", "1d"}, "completed, discarded or failed"},
      {{"purge", "--older-than", "1d"}, "completed, discarded or failed"},
      {{"purge", "--state", "completed"}, "--older-than is required"},
      {{"purge", "--state", "completed", "--older-than", "5"}, "--older-than 5"},
      {{"purge", "--state", "completed", "--older-than", "-1d"}, "--older-than -1d"},
      {{"purge", "--state", "completed", "--older-than", "1d", "--batch-size", "0"}, "--batch-size"},
  };
  for (const auto& c : cases) {
    auto r = pgxqd_cmd(t.name(), c.args);
    std::string shown;
    for (const auto& a : c.args) shown += a + " ";
    INFO("pgxqd ", shown, "-> ", r.code, ": ", r.err);
    CHECK(r.code == 64);
    if (!c.says.empty()) CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(snapshot(t.name()) == before);
  }
}

TEST_CASE("steering commands: an unreachable database exits 69, a missing table 1") {
  auto r = run({pgxqd(), "pause", "q", "--database", "host=/nonexistent-dir-for-pgxqd port=1"});
  CHECK(r.code == 69);
  auto m = run({pgxqd(), "purge", "--state", "completed", "--older-than", "1d", "--table", "no_such_table_x"});
  CHECK(m.code == 1);
  CHECK(m.err.find("pgxqd migrate") != std::string::npos);
}

TEST_CASE("retry and cancel by id: exit 1 when some ids were not changed, the others are, --json says which") {
  TempTable t("steer_cli_ids");
  const int64_t failed = insert(t.name(), "failed", "1 hour");
  const int64_t completed = insert(t.name(), "completed", "1 hour");
  auto r = pgxqd_cmd(t.name(), {"retry", std::to_string(failed), std::to_string(completed), "--json"});
  CHECK(r.code == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["retried"] == 1);
  CHECK(j["skipped"][0]["id"] == completed);
  auto c = connect();
  CHECK(scalar_text(c, "SELECT state || ':' || attempt || ':' || error FROM " + t.name() + " WHERE id = $1",
                    {pg::Param(std::to_string(failed))}) == std::string("available:0:boom"));

  auto x = pgxqd_cmd(t.name(), {"cancel", std::to_string(failed), std::to_string(completed)});
  CHECK(x.code == 1);
  CHECK(x.out.find("not cancellable: job " + std::to_string(completed) + " is already completed") != std::string::npos);
  CHECK(scalar_text(c, "SELECT state || ':' || error FROM " + t.name() + " WHERE id = $1",
                    {pg::Param(std::to_string(failed))}) == std::string("discarded:cancelled by operator"));
}

TEST_CASE("purge prints its batches and a summary, --dry-run and --json") {
  TempTable t("steer_cli_purge");
  for (int i = 0; i < 5; ++i) insert(t.name(), "completed", "3 days");
  const int64_t recent = insert(t.name(), "completed", "1 hour");
  auto dry = pgxqd_cmd(t.name(), {"purge", "--state", "completed", "--older-than", "1d", "--dry-run", "--json"});
  REQUIRE(dry.code == 0);
  auto j = nlohmann::json::parse(dry.out);
  CHECK(j["deleted"] == 5);
  CHECK(j["dry_run"] == true);
  CHECK(count_jobs(t.name(), "true") == 6);
  auto r = pgxqd_cmd(t.name(), {"purge", "--state", "completed", "--older-than", "1d", "--batch-size", "2"});
  REQUIRE(r.code == 0);
  CHECK(r.out.find("batch 3: deleted 1 job(s) (5 so far)") != std::string::npos);
  CHECK(r.out.find("deleted 5 completed job(s)") != std::string::npos);
  CHECK(count_jobs(t.name(), "true") == 1);
  CHECK(count_jobs(t.name(), "id = " + std::to_string(recent)) == 1);
}

TEST_CASE("pause and resume: stored rows, idempotent messages, a note for a queue no job uses") {
  TempTable t("steer_cli_pause");
  auto p = pgxqd_cmd(t.name(), {"pause", "nightly"});
  REQUIRE(p.code == 0);
  CHECK(p.out.find("paused queue nightly") != std::string::npos);
  CHECK(p.out.find("no available or running job has queue 'nightly'") != std::string::npos);
  auto again = pgxqd_cmd(t.name(), {"pause", "nightly", "--json"});
  REQUIRE(again.code == 0);
  auto j = nlohmann::json::parse(again.out);
  CHECK(j["queues"][0]["already_paused"] == true);
  CHECK(count_jobs(t.name() + "_pause", "queue = 'nightly'") == 1);
  auto r = pgxqd_cmd(t.name(), {"resume", "nightly"});
  CHECK(r.code == 0);
  CHECK(r.out.find("resumed queue nightly") != std::string::npos);
  CHECK(pgxqd_cmd(t.name(), {"resume", "nightly"}).out.find("was not paused") != std::string::npos);
  CHECK(count_jobs(t.name() + "_pause", "true") == 0);
}
