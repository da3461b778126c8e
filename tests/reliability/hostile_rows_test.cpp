// Hostile rows: every value the job table's schema accepts, written with plain SQL beside a few
// hundred ordinary jobs, through the real pgxqd. No row may stop the queue: each ordinary job
// completes, and each hostile row ends in the state the README documents for it — run
// normally when it can be, failed with an error that says why when it cannot, left alone when
// it is not due. Also: the rescuer's reach (every kind of its queue, running rows with
// attempted_at values no claim writes), and a row that no claim can return at all (a user
// trigger), which is isolated and failed while the others flow.
#include <doctest/doctest.h>

#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct Hostile {
  const char* what;
  std::string columns;  // after kind
  std::string values;
  const char* kind = "noop";
  const char* state = "completed";  // where it must end
  const char* error_has = "";       // a part of its error ("" = not checked)
  int64_t id = 0;
};

}  // namespace

TEST_CASE("hostile rows: every value the schema accepts, and the ordinary jobs beside them all complete") {
  TempTable t("rel_hostile");
  const auto db = conninfo();
  auto c = connect();
  const int ordinary = 300;
  const std::string big_args = "jsonb_build_object('pad', repeat('a', 5 * 1024 * 1024))";
  std::vector<Hostile> rows = {
      {"scheduled_at -infinity", "scheduled_at", "'-infinity'"},
      {"scheduled_at infinity: not due, stays available", "scheduled_at", "'infinity'", "noop", "available"},
      {"scheduled_at at the earliest timestamp", "scheduled_at", "'4714-11-24 00:00:00+00 BC'"},
      {"created_at -infinity", "created_at", "'-infinity'"},
      {"created_at infinity", "created_at", "'infinity'"},
      {"created_at at the latest timestamp", "created_at", "'294276-12-31 23:59:59+00'"},
      {"attempted_at and completed_at infinite on an available row", "attempted_at, completed_at",
       "'infinity', '-infinity'"},
      {"priority at the smallint's bottom", "priority", "-32768"},
      {"priority at the smallint's top", "priority", "32767"},
      {"priority -32768 and scheduled_at -infinity", "priority, scheduled_at", "-32768, '-infinity'"},
      {"attempt at the smallint's top", "attempt, max_attempts", "32767, 32767", "noop", "failed",
       "failed: attempt counter exhausted"},
      {"attempt at the smallint's top, more attempts allowed than it holds", "attempt, max_attempts", "32767, 5",
       "noop", "failed", "failed: attempt counter exhausted"},
      {"attempt one below the top: runs as attempt 32767", "attempt, max_attempts", "32766, 32767"},
      {"attempt one below the top, handler fails: failed, no overflow", "attempt, max_attempts", "32766, 32767",
       "fail", "failed", "fail"},
      {"attempt at the smallint's bottom", "attempt", "-32768"},
      {"attempt already at max_attempts: runs once more", "attempt, max_attempts", "5, 5"},
      {"attempt beyond max_attempts, handler fails: failed at once", "attempt, max_attempts", "9, 5", "fail", "failed",
       "fail"},
      {"max_attempts 0", "max_attempts", "0"},
      {"max_attempts 0, handler fails: failed at once", "max_attempts", "0", "fail", "failed", "fail"},
      {"max_attempts at the smallint's bottom, handler fails", "max_attempts", "-32768", "fail", "failed", "fail"},
      {"args an array", "args", "'[1,2,3]'"},
      {"args a string", "args", "'\"text\"'"},
      {"args JSON null", "args", "'null'"},
      {"args a number", "args", "'42'"},
      {"args of 5 MB", "args", big_args},
      {"an error of 10 MB already recorded", "error", "repeat('e', 10 * 1024 * 1024)"},
      {"a failing handler's message of 1 MB", "args, max_attempts",
       "jsonb_build_object('message', repeat('m', 1024 * 1024)), 1", "fail", "failed", "mmmm ... (truncated)"},
      {"id at bigint's top", "id", "9223372036854775807"},
      {"id at bigint's bottom", "id", "-9223372036854775808"},
      {"scheduled_at infinity, a failing kind: stays available", "scheduled_at", "'infinity'", "fail", "available"},
      // Running rows the rescuer meets (rescue_after is an hour): attempted_at that no claim
      // writes is rescued at once; an old one as usual.
      {"running, attempted_at NULL", "state, attempt, attempted_at", "'running', 1, NULL"},
      {"running, attempted_at -infinity", "state, attempt, attempted_at", "'running', 1, '-infinity'"},
      {"running, attempted_at infinity", "state, attempt, attempted_at", "'running', 1, 'infinity'"},
      {"running, attempted_at in the year 3000", "state, attempt, attempted_at", "'running', 1, '3000-01-01'"},
      {"running two hours, attempts used up", "state, attempt, max_attempts, attempted_at",
       "'running', 3, 3, now() - interval '2 hours'", "noop", "failed", "rescued after attempt 3 of 3"},
      {"running, attempted_at NULL, attempt at the smallint's top", "state, attempt, max_attempts, attempted_at",
       "'running', 32767, 32767, NULL", "noop", "failed", "rescued after attempt 32767 of 32767"},
      // The rescuer covers every kind of its queue: no plugin handles this one any more.
      {"running two hours, a kind no plugin handles", "state, attempt, attempted_at",
       "'running', 1, now() - interval '2 hours'", "kind_of_a_removed_plugin", "available",
       "rescued after attempt 1 of 5: worker lost"},
  };
  for (auto& h : rows) {
    const bool explicit_id = h.columns == "id";
    h.id = scalar(c, "INSERT INTO " + t.name() + " (kind, " + h.columns + ")" +
                         (explicit_id ? " OVERRIDING SYSTEM VALUE" : "") + " VALUES ('" + h.kind + "', " + h.values +
                         ") RETURNING id");
  }
  c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, " +
         std::to_string(ordinary) + ")");
  const auto ids = [&] {
    std::string s;
    for (auto& h : rows) s += (s.empty() ? "" : ",") + std::to_string(h.id);
    return s;
  }();
  const std::string ordinary_done = "SELECT count(*) FROM " + t.name() + " WHERE id NOT IN (" + ids +
                                    ") AND state = 'completed'";

  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"batch_size", "10"}, {"max_workers", "4"}});
  Daemon d(cfg.path);
  d.start();
  REQUIRE(wait_count(db, ordinary_done, ordinary, std::chrono::seconds(120)));
  // Every hostile row settles where it belongs (the ones that stay available are checked below).
  std::string settled_sql = "SELECT count(*) FROM " + t.name() + " WHERE ";
  int expected = 0;
  for (auto& h : rows) {
    settled_sql += (expected ? " OR " : "") + std::string("(id = ") + std::to_string(h.id) + " AND state = '" +
                   h.state + "')";
    ++expected;
  }
  const bool settled = wait_count(db, settled_sql, expected, std::chrono::seconds(60));
  for (auto& h : rows) {
    INFO(h.what);
    auto r = c.exec("SELECT state, left(coalesce(error, ''), 200000), attempt FROM " + t.name() + " WHERE id = $1",
                    {pg::Param(std::to_string(h.id))});
    REQUIRE(r.rows() == 1);
    CHECK(r.text(0, 0) == std::string(h.state));
    if (*h.error_has) CHECK(has(std::string(r.text(0, 1)), h.error_has));
  }
  CHECK(settled);
  // Not due: never claimed.
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() +
                      " WHERE scheduled_at = 'infinity' AND attempt = 0 AND attempted_at IS NULL") == 2);
  // A failure's error text is bounded, whatever the handler said.
  CHECK(scalar(c, "SELECT max(octet_length(error)) FROM " + t.name() + " WHERE kind = 'fail'") < 20000);
  const std::string log = d.log();
  CHECK(!has(log, "cannot convert infinity"));
  CHECK(!has(log, "out of range"));
  REQUIRE(d.running());
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
  // Nothing was left behind running, and no attempt went below the smallint's range.
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE state = 'running'") == 0);
  MESSAGE("hostile rows: ", rows.size(), ", ordinary jobs: ", ordinary, " (all completed)");
}

