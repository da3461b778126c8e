// The example plugins: hello_c (pure C) and matview (C++), through the loader with a job
// context over a real transaction.
#include <doctest/doctest.h>

#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using queue::OutcomeCode;

TEST_CASE("hello_c: greets the name from args through the host log") {
  PluginDir dir;
  dir.add_plugin("hello_c");
  auto loaded = plugin::load_plugins(loader_options(dir.path()));
  auto conn = connect();
  TxContext ctx(conn);
  auto o = call(loaded, make_job("hello", R"({"name": "world"})"), ctx);
  CHECK(o.code == OutcomeCode::complete);
  REQUIRE(ctx.logs.size() == 1);
  CHECK(ctx.logs[0] == "plugin hello_c: Hello, world!");
  CHECK_FALSE(ctx.opened());  // inserts nothing

  TxContext ctx2(conn);
  o = call(loaded, make_job("hello", R"({"who": "x"})"), ctx2);
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message == "args: \"name\" is required (a string)");
}

TEST_CASE("hello_c: greeting setting, and a mistyped one refuses start-up") {
  PluginDir dir;
  dir.add_plugin("hello_c");
  auto options = loader_options(dir.path());
  options.settings["hello_c"].insert("greeting", "Hi");
  auto loaded = plugin::load_plugins(options);
  auto conn = connect();
  TxContext ctx(conn);
  call(loaded, make_job("hello", R"({"name": "ops"})"), ctx);
  REQUIRE(ctx.logs.size() == 1);
  CHECK(ctx.logs[0] == "plugin hello_c: Hi, ops!");

  auto bad = loader_options(dir.path());
  bad.settings["hello_c"].insert("greeting", 5);
  try {
    plugin::load_plugins(bad);
    FAIL("mistyped setting accepted");
  } catch (const plugin::LoadError& e) {
    CHECK(std::string(e.what()).find("init failed: [plugins.hello_c] setting \"greeting\" must be a string, found an "
                                     "integer") != std::string::npos);
  }
}

namespace {

struct Matview {
  Matview() : schema(unique_name("mv")) {
    dir.add_plugin("matview");
    loaded = plugin::load_plugins(loader_options(dir.path()));
    conn.exec("CREATE SCHEMA " + schema);
    conn.exec("CREATE TABLE " + schema + ".src (id int PRIMARY KEY)");
    conn.exec("CREATE MATERIALIZED VIEW " + schema + ".counts AS SELECT count(*) AS n FROM " + schema + ".src");
    conn.exec("CREATE UNIQUE INDEX ON " + schema + ".counts (n)");
    conn.exec("CREATE MATERIALIZED VIEW " + schema + ".plain AS SELECT count(*) AS n FROM " + schema + ".src");
    conn.exec("INSERT INTO " + schema + ".src SELECT generate_series(1, 3)");
  }
  ~Matview() {
    try {
      conn.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    } catch (...) {
    }
  }
  queue::Outcome run(const std::string& args) {
    TxContext ctx(conn);
    return call(loaded, make_job("refresh_matview", args), ctx);
  }
  int64_t count(const std::string& view) { return scalar(conn, "SELECT n FROM " + schema + "." + view); }
  std::string schema;
  PluginDir dir;
  plugin::LoadedPlugins loaded;
  pg::Connection conn = connect();
};

}  // namespace

TEST_CASE("matview: refreshes a view in the job's transaction, plain and concurrently") {
  Matview m;
  CHECK(m.count("counts") == 0);
  auto o = m.run(R"({"view": ")" + m.schema + R"(.counts"})");
  CHECK(o.code == OutcomeCode::complete);
  CHECK(m.count("counts") == 3);

  m.conn.exec("INSERT INTO " + m.schema + ".src VALUES (4)");
  o = m.run(R"({"view": ")" + m.schema + R"(.counts", "concurrently": true})");
  CHECK(o.code == OutcomeCode::complete);
  CHECK(m.count("counts") == 4);
}

TEST_CASE("matview: unknown view and impossible CONCURRENTLY are discards with the server's message") {
  Matview m;
  auto o = m.run(R"({"view": ")" + m.schema + R"(.nope"})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message.find("does not exist") != std::string::npos);
  o = m.run(R"({"view": ")" + m.schema + R"(.plain", "concurrently": true})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message.find("cannot refresh materialized view") != std::string::npos);
  CHECK(m.count("plain") == 0);
}

TEST_CASE("matview: view names are validated before any SQL") {
  Matview m;
  for (const char* bad : {R"({"view": "x; DROP TABLE y"})", R"({"view": "a.b.c"})", R"({"view": "\"q\""})",
                          R"({"view": ""})", R"({"view": "1abc"})"}) {
    auto o = m.run(bad);
    CHECK(o.code == OutcomeCode::discard);
    CHECK(o.message.find("\"view\" must be") != std::string::npos);
  }
  auto o = m.run(R"({"view": 5})");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message == "args: \"view\" must be a string, got a number");
}
