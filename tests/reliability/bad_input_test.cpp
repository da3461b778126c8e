// Bad input gets a clear error and changes nothing: jobs written with plain SQL that the
// handler cannot use (wrong shapes, 10 MB args, a 10,000-character kind, NUL bytes that
// PostgreSQL itself refuses), CLI arguments and config files in every invalid form not already
// covered by tests/daemon — each through the real binary, checking the exit code, the message
// and that no table was touched.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "pg/error.hpp"
#include "reliability.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
std::string pgxqd() { return bin_dir() + "/pgxqd"; }

// The SQLSTATE PostgreSQL answers `sql` with ("" if it succeeds).
std::string sqlstate_of(pg::Connection& c, const std::string& sql) {
  try {
    c.exec(sql);
  } catch (const pg::Error& e) {
    return e.sqlstate();
  }
  return "";
}

}  // namespace

TEST_CASE("jobs the handler cannot use: discarded with the handler's message and the daemon keeps working") {
  TempTable t("rel_badjob");
  auto rec = unique_name("rel_badjob_rec");
  const auto db = conninfo();
  create_record_table(db, rec);
  auto c = connect();
  auto insert = [&](const std::string& kind, const std::string& args_sql) {
    return scalar(c, "INSERT INTO " + t.name() + " (kind, args, max_attempts) VALUES (" + kind + ", " + args_sql +
                         ", 1) RETURNING id");
  };
  struct Case {
    const char* what;
    int64_t id;
    const char* state;
    std::string error_has;
  };
  const std::string ten_mb(10 * 1024 * 1024, 'x');
  std::vector<Case> cases = {
      {"sleep with a string for ms", insert("'sleep'", R"('{"ms":"abc"}')"), "discarded",
       R"(args: "ms" must be an integer, got a string)"},
      {"sleep with a fraction", insert("'sleep'", R"('{"ms":1.5}')"), "discarded", R"(args: "ms" must be an integer)"},
      {"sleep with a huge number", insert("'sleep'", R"('{"ms":1e300}')"), "discarded", R"(args: "ms" must be an integer)"},
      {"sleep with an array for args", insert("'sleep'", "'[1,2]'"), "discarded", "args: expected a JSON object"},
      {"sleep with a string for args", insert("'sleep'", R"('"ms"')"), "discarded", "args: expected a JSON object"},
      {"sleep with JSON null args", insert("'sleep'", "'null'"), "discarded", "args: expected a JSON object"},
      {"record without a table", insert("'record'", "'{}'"), "discarded", R"(args: "table" is required)"},
      {"record into an injected table name", insert("'record'", R"('{"table":"x; drop table y"}')"), "discarded",
       R"(args: "table" is not a valid table name: "x; drop table y")"},
      {"record into a missing table", insert("'record'", R"('{"table":"no_such_table_rel"}')"), "failed",
       "no_such_table_rel"},
      {"record with a bad then", insert("'record'", R"('{"table":")" + rec + R"(","then":"explode"}')"), "discarded",
       R"(args: "then" must be complete, fail or discard (got "explode"))"},
      {"discard with a 10 MB message", insert("'discard'", "jsonb_build_object('message', repeat('x', 10485760))"),
       "discarded", "discard: xxxxxxxx"},
      {"fail with a nested object as message", insert("'fail'", R"('{"message":{"a":[1,2,{"b":null}]}}')"), "discarded",
       R"(args: "message" must be a string, got an object)"},
  };
  // 10 MB of args that the handler can use: the work is done, once.
  auto big = insert("'record'", "jsonb_build_object('table', '" + rec + "'::text, 'value', repeat('y', 10485760))");
  // A kind of 10,000 characters has no handler: never claimed, stays available at attempt 0.
  auto long_kind = insert("repeat('k', 10000)", "'{}'");

  DaemonConfig cfg(t.name(), {{"poll_interval", "\"100ms\""}});
  Daemon d(cfg.path);
  d.start();
  auto settled = "SELECT count(*) FROM " + t.name() + " WHERE state IN ('completed','discarded','failed')";
  REQUIRE(wait_count(db, settled, static_cast<int64_t>(cases.size()) + 1, std::chrono::seconds(60)));
  for (auto& k : cases) {
    INFO(k.what);
    auto row = c.exec("SELECT state, coalesce(error, '') FROM " + t.name() + " WHERE id = $1", {pg::Param(std::to_string(k.id))});
    REQUIRE(row.rows() == 1);
    CHECK(row.text(0, 0) == std::string(k.state));
    CHECK(has(std::string(row.text(0, 1)).substr(0, 4096), k.error_has));
  }
  CHECK(scalar_text(c, "SELECT state FROM " + t.name() + " WHERE id = " + std::to_string(big)) == "completed");
  CHECK(scalar(c, "SELECT count(*) FROM " + rec + " WHERE job_id = " + std::to_string(big) + " AND length(value) = 10485760") == 1);

  // The daemon still works: later jobs complete, and the long kind was passed over each time.
  auto later = insert("'noop'", "'{}'");
  REQUIRE(wait_count(db, "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(later) + " AND state = 'completed'", 1, std::chrono::seconds(30)));
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(long_kind) +
                      " AND state = 'available' AND attempt = 0 AND attempted_at IS NULL") == 1);
  REQUIRE(d.running());
  auto code = d.stop();
  REQUIRE(code);
  CHECK(*code == 0);
  MESSAGE("bad jobs tried: ", cases.size() + 2, " (all settled with the handler's message; daemon kept working)");
  c.exec("DROP TABLE IF EXISTS " + rec);
}