TEST_CASE("a row that no claim can return (a trigger refuses it) is failed with the error, every other job runs") {
  TempTable t("rel_unclaimable");
  const auto db = conninfo();
  auto c = connect();
  const int ordinary = 200;
  c.exec("INSERT INTO " + t.name() + " (kind, args) SELECT 'noop', '{}' FROM generate_series(1, " +
         std::to_string(ordinary) + ")");
  // First in line, so it is among the candidates of every claim until it is dealt with.
  auto bad = scalar(c, "INSERT INTO " + t.name() + " (kind, priority) VALUES ('noop', -1) RETURNING id");
  const std::string fn = t.name() + "_refuse";
  c.exec("CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
         " RAISE EXCEPTION 'job % may not run', NEW.id; END $$");
  c.exec("CREATE TRIGGER refuse BEFORE UPDATE ON " + t.name() + " FOR EACH ROW WHEN (NEW.id = " +
         std::to_string(bad) + " AND NEW.state = 'running') EXECUTE FUNCTION " + fn + "()");

  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}, {"batch_size", "10"}, {"max_workers", "4"}});
  Daemon d(cfg.path);
  d.start();
  REQUIRE(wait_count(db, "SELECT count(*) FROM " + t.name() + " WHERE state = 'completed'", ordinary,
                     std::chrono::seconds(120)));
  REQUIRE(wait_count(db, "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(bad) +
                             " AND state = 'failed'", 1, std::chrono::seconds(30)));
  auto error = scalar_text(c, "SELECT error FROM " + t.name() + " WHERE id = " + std::to_string(bad));
  REQUIRE(error);
  INFO(*error);
  CHECK(has(*error, "failed: the job cannot be claimed"));
  CHECK(has(*error, "may not run"));
  CHECK(has(*error, "P0001"));
  REQUIRE(d.running());
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
  c.exec("DROP FUNCTION " + fn + "() CASCADE");
}
