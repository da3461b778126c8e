// The loader's side of isolated plugins, with a starter standing in for the worker pool: which
// file goes to the starter (checked, never loaded), its kinds in the handlers and in the kind
// conflict checks against in-process plugins, the refusals, and shutdown in reverse load order.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "plugin/loader.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::plugin;

namespace {

// A plugins directory with copies of built plugins, some of them under another name.
struct Dir {
  std::string path = test::temp_dir("loader-seam");
  ~Dir() { std::filesystem::remove_all(path); }
  void add(const std::string& plugin, const std::string& as) {
    std::filesystem::copy_file(test::plugin_dir() + "/" + plugin + ".so", path + "/" + as + ".so");
    ::chmod((path + "/" + as + ".so").c_str(), 0755);
  }
};

struct Started {
  std::string name;
  std::string path;
  bool had_fd = false;
  std::string greeting;
};

// What the starter was asked, and what its plugins were told.
struct Record {
  std::vector<Started> started;
  std::vector<std::string> events;  // "shutdown <name>", "handler <kind>"
};

class FakeIsolated final : public OutOfProcessPlugin {
public:
  FakeIsolated(PluginInfo info, Record& record) : info_(std::move(info)), record_(record) {}
  const PluginInfo& info() const override { return info_; }
  queue::Handler handler(const std::string& kind) override {
    record_.events.push_back("handler " + kind);
    return [](const queue::Job&, queue::JobContext&) { return queue::Outcome::complete(); };
  }
  void shutdown() noexcept override {
    if (!shut_down_) record_.events.push_back("shutdown " + info_.name);
    shut_down_ = true;
  }

private:
  PluginInfo info_;
  Record& record_;
  bool shut_down_ = false;
};

LoaderOptions options(const Dir& dir, Record& record, std::vector<std::string> kinds, std::string reported_name = "") {
  LoaderOptions o;
  o.dir = dir.path;
  o.start_isolated = [&record, kinds, reported_name](PluginFile file, const std::string& name,
                                                     const toml::table& settings) -> std::unique_ptr<OutOfProcessPlugin> {
    Started s;
    s.name = name;
    s.path = file.path();
    struct stat st {};
    s.had_fd = file.fd() >= 0 && ::fstat(file.fd(), &st) == 0 && S_ISREG(st.st_mode);
    s.greeting = settings["greeting"].value_or(std::string());
    record.started.push_back(s);
    PluginInfo info;
    info.name = reported_name.empty() ? name : reported_name;
    info.version = "9.9";
    info.path = file.path();
    info.abi_major = 1;
    info.kinds = kinds;
    return std::make_unique<FakeIsolated>(info, record);
  };
  return o;
}

std::string load_error(const LoaderOptions& o) {
  try {
    load_plugins(o);
  } catch (const LoadError& e) {
    return e.what();
  }
  FAIL("loaded");
  return "";
}

bool contains(const std::string& hay, const std::string& needle) {
  if (hay.find(needle) != std::string::npos) return true;
  MESSAGE("looked for: " << needle << "\nin: " << hay);
  return false;
}

}  // namespace

TEST_CASE("loader seam: an isolated plugin's checked file goes to the starter, with its settings, and its kinds are handled") {
  Dir dir;
  dir.add("testkit", "iso");
  dir.add("hello_c", "hello_c");
  Record record;
  auto o = options(dir, record, {"iso_a", "iso_b"});
  o.isolated = {"iso"};
  toml::table settings;
  settings.insert("greeting", "hi");
  o.settings.emplace("iso", settings);
  {
    auto loaded = load_plugins(o);
    REQUIRE(record.started.size() == 1);
    CHECK(record.started[0].name == "iso");
    CHECK(record.started[0].path == dir.path + "/iso.so");
    CHECK(record.started[0].had_fd);
    CHECK(record.started[0].greeting == "hi");
    REQUIRE(loaded.plugins().size() == 2);
    CHECK(loaded.plugins()[0].name == "hello_c");  // name order, as ever
    CHECK(loaded.plugins()[1].name == "iso");
    CHECK(loaded.plugins()[1].version == "9.9");
    CHECK(loaded.plugins()[1].kinds == std::vector<std::string>{"iso_a", "iso_b"});
    CHECK(loaded.handlers().count("iso_a") == 1);
    CHECK(loaded.handlers().count("iso_b") == 1);
    CHECK(loaded.handlers().count("hello") == 1);
    // The daemon never loaded the file: testkit's kinds are nowhere.
    CHECK(loaded.handlers().count("noop") == 0);
    loaded.shutdown();
    CHECK(record.events.back() == "shutdown iso");
    loaded.shutdown();
  }
  CHECK(std::count(record.events.begin(), record.events.end(), "shutdown iso") == 1);
}

TEST_CASE("loader seam: a kind of an isolated plugin claimed by an in-process plugin is refused, either way round") {
  Record record;
  {
    Dir dir;
    dir.add("testkit", "a_iso");  // loads first (name order)
    dir.add("testkit", "testkit");
    auto o = options(dir, record, {"noop"});
    o.isolated = {"a_iso"};
    CHECK(contains(load_error(o), "kind \"noop\" is registered by two plugins: a_iso (" + dir.path + "/a_iso.so) and testkit"));
    CHECK(record.events.back() == "shutdown a_iso");  // nothing half-loaded keeps running
  }
  {
    Dir dir;
    dir.add("testkit", "testkit");
    dir.add("testkit", "z_iso");  // loads last
    auto o = options(dir, record, {"sleep"});
    o.isolated = {"z_iso"};
    CHECK(contains(load_error(o), "kind \"sleep\" is registered by two plugins: testkit (" + dir.path +
                                      "/testkit.so) and z_iso (" + dir.path + "/z_iso.so)"));
    CHECK(record.events.back() == "shutdown z_iso");
  }
}

TEST_CASE("loader seam: refusals — no file, another name reported, a bad kind, no starter") {
  Record record;
  Dir dir;
  dir.add("testkit", "iso");
  {
    auto o = options(dir, record, {"k"});
    o.isolated = {"missing"};
    CHECK(contains(load_error(o), "[plugins.missing] isolation = \"process\": there is no file missing.so in " + dir.path));
  }
  {
    auto o = options(dir, record, {"k"}, "other");
    o.isolated = {"iso"};
    CHECK(contains(load_error(o), "calls itself \"other\""));
  }
  {
    auto o = options(dir, record, {"bad\nkind"});
    o.isolated = {"iso"};
    CHECK(contains(load_error(o), "plugin iso (" + dir.path + "/iso.so) registered an unusable kind"));
  }
  {
    auto o = options(dir, record, {"k", "k"});
    o.isolated = {"iso"};
    CHECK(contains(load_error(o), "registered job kind \"k\" twice"));
  }
  {
    LoaderOptions o;
    o.dir = dir.path;
    o.isolated = {"iso"};
    CHECK(contains(load_error(o), "isolation = \"process\" is not available here"));
  }
}

TEST_CASE("loader seam: a starter's exception is the load's refusal, as it said it") {
  Dir dir;
  dir.add("testkit", "iso");
  LoaderOptions o;
  o.dir = dir.path;
  o.isolated = {"iso"};
  o.start_isolated = [](PluginFile, const std::string&, const toml::table&) -> std::unique_ptr<OutOfProcessPlugin> {
    throw std::runtime_error("worker process 1 of plugin iso did not start: worker process exited with status 1");
  };
  CHECK(load_error(o) == "worker process 1 of plugin iso did not start: worker process exited with status 1");
}