TEST_CASE("NUL bytes and invalid UTF-8 never reach the table: PostgreSQL refuses them at INSERT") {
  TempTable t("rel_nul");
  auto c = connect();
  const std::string ins = "INSERT INTO " + t.name() + " (kind, args) VALUES ";
  CHECK(sqlstate_of(c, ins + R"(('noop', '{"a":"\u0000"}'))") == "22P05");  // untranslatable_character
  CHECK(sqlstate_of(c, ins + R"((E'no\x00op', '{}'))") == "22021");           // character_not_in_repertoire
  CHECK(sqlstate_of(c, ins + R"((E'\xff\xfe', '{}'))") == "22021");
  CHECK(sqlstate_of(c, ins + R"(('noop', E'{"a":"\xc3\x28"}'))") == "22021");
  CHECK(sqlstate_of(c, ins + R"(('noop', '{"a":'))") == "22P02");              // invalid_text_representation
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name()) == 0);
  // Through the CLI: a NUL escape is refused before anything is sent.
  auto r = run({pgxqd(), "enqueue", "noop", R"({"a":"\u0000"})", "--table", t.name()});
  INFO(r.err);
  CHECK(r.code == 64);
  CHECK(has(r.err, "\\u0000"));
  CHECK(!r.err.empty());
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name()) == 0);
}

TEST_CASE("CLI: more bad arguments exit 64 with a message and insert nothing") {
  TempTable t("rel_cli");
  std::vector<std::vector<std::string>> cases = {
      {"enqueue", "noop", ""},
      {"enqueue", "noop", "null"},
      {"enqueue", "noop", "\"just a string\""},
      {"enqueue", "noop", "42"},
      {"enqueue", "noop", "{\"a\":1} trailing"},
      {"enqueue", "noop", "{\"a\":\"\xff\"}"},
      {"enqueue", "noop", "--in", "abc"},
      {"enqueue", "noop", "--in", "1x"},
      {"enqueue", "noop", "--in", ""},
      {"enqueue", "noop", "--in", "99999999999999999999h"},
      {"enqueue", "noop", "--priority", "-100000"},
      {"enqueue", "noop", "--priority", "2147483648"},
      {"enqueue", "noop", "--priority", "1.5"},
      {"enqueue", "noop", "--max-attempts", "-1"},
      {"enqueue", "noop", "--max-attempts", "2147483648"},
      {"enqueue", "noop", "--max-attempts", "x"},
      {"enqueue", "", "{}"},
      {"enqueue", "noop", "--queue", ""},
      {"enqueue", "noop", "--table", "Jobs"},
      {"enqueue", "noop", "--table", "a.b.c"},
      {"run", "--bogus"},
      {"migrate", "--bogus"},
      {"check-config", "--bogus"},
      {"schema", "--table"},
      {"version", "extra"},
      {"--no-such-global"},
  };
  int tried = 0;
  for (auto args : cases) {
    std::vector<std::string> argv{pgxqd()};
    argv.insert(argv.end(), args.begin(), args.end());
    bool enqueue = args[0] == "enqueue";
    if (enqueue && std::find(args.begin(), args.end(), "--table") == args.end()) {
      argv.push_back("--table");
      argv.push_back(t.name());
    }
    auto r = run(argv);
    std::string shown = args.size() > 1 ? args[1].substr(0, 40) : args[0];
    for (size_t i = 2; i < args.size(); ++i) shown += " " + args[i].substr(0, 40);
    INFO("pgxqd ", args[0], " ", shown, " -> ", r.code, ": ", r.err.substr(0, 300));
    CHECK(r.code == 64);
    CHECK(!r.err.empty());
    CHECK(r.err.size() < 20000);  // says what is wrong without echoing megabytes
    ++tried;
  }
  CHECK(scalar(*std::make_unique<pg::Connection>(connect()), "SELECT count(*) FROM " + t.name()) == 0);
  MESSAGE("bad CLI inputs tried: ", tried);
}

