// The rescuer's reach and its isolation of a bad row: every kind of its queue is rescued (not
// only the kinds this engine handles), and one row the database refuses to rescue (a user
// trigger) stops only itself.
#include <doctest/doctest.h>

#include "engine_fixture.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

void orphan(EngineFixture& f, int64_t id) {
  f.db().exec("UPDATE " + f.table() +
                  " SET state = 'running', attempt = 1, attempted_at = now() - interval '2 hours' WHERE id = $1",
              {std::to_string(id)});
}

}  // namespace

TEST_CASE("the rescuer covers kinds no handler here runs, and a row it cannot rescue stops only itself") {
  EngineFixture f("rescue_iso");
  auto& db = f.db();
  const int64_t unhandled = f.insert("kind_of_a_removed_plugin");
  const int64_t refused = f.insert("noop");
  std::vector<int64_t> others;
  for (int i = 0; i < 5; ++i) others.push_back(f.insert("noop"));
  orphan(f, unhandled);
  orphan(f, refused);
  for (auto id : others) orphan(f, id);
  const std::string fn = f.table() + "_refuse";
  db.exec("CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
          " RAISE EXCEPTION 'job % may not be rescued', NEW.id; END $$");
  db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON " + f.table() + " FOR EACH ROW WHEN (NEW.id = " +
          std::to_string(refused) + " AND OLD.state = 'running') EXECUTE FUNCTION " + fn + "()");

  auto e = f.make_engine(f.options());  // rescue_after 1h: a pass at start
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == static_cast<int64_t>(others.size()); }, 60s));
  REQUIRE(wait_until([&] { return f.row(unhandled).state == "available"; }, 30s));
  REQUIRE(wait_until([&] { return f.log.contains("cannot be rescued"); }, 30s));
  e->stop();
  CHECK(f.row(unhandled).error.value_or("") == "rescued after attempt 1 of 5: worker lost");
  CHECK(f.row(refused).state == "running");
  CHECK(f.log.contains("may not be rescued"));
  db.exec("DROP FUNCTION " + fn + "() CASCADE");
}
