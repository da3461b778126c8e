// Loader tests: each refusal, with deliberately bad plugins assembled into a fresh directory,
// and what a good load yields.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <pgxq/plugin.h>

#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using plugin::LoadError;
using plugin::load_plugins;

namespace {
// This host's plugin ABI as its messages say it, and the minor above it.
const std::string kHostAbi = "1." + std::to_string(PGXQ_PLUGIN_ABI_MINOR);
const std::string kNextMinor = std::to_string(PGXQ_PLUGIN_ABI_MINOR + 1);
}  // namespace

TEST_CASE("loader: testkit loads with exactly its kinds") {
  PluginDir dir;
  dir.add_plugin("testkit");
  CapturedLog log;
  auto loaded = load_plugins(loader_options(dir.path(), log.logger));
  REQUIRE(loaded.plugins().size() == 1);
  const auto& info = loaded.plugins()[0];
  CHECK(info.name == "testkit");
  CHECK(info.version == "1.0.0");
  CHECK(info.path == dir.path() + "/testkit.so");
  CHECK(info.abi_major == PGXQ_PLUGIN_ABI_MAJOR);
  CHECK(info.abi_minor == 0);  // the lowest host minor it needs: none newer than 1.0
  std::vector<std::string> kinds;
  for (const auto& [kind, handler] : loaded.handlers()) kinds.push_back(kind);
  CHECK(kinds == std::vector<std::string>{"abort", "discard", "exit", "fail", "hang", "hang_log", "noop", "oom", "record",
                                          "segv", "sleep", "snooze", "spin", "throw", "unknown_outcome"});
  CHECK(contains(log.text(), "plugin testkit 1.0.0 loaded from " + dir.path() + "/testkit.so (needs plugin ABI 1.0)"));
}

TEST_CASE("loader: several plugins load in name order") {
  PluginDir dir;
  dir.add_plugin("testkit");
  dir.add_plugin("hello_c");
  dir.add_plugin("matview");
  auto loaded = load_plugins(loader_options(dir.path()));
  REQUIRE(loaded.plugins().size() == 3);
  CHECK(loaded.plugins()[0].name == "hello_c");
  CHECK(loaded.plugins()[1].name == "matview");
  CHECK(loaded.plugins()[2].name == "testkit");
  CHECK(loaded.handlers().count("hello") == 1);
  CHECK(loaded.handlers().count("refresh_matview") == 1);
}

TEST_CASE("loader: an empty directory loads nothing, a missing one is refused") {
  PluginDir dir;
  auto loaded = load_plugins(loader_options(dir.path()));
  CHECK(loaded.plugins().empty());
  CHECK(loaded.handlers().empty());
  auto err = load_error(loader_options(dir.path() + "/nope"));
  CHECK(contains(err, "cannot read plugins directory " + dir.path() + "/nope"));
}

TEST_CASE("loader: wrong ABI major is refused with both versions") {
  PluginDir dir;
  dir.add_fixture("bad_major");
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, dir.path() + "/bad_major.so"));
  CHECK(contains(err, "built for plugin ABI major 2 (it needs ABI 2.0) but this pgxqd " PGXQ_VERSION
                      " provides plugin ABI " + kHostAbi + " (major 2 != 1)"));
  CHECK(contains(err, "rebuild the plugin against pgxq plugin SDK " + kHostAbi));
}

TEST_CASE("loader: a plugin requiring a newer host minor is refused") {
  PluginDir dir;
  dir.add_fixture("bad_minor");
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, dir.path() + "/bad_minor.so"));
  CHECK(contains(err, "the plugin needs plugin ABI 1." + kNextMinor + " or newer (its descriptor requires host ABI minor " +
                          kNextMinor + ") but this pgxqd " PGXQ_VERSION " provides plugin ABI " + kHostAbi + " (minor " +
                          kNextMinor + " > " + std::to_string(PGXQ_PLUGIN_ABI_MINOR) + ")"));
  CHECK(contains(err, "upgrade pgxqd"));
}

TEST_CASE("loader: a missing entry function is refused") {
  PluginDir dir;
  dir.add_fixture("no_entry");
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, dir.path() + "/no_entry.so has no entry function pgxq_plugin_entry()"));
  CHECK(contains(err, "undefined symbol"));  // dlerror()'s text
}

TEST_CASE("loader: an init failure stops loading with the plugin's message") {
  PluginDir dir;
  dir.add_fixture("init_fail");
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugin init_fail (" + dir.path() + "/init_fail.so): init failed: cannot reach the "
                      "frobnicator at 192.0.2.1"));
}

TEST_CASE("loader: nothing half-loaded keeps running: earlier plugins are shut down on refusal") {
  PluginDir dir;
  dir.add(fixture_dir() + "/tracker.so", "a_tracker.so");  // loads first (name order) and succeeds
  dir.add_fixture("init_fail");                            // then this one fails
  std::string marker = dir.path() + "/marker.txt";
  auto options = loader_options(dir.path());
  options.settings["tracker"].insert("marker", marker);
  load_error(options);
  CHECK(read_file(marker) == "shutdown\n");
}

