// The minor-version rule in both directions, with plugins built against a generated copy of
// pgxq/plugin.h that claims the next minor and appends one host function and one descriptor
// field (tests/plugin/CMakeLists.txt): a plugin that only probes the new function loads on
// this host and sees it absent; one that requires the new minor is refused, saying what to
// do; and with a host table of the next minor (built here by appending the function to this
// host's table) the probing plugin finds and calls it while a 1.0 plugin keeps working.
#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cstddef>
#include <string>

#include <pgxq/plugin.h>

#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"
#include "plugin/registry.hpp"
#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

static_assert(PGXQ_NEXT_MINOR == PGXQ_PLUGIN_ABI_MINOR + 1);

// This host's table with the next minor's function appended, as a host of that minor has it.
struct NextMinorHost {
  pgxq_plugin_host base;
  int64_t (*next_minor_function)(pgxq_plugin_job* job);
};
static_assert(offsetof(NextMinorHost, next_minor_function) == sizeof(pgxq_plugin_host),
              "the appended function must sit right after this host's table, as in the next minor's header");

int64_t next_minor_function(pgxq_plugin_job* job) { return job ? 42 : -1; }

NextMinorHost next_minor_host() {
  NextMinorHost h{*plugin::host_table(), next_minor_function};
  h.base.abi_minor = PGXQ_NEXT_MINOR;
  h.base.struct_size = sizeof(NextMinorHost);
  return h;
}

}  // namespace

TEST_CASE("next minor: a plugin built against a newer SDK that only probes its function loads and sees it absent") {
  PluginDir dir;
  dir.add_fixture("next_minor_probes");
  CapturedLog log;
  auto loaded = plugin::load_plugins(loader_options(dir.path(), log.logger));
  REQUIRE(loaded.plugins().size() == 1);
  CHECK(loaded.plugins()[0].abi_minor == 0);  // requires no newer host
  CHECK(log.text().find("plugin next_minor_probes 0.0.1 loaded from " + dir.path() +
                        "/next_minor_probes.so (needs plugin ABI 1.0)") != std::string::npos);

  auto conn = connect();
  TxContext ctx(conn);
  auto outcome = call(loaded, make_job("next_minor_probes"), ctx);
  CHECK(outcome.code == queue::OutcomeCode::discard);
  CHECK(outcome.message == "absent (host ABI 1." + std::to_string(PGXQ_PLUGIN_ABI_MINOR) + ", table " +
                               std::to_string(sizeof(pgxq_plugin_host)) + " bytes)");
}

TEST_CASE("next minor: a plugin that requires the newer minor is refused with what mismatched and what to do") {
  PluginDir dir;
  std::string path = dir.add_fixture("next_minor_requires");
  std::string err = load_error(loader_options(dir.path()));
  INFO(err);
  const std::string host = "1." + std::to_string(PGXQ_PLUGIN_ABI_MINOR);
  const std::string needs = "1." + std::to_string(PGXQ_NEXT_MINOR);
  CHECK(err.find("plugin " + path + ": ") == 0);
  CHECK(err.find("the plugin needs plugin ABI " + needs + " or newer (its descriptor requires host ABI minor " +
                 std::to_string(PGXQ_NEXT_MINOR) + ")") != std::string::npos);
  CHECK(err.find("this pgxqd " PGXQ_VERSION " provides plugin ABI " + host) != std::string::npos);
  CHECK(err.find("upgrade pgxqd to a release that provides plugin ABI " + needs) != std::string::npos);
  CHECK(err.find("rebuild the plugin without PGXQ_PLUGIN_REQUIRES_MINOR " + std::to_string(PGXQ_NEXT_MINOR)) !=
        std::string::npos);
}

TEST_CASE("next minor: on a host of that minor the probing plugin finds and calls the new function") {
  auto host = next_minor_host();
  auto outcome = run_with_table(fixture_dir() + "/next_minor_probes.so", &host.base, make_job("next_minor_probes"));
  CHECK(outcome.code == queue::OutcomeCode::discard);
  CHECK(outcome.message == "present: 42");
}

TEST_CASE("next minor: a 1.0 plugin on a host table larger than it knows works as on this host") {
  auto host = next_minor_host();
  PluginDir dir;
  dir.add_fixture("probe");
  auto loaded = plugin::load_plugins(loader_options(dir.path()));
  auto conn = connect();
  TxContext ctx(conn);
  auto on_this_host = call(loaded, make_job("job"), ctx);

  auto on_larger_table = run_with_table(fixture_dir() + "/probe.so", &host.base, make_job("job"));
  CHECK(on_larger_table.code == on_this_host.code);
  // The job ids differ (make_job numbers them); everything else the probe reports is the same.
  auto without_id = [](std::string m) { return m.substr(m.find(' ')); };
  CHECK(without_id(on_larger_table.message) == without_id(on_this_host.message));
  CHECK(on_larger_table.message.find("kind=job") != std::string::npos);
}