TEST_CASE("config: every invalid form through the real binary exits 78, names the problem, touches no table") {
  TempTable t("rel_cfg");
  auto victim = unique_name("rel_victim");
  auto c = connect();
  c.exec("CREATE TABLE " + victim + " (x int)");
  auto sentinel = scalar(c, "INSERT INTO " + t.name() + " (kind, args) VALUES ('noop', '{}') RETURNING id");
  auto dir = temp_dir("pgxqd-relcfg");
  const std::string plugins = "\n[plugins]\ndir = \"" + plugin_dir() + "\"\n";
  struct Case {
    const char* what;
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"unknown key", "[worker]\ntable = \"" + t.name() + "\"\npoll_intervall = \"1s\"\n" + plugins,
       "worker.poll_intervall: unknown key"},
      {"unknown top-level key", "colour = \"red\"\n[worker]\ntable = \"" + t.name() + "\"\n" + plugins, "colour"},
      {"wrong type", "[worker]\ntable = \"" + t.name() + "\"\nbatch_size = true\n" + plugins, "worker.batch_size: expected an integer"},
      {"wrong type (array)", "[worker]\ntable = [\"" + t.name() + "\"]\n" + plugins, "worker.table"},
      {"bad duration", "[worker]\ntable = \"" + t.name() + "\"\nrescue_after = \"soon\"\n" + plugins, "worker.rescue_after: invalid duration"},
      {"bad duration unit", "[worker]\ntable = \"" + t.name() + "\"\nshutdown_timeout = \"5 minutes\"\n" + plugins, "worker.shutdown_timeout"},
      {"injected table name", "[worker]\ntable = \"" + t.name() + "; drop table " + victim + "\"\n" + plugins,
       "worker.table: invalid table name"},
      {"literal injection from the issue", "[worker]\ntable = \"pgxq_job; drop table x\"\n" + plugins, "worker.table: invalid table name"},
      {"quoted injection", "[worker]\ntable = \"" + t.name() + "\\\"; drop table " + victim + "; --\"\n" + plugins,
       "worker.table: invalid table name"},
      {"queue table injection", "[worker]\ntable = \"" + t.name() + "\"\n[queues.q]\ntable = \"x' or '1'='1\"\n" + plugins,
       "queues.q.table: invalid table name"},
      {"not TOML", std::string("\x7f" "ELF\x02\x01\x01", 7) + "\n" + plugins, "invalid TOML"},
      {"invalid UTF-8", "[worker]\ntable = \"\xff\xfe\"\n" + plugins, ""},
      {"bad log level", "[worker]\ntable = \"" + t.name() + "\"\n[log]\nlevel = \"loud\"\n" + plugins, "log.level"},
  };
  int tried = 0;
  for (auto& k : cases) {
    auto path = dir + "/bad.toml";
    write_file(path, k.text);
    for (std::string cmd : {"run", "check-config", "migrate", "enqueue"}) {
      std::vector<std::string> argv{bin_dir() + "/pgxqd", cmd, "--config", path};
      if (cmd == "run" && geteuid() == 0) argv.push_back("--allow-root");
      if (cmd == "enqueue") argv.push_back("noop");
      auto r = run(argv);
      INFO(k.what, " / ", cmd, " -> ", r.code, ": ", r.err);
      CHECK(r.code == 78);
      CHECK(has(r.err, path));
      if (!k.message.empty()) CHECK(has(r.err, k.message));
      ++tried;
    }
  }
  // Missing file, a directory, and a file only its owner may read (as root, checked as nobody).
  std::vector<std::pair<std::string, std::string>> files = {{dir + "/missing.toml", "config file not found"},
                                                             {dir, "is a directory"}};
  auto locked = dir + "/locked.toml";
  write_file(locked, "[worker]\ntable = \"" + t.name() + "\"\n" + plugins);
  chmod(locked.c_str(), 0);
  for (auto& [path, message] : files) {
    auto r = run({bin_dir() + "/pgxqd", "check-config", "--config", path});
    INFO(path, " -> ", r.err);
    CHECK(r.code == 78);
    CHECK(has(r.err, message));
    ++tried;
  }
  {
    std::vector<std::string> argv{bin_dir() + "/pgxqd", "check-config", "--config", locked, "--offline"};
    if (geteuid() == 0) {
      // nobody may not reach the build tree (a checkout in a private directory): run a copy
      // from this test's own directory, which everyone may enter.
      const std::string copy = dir + "/pgxqd";
      std::filesystem::copy_file(argv[0], copy, std::filesystem::copy_options::overwrite_existing);
      chmod(copy.c_str(), 0755);
      argv[0] = copy;
      argv.insert(argv.begin(), {"runuser", "-u", "nobody", "--"});
    }
    auto r = run(argv);
    INFO("unreadable -> ", r.err);
    CHECK(r.code == 78);
    CHECK(has(r.err, locked + ": cannot read the config file: Permission denied"));
    ++tried;
  }
  // Nothing touched: the sentinel job is untouched, the victim table and the job table remain.
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE id = " + std::to_string(sentinel) +
                      " AND state = 'available' AND attempt = 0") == 1);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name()) == 1);
  CHECK(scalar(c, "SELECT count(*) FROM pg_tables WHERE tablename = $1", {pg::Param(victim)}) == 1);
  c.exec("DROP TABLE IF EXISTS " + victim);
  MESSAGE("bad config inputs tried: ", tried, " (", cases.size(), " forms x 4 commands, plus files)");
  if (std::system(("rm -rf '" + dir + "'").c_str()) != 0) {
  }
}
