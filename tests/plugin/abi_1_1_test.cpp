// Plugin ABI 1.1 (snooze) against 1.0, in both directions: a plugin built against the 1.0
// header as released loads on this 1.1 host and works unchanged; a plugin requiring minor 1 is
// refused by a 1.0 host with what to do, and loads and snoozes here; a plugin that probes
// PGXQ_HOST_HAS(host, job_snoozes) works on both; the C++ wrapper's pgxq::Snooze becomes a
// failed attempt with a message on a 1.0 host instead of a code that host cannot read.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cstddef>
#include <string>

#include <pgxq/plugin.h>

#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"
#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using queue::OutcomeCode;

static_assert(PGXQ_PLUGIN_ABI_MINOR == 1, "this file tests the step from ABI 1.0 to 1.1");

namespace {

// The job's message without its id (make_job numbers them), for comparing two runs.
std::string without_id(const std::string& message) { return message.substr(message.find(' ')); }

}  // namespace

TEST_CASE("abi 1.1: a plugin built against the 1.0 header loads on this host and works unchanged") {
  // The same source built against this SDK, to compare with. Both are named "probe": each is
  // loaded from a directory of its own.
  PluginDir dir11;
  dir11.add_fixture("probe");
  PluginDir dir10;
  dir10.add_fixture("probe10");
  CapturedLog log;
  auto old = plugin::load_plugins(loader_options(dir10.path(), log.logger));
  REQUIRE(old.plugins().size() == 1);
  CHECK(old.plugins()[0].abi_minor == 0);
  CHECK(contains(log.text(), "plugin probe 0.0.1 loaded from " + dir10.path() + "/probe10.so (needs plugin ABI 1.0)"));
  auto current = plugin::load_plugins(loader_options(dir11.path()));

  auto conn = connect();
  auto run = [&](const plugin::LoadedPlugins& loaded, const std::string& kind) {
    TxContext ctx(conn);
    return call(loaded, make_job(kind), ctx);
  };
  // Every 1.0 function reads the same through a 1.0-built table view as through a 1.1 one.
  for (const char* kind : {"job", "rows", "no_message", "bad_utf8", "delay", "bad_delay", "sql_then_complete"}) {
    INFO("kind " << kind);
    auto o10 = run(old, kind), o11 = run(current, kind);
    CHECK(o10.code == o11.code);
    CHECK(o10.delay == o11.delay);
    if (std::string(kind) == "job")
      CHECK(without_id(o10.message) == without_id(o11.message));
    else
      CHECK(o10.message == o11.message);
  }
  // The 1.0 plugin has no kind that asks for job_snoozes: it was built before it existed.
  CHECK(old.handlers().count("snoozes") == 0);
  CHECK(current.handlers().count("snoozes") == 1);
}

TEST_CASE("abi 1.1: a plugin requiring minor 1 is refused by a 1.0 host, saying what and what to do") {
  // Its real descriptor, through the same check the loader runs, against a host of ABI 1.0.
  const pgxq_plugin_host host10 = abi_1_0_host();
  PluginDir dir;
  const std::string copy = dir.add_fixture("snooze_required");
  void* handle = dlopen(copy.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(handle != nullptr);
  auto entry = reinterpret_cast<pgxq_plugin_entry_fn>(dlsym(handle, PGXQ_PLUGIN_ENTRY_NAME));
  REQUIRE((entry != nullptr));
  const pgxq_plugin_descriptor* d = entry();
  CHECK(d->abi_minor == 1);
  auto refused = plugin::check_abi(copy, d, {}, plugin::HostAbi{host10.abi_major, host10.abi_minor, "1.0.0"});
  REQUIRE(refused.has_value());
  INFO(*refused);
  CHECK(refused->find("plugin " + copy + ": the plugin needs plugin ABI 1.1 or newer (its descriptor requires host "
                      "ABI minor 1) but this pgxqd 1.0.0 provides plugin ABI 1.0 (minor 1 > 0): upgrade pgxqd to a "
                      "release that provides plugin ABI 1.1, or rebuild the plugin without "
                      "PGXQ_PLUGIN_REQUIRES_MINOR 1 (checking newer host functions with PGXQ_HOST_HAS) so that it "
                      "runs on ABI 1.0") == 0);
  // And this host, of minor 1, accepts the same descriptor.
  CHECK_FALSE(plugin::check_abi(copy, d, {}).has_value());
}

TEST_CASE("abi 1.1: a plugin requiring minor 1 loads through the real loader on this host and snoozes") {
  PluginDir dir;
  dir.add_fixture("snooze_required");
  CapturedLog log;
  auto loaded = plugin::load_plugins(loader_options(dir.path(), log.logger));
  REQUIRE(loaded.plugins().size() == 1);
  CHECK(loaded.plugins()[0].abi_minor == 1);
  CHECK(contains(log.text(), "(needs plugin ABI 1.1)"));
  auto conn = connect();
  for (int snoozes : {0, 1, 2}) {
    queue::Job job = make_job("snooze_required");
    job.snoozes = snoozes;
    TxContext ctx(conn);
    auto o = call(loaded, job, ctx);
    if (snoozes < 2) {
      CHECK(o.code == OutcomeCode::snooze);
      REQUIRE(o.delay.has_value());
      CHECK(o.delay->count() == 10);
    } else {
      CHECK(o.code == OutcomeCode::discard);
      CHECK(o.message == "snoozes=2");
    }
  }
}

TEST_CASE("abi 1.1: a plugin probing PGXQ_HOST_HAS(host, job_snoozes) works on a 1.1 and on a 1.0 host") {
  queue::Job job = make_job("snoozes");
  job.snoozes = 3;
  auto on_11 = run_with_table(fixture_dir() + "/probe.so", plugin::host_table(), job);
  CHECK(on_11.code == OutcomeCode::discard);
  CHECK(on_11.message == "snoozes=3");

  const pgxq_plugin_host host10 = abi_1_0_host();
  auto on_10 = run_with_table(fixture_dir() + "/probe.so", &host10, job);
  CHECK(on_10.code == OutcomeCode::discard);
  CHECK(on_10.message == "no job_snoozes");
}

TEST_CASE("abi 1.1: pgxq::Snooze snoozes on this host, and is a failed attempt with a message on a 1.0 host") {
  const std::string testkit = plugin_dir() + "/testkit.so";
  queue::Job job = make_job("snooze", R"({"ms": 250, "times": 2})");
  job.snoozes = 1;
  auto here = run_with_table(testkit, plugin::host_table(), job);
  CHECK(here.code == OutcomeCode::snooze);
  REQUIRE(here.delay.has_value());
  CHECK(here.delay->count() == 250);

  job.snoozes = 2;  // enough: completes
  CHECK(run_with_table(testkit, plugin::host_table(), job).code == OutcomeCode::complete);

  // On a 1.0 host job.snoozes() is 0 and a Snooze cannot be given: a failed attempt, retried
  // after the snooze's delay, that says why.
  const pgxq_plugin_host host10 = abi_1_0_host();
  auto old = run_with_table(testkit, &host10, job);
  CHECK(old.code == OutcomeCode::retry);
  REQUIRE(old.delay.has_value());
  CHECK(old.delay->count() == 250);
  CHECK(old.message.find("the handler snoozed the job, but this pgxqd provides plugin ABI 1.0, which has no snooze") ==
        0);
  CHECK(old.message.find("upgrade pgxqd to a release with plugin ABI 1.1") != std::string::npos);
}