TEST_CASE("loader: shutdown runs once, at shutdown() or destruction") {
  PluginDir dir;
  dir.add_fixture("tracker");
  std::string marker = dir.path() + "/marker.txt";
  auto options = loader_options(dir.path());
  options.settings["tracker"].insert("marker", marker);
  {
    auto loaded = load_plugins(options);
    CHECK_FALSE(std::filesystem::exists(marker));
    auto moved = std::move(loaded);
    moved.shutdown();
    CHECK(moved.handlers().empty());
    CHECK(read_file(marker) == "shutdown\n");
  }
  CHECK(read_file(marker) == "shutdown\n");
}

TEST_CASE("loader: a kind registered by two plugins names both") {
  PluginDir dir;
  dir.add_plugin("testkit");
  dir.add_fixture("dup_kind");  // registers "noop" and ignores the error
  auto err = load_error(loader_options(dir.path()));
  // dup_kind loads first (name order), so testkit's registration is the second one.
  CHECK(contains(err, "kind \"noop\" is registered by two plugins: dup_kind (" + dir.path() +
                          "/dup_kind.so) and testkit (" + dir.path() + "/testkit.so)"));
  CHECK(err.find("init failed") == std::string::npos);  // the conflict is the reason, not testkit's init

  // And when the plugin that ignores the error comes second.
  PluginDir dir2;
  dir2.add_plugin("testkit");
  dir2.add(fixture_dir() + "/dup_kind.so", "z_dup_kind.so");
  err = load_error(loader_options(dir2.path()));
  CHECK(contains(err, "kind \"noop\" is registered by two plugins: testkit (" + dir2.path() +
                          "/testkit.so) and dup_kind (" + dir2.path() + "/z_dup_kind.so)"));
}

TEST_CASE("loader: the same plugin twice under two file names is refused") {
  PluginDir dir;
  dir.add(plugin_dir() + "/testkit.so", "a.so");
  dir.add(plugin_dir() + "/testkit.so", "b.so");
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugin " + dir.path() + "/b.so: plugin name \"testkit\" is already used by " + dir.path() +
                          "/a.so"));
}

TEST_CASE("loader: a world-writable or group-writable plugin file is refused") {
  PluginDir dir;
  std::string path = dir.add(plugin_dir() + "/testkit.so", "testkit.so", 0777);
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugin file " + path + " is writable by others (mode 0777)"));
  CHECK(contains(err, "chmod go-w " + path));

  ::chmod(path.c_str(), 0775);
  err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugin file " + path + " is writable by its group (mode 0775)"));

  auto unchecked = loader_options(dir.path());
  unchecked.check_ownership = false;
  CHECK(load_plugins(unchecked).plugins().size() == 1);
}

TEST_CASE("loader: a writable plugins directory is refused") {
  PluginDir dir;
  dir.add_plugin("testkit");
  ::chmod(dir.path().c_str(), 0777);
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugins directory " + dir.path() + " is writable by others (mode 0777)"));
}

TEST_CASE("loader: a plugin owned by another user is refused") {
  PluginDir dir;
  std::string path = dir.add_plugin("testkit");
  auto options = loader_options(dir.path());
  if (geteuid() == 0) {
    REQUIRE(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)) == 0);
    auto err = load_error(options);
    CHECK(contains(err, "plugin file " + path + " is owned by"));
    CHECK(contains(err, "(uid 65534), not by root or pgxqd's user"));
  } else {
    // Not root: pretend pgxqd runs as someone else, so our own files are foreign.
    options.allowed_owner = geteuid() + 1;
    auto err = load_error(options);
    CHECK(contains(err, "is owned by"));
    CHECK(contains(err, "(uid " + std::to_string(geteuid()) + "), not by root or pgxqd's user"));
  }
}

TEST_CASE("loader: a file that is not a shared object reports dlerror()") {
  PluginDir dir;
  write_file(dir.path() + "/x.so", "this is not an ELF file\n");
  ::chmod((dir.path() + "/x.so").c_str(), 0644);
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugin " + dir.path() + "/x.so is not a loadable shared object: "));
  CHECK((err.find("invalid ELF header") != std::string::npos || err.find("file too short") != std::string::npos));
}

TEST_CASE("loader: files not named *.so are ignored") {
  PluginDir dir;
  write_file(dir.path() + "/README", "not a plugin\n");
  dir.add(plugin_dir() + "/testkit.so", "testkit.so.disabled");
  CHECK(load_plugins(loader_options(dir.path())).plugins().empty());
}

TEST_CASE("loader: settings for a plugin that is not loaded are an error") {
  PluginDir dir;
  dir.add_plugin("testkit");
  auto options = loader_options(dir.path());
  options.settings["testkti"].insert("x", 1);
  auto err = load_error(options);
  CHECK(contains(err, "[plugins.testkti] configures plugin \"testkti\", which is not loaded (loaded from " +
                          dir.path() + ": testkit)"));
}

TEST_CASE("loader: registering a handler after init fails with E_STATE and a clear message") {
  PluginDir dir;
  dir.add_fixture("probe");
  auto loaded = load_plugins(loader_options(dir.path()));
  auto conn = connect();
  TxContext ctx(conn);
  auto outcome = call(loaded, make_job("late_register"), ctx);
  CHECK(outcome.code == queue::OutcomeCode::discard);
  CHECK(contains(outcome.message, "register_handler(\"later\") called by plugin probe after its init returned"));
  CHECK(loaded.handlers().count("later") == 0);
}
