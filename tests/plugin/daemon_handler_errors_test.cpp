// Handler errors through the real pgxqd binary: an exception escaping a C++ handler is a failed
// attempt, retried with backoff until max_attempts and then `failed` with "<type>: <what()>";
// pgxq::Discard still discards on the first attempt, and pgxq::Panic discards as a panic.
#include <doctest/doctest.h>

#include "plugin_test_support.hpp"
#include "reliability.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

TEST_CASE("pgxqd: a throwing C++ handler is retried and ends failed with <type>: <what()>, while Discard discards") {
  TempTable t("plugin_errors");
  auto c = connect();
  auto insert = [&](const std::string& kind, const std::string& args, int max_attempts) {
    return scalar(c, "INSERT INTO " + t.name() + " (kind, args, max_attempts) VALUES ($1, $2::jsonb, $3) RETURNING id",
                  {kind, args, std::to_string(max_attempts)});
  };
  const std::string missing = unique_name("no_such_greetings");
  const int64_t thrown = insert("throw", R"({"message": "kaboom"})", 3);
  const int64_t sql = insert("throw_sql", R"({"table": ")" + missing + R"("})", 2);
  const int64_t discarded = insert("discard", R"({"message": "bye"})", 3);
  const int64_t panicked = insert("throw_panic", "{}", 3);

  PluginDir plugins;
  plugins.add_plugin("testkit");
  plugins.add_fixture("throwing");
  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}});
  Daemon d(cfg.path, {}, {"--plugins-dir", plugins.path()});
  d.start();
  const auto db = conninfo();
  REQUIRE(wait_count(db, "SELECT count(*) FROM " + t.name() + " WHERE state IN ('failed', 'discarded')", 4,
                     std::chrono::seconds(60)));
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);

  struct Row {
    std::string state, error;
    int64_t attempt;
  };
  auto row = [&](int64_t id) {
    auto r = c.exec("SELECT state, coalesce(error, ''), attempt FROM " + t.name() + " WHERE id = $1",
                    {pg::Param(std::to_string(id))});
    REQUIRE(r.rows() == 1);
    return Row{std::string(r.text(0, 0)), std::string(r.text(0, 1)), r.int64(0, 2)};
  };
  INFO(d.log());
  auto r = row(thrown);
  CHECK(r.state == "failed");
  CHECK(r.attempt == 3);
  CHECK(r.error == "std::runtime_error: kaboom");
  r = row(sql);
  CHECK(r.state == "failed");
  CHECK(r.attempt == 2);
  CHECK(r.error == "pgxq::SqlError: relation \"" + missing + "\" does not exist (SQLSTATE 42P01)");
  r = row(discarded);
  CHECK(r.state == "discarded");
  CHECK(r.attempt == 1);
  CHECK(r.error == "discard: bye");
  r = row(panicked);
  CHECK(r.state == "discarded");
  CHECK(r.attempt == 1);
  CHECK(r.error == "panic: the sky fell");
}
