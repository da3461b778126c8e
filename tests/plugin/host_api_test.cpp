// Host API tests through the C probe plugin: outcome mapping, message repair, delays, SNOOZE
// (ABI 1.1) and job_snoozes, SQL errors, rows accessors, config getters and job accessors.
#include <doctest/doctest.h>

#include "plugin/host_api.hpp"
#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using queue::OutcomeCode;

namespace {

struct Probe : LoadedPluginDir {
  Probe() {
    dir.add_fixture("probe");
    auto options = loader_options(dir.path());
    toml::table settings;
    settings.insert("s", "text");
    settings.insert("i", 42);
    settings.insert("b", true);
    settings.insert("d", 2.5);
    options.settings["probe"] = settings;
    load(options);
  }
};

}  // namespace

TEST_CASE("host api: RETRY without a message records \"(no message)\"") {
  Probe p;
  auto o = p.run("no_message");
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "(no message)");
  CHECK_FALSE(o.delay.has_value());
}

TEST_CASE("host api: invalid UTF-8 in a message is repaired so PostgreSQL accepts it") {
  Probe p;
  auto o = p.run("bad_utf8");
  CHECK(o.code == OutcomeCode::discard);
  CHECK(o.message == "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD");
  // And the server takes it as text.
  CHECK(scalar_text(p.conn, "SELECT $1::text", {o.message}) == o.message);
}

TEST_CASE("host api: a handler's own retry delay, out-of-range delays are refused") {
  Probe p;
  auto o = p.run("delay");
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "later");
  REQUIRE(o.delay.has_value());
  CHECK(o.delay->count() == 1500);
  o = p.run("bad_delay");
  CHECK(o.message.find("set_delay_ms: -1 ms is out of range") != std::string::npos);
}

TEST_CASE("host api: SNOOZE (ABI 1.1) is a snooze with the delay set (0 without one), its message ignored") {
  Probe p;
  auto o = p.run("snooze");
  CHECK(o.code == OutcomeCode::snooze);
  REQUIRE(o.delay.has_value());
  CHECK(o.delay->count() == 2500);
  CHECK(o.message.empty());
  o = p.run("snooze_now");
  CHECK(o.code == OutcomeCode::snooze);
  REQUIRE(o.delay.has_value());
  CHECK(o.delay->count() == 0);
}

TEST_CASE("host api: job_snoozes (ABI 1.1) is the job's snooze count as claimed") {
  Probe p;
  for (int snoozes : {0, 4}) {
    queue::Job job = make_job("snoozes");
    job.snoozes = snoozes;
    TxContext ctx(p.conn);
    auto o = call(p.loaded, job, ctx);
    CHECK(o.code == OutcomeCode::discard);
    CHECK(o.message == "snoozes=" + std::to_string(snoozes));
  }
}

TEST_CASE("host api: COMPLETE after a failed statement cannot commit and becomes an error") {
  Probe p;
  auto o = p.run("sql_then_complete");
  CHECK(o.code == OutcomeCode::error);
  CHECK(o.message.find("handler returned COMPLETE after a failed SQL statement") == 0);
  CHECK(o.message.find("no_such_table_probe") != std::string::npos);
}

TEST_CASE("host api: rows accessors, NULLs, out-of-range access, and rows left open") {
  Probe p;
  auto o = p.run("rows");
  CHECK(o.message == "n=1 c=2 v=42 len=2 null0=0 null1=1 name=nothing oob=NULL oobnull=-1 oobname=NULL");
}

TEST_CASE("host api: config getters report values, missing and mistyped keys") {
  Probe p;
  auto o = p.run("config");
  CHECK(o.message.find("s=text i=42 b=1 d=2.50 missing=-4 mistyped=-5 "
                       "([plugins.probe] setting \"s\" must be an integer, found a string)") == 0);
}

TEST_CASE("host api: job accessors") {
  Probe p;
  auto job = make_job("job", R"({"a":1})", 3);
  TxContext ctx(p.conn);
  auto o = call(p.loaded, job, ctx);
  CHECK(o.message == "id=" + std::to_string(job.id) +
                         " kind=job queue=default args={\"a\":1} len=7 attempt=3 max=5 prio=0 "
                         "sched=1700000000000000 created=1699999999000000");
  CHECK_FALSE(ctx.opened());  // no SQL, no transaction
}

TEST_CASE("host api: outcome mapping of every code") {
  queue::Job job = make_job("x");
  auto conn = connect();
  TxContext ctx(conn);
  pgxq_plugin plugin;
  plugin.name = "t";
  pgxq_plugin_job cj(job, ctx, &plugin);
  CHECK(plugin::to_outcome(PGXQ_OUTCOME_COMPLETE, cj).code == OutcomeCode::complete);
  CHECK(plugin::to_outcome(PGXQ_OUTCOME_RETRY, cj).code == OutcomeCode::retry);
  CHECK(plugin::to_outcome(PGXQ_OUTCOME_DISCARD, cj).code == OutcomeCode::discard);
  CHECK(plugin::to_outcome(PGXQ_OUTCOME_PANIC, cj).code == OutcomeCode::panic);
  auto unknown = plugin::to_outcome(-7, cj);
  CHECK(unknown.code == OutcomeCode::error);
  CHECK(unknown.message == "handler returned unknown outcome code -7");
  CHECK(plugin::to_outcome(1000, cj).message == "handler returned unknown outcome code 1000");
}

TEST_CASE("host api: NULL arguments are refused, never crash") {
  const pgxq_plugin_host* h = plugin::host_table();
  CHECK(h->abi_major == PGXQ_PLUGIN_ABI_MAJOR);
  CHECK(h->struct_size == sizeof(pgxq_plugin_host));
  CHECK(h->register_handler(nullptr, "k", nullptr, nullptr) == PGXQ_PLUGIN_E_INVALID);
  CHECK(std::string(h->last_error()).find("must not be NULL") != std::string::npos);
  CHECK(h->exec(nullptr, "SELECT 1", 0, nullptr, nullptr) == PGXQ_PLUGIN_E_INVALID);
  CHECK(h->set_message(nullptr, "x") == PGXQ_PLUGIN_E_INVALID);
  CHECK(h->config_int(nullptr, "x", nullptr) == PGXQ_PLUGIN_E_INVALID);
  CHECK(h->job_kind(nullptr) == nullptr);
  CHECK(h->rows_count(nullptr) == 0);
  CHECK(h->rows_value(nullptr, 0, 0) == nullptr);
  h->rows_free(nullptr);
  h->log(nullptr, PGXQ_LOG_INFO, "x");
  h->plugin_log(nullptr, PGXQ_LOG_INFO, "x");
  CHECK(PGXQ_HOST_HAS(h, set_delay_ms));
}
