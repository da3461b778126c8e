// Loader trust tests: the file that was checked is the file that gets loaded (a symbolic link or
// a file renamed over the name changes nothing), and a plugins directory under a directory
// others can write, or a config file others can write, is refused (sshd's StrictModes rule).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlfcn.h>

#include <filesystem>

#include <pgxq/plugin.h>

#include "plugin/plugin_file.hpp"
#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using plugin::LoadError;
using plugin::load_plugins;

namespace {

// A directory tree removed at destruction, whatever modes the test left in it.
struct TempTree {
  std::string root = temp_dir("pgxq-trust");
  ~TempTree() {
    std::error_code ec;
    for (auto& p : std::filesystem::recursive_directory_iterator(root, ec))
      if (p.is_directory()) ::chmod(p.path().c_str(), 0755);
    ::chmod(root.c_str(), 0755);
    std::filesystem::remove_all(root, ec);
  }
  std::string mkdir(const std::string& rel, mode_t mode = 0755) const {
    std::string path = root + "/" + rel;
    std::filesystem::create_directories(path);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path;
  }
  std::string plugins_in(const std::string& rel) const {
    std::string dir = mkdir(rel);
    std::string so = dir + "/testkit.so";
    std::filesystem::copy_file(plugin_dir() + "/testkit.so", so);
    REQUIRE(::chmod(so.c_str(), 0755) == 0);
    return dir;
  }
};

}  // namespace

TEST_CASE("loader: a plugin file that is a symbolic link is refused, even to a good plugin") {
  PluginDir dir;
  std::string link = dir.path() + "/testkit.so";
  REQUIRE(::symlink((plugin_dir() + "/testkit.so").c_str(), link.c_str()) == 0);
  auto err = load_error(loader_options(dir.path()));
  CHECK(contains(err, "plugin " + link + " is a symbolic link"));
  CHECK(contains(err, "copy the plugin itself into " + dir.path()));
}

TEST_CASE("loader: the file that was checked is the one loaded, whatever is renamed over its name") {
  PluginDir dir;
  dir.add_plugin("testkit");
  std::string other = dir.add(plugin_dir() + "/hello_c.so", "staged");
  int dir_fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir_fd >= 0);
  auto file = plugin::PluginFile::open(dir_fd, dir.path(), "testkit.so", true, geteuid());
  ::close(dir_fd);
  // Between the check and the load, someone swaps another file in under the checked name.
  REQUIRE(::rename(other.c_str(), (dir.path() + "/testkit.so").c_str()) == 0);
  void* handle = file.load();
  REQUIRE(handle != nullptr);
  auto entry = reinterpret_cast<pgxq_plugin_entry_fn>(dlsym(handle, PGXQ_PLUGIN_ENTRY_NAME));
  const bool has_entry = entry != nullptr;
  REQUIRE(has_entry);
  CHECK(std::string(entry()->name) == "testkit");
}

TEST_CASE("loader: a plugins directory below a directory others can write is refused, a sticky one is not") {
  TempTree tree;
  std::string plugins = tree.plugins_in("parent/plugins");
  std::string parent = tree.root + "/parent";
  CHECK(load_plugins(loader_options(plugins)).plugins().size() == 1);

  REQUIRE(::chmod(parent.c_str(), 0775) == 0);
  auto err = load_error(loader_options(plugins));
  CHECK(contains(err, "plugins directory " + plugins + " is inside " + parent +
                          ", which is writable by its group (mode 0775)"));
  CHECK(contains(err, "run `chmod go-w " + parent + "`"));

  // Further up than the parent counts too.
  REQUIRE(::chmod(parent.c_str(), 0755) == 0);
  REQUIRE(::chmod(tree.root.c_str(), 0777) == 0);
  err = load_error(loader_options(plugins));
  CHECK(contains(err, "is inside " + tree.root + ", which is writable by others (mode 0777)"));

  // A sticky directory (like /tmp, which every test directory here is under) lets no one but an
  // entry's owner rename it: safe to pass through.
  REQUIRE(::chmod(tree.root.c_str(), 01777) == 0);
  CHECK(load_plugins(loader_options(plugins)).plugins().size() == 1);

  auto unchecked = loader_options(plugins);
  REQUIRE(::chmod(tree.root.c_str(), 0777) == 0);
  unchecked.check_ownership = false;
  CHECK(load_plugins(unchecked).plugins().size() == 1);
}

TEST_CASE("loader: a plugins directory below a directory another user owns is refused") {
  TempTree tree;
  std::string plugins = tree.plugins_in("theirs/plugins");
  std::string theirs = tree.root + "/theirs";
  auto options = loader_options(plugins);
  std::string foreign_uid;
  if (geteuid() == 0) {
    REQUIRE(::chown(theirs.c_str(), 65534, static_cast<gid_t>(-1)) == 0);
    foreign_uid = "65534";
  } else {
    options.allowed_owner = geteuid() + 1;  // pretend pgxqd runs as someone else
    options.check_ownership = true;
    foreign_uid = std::to_string(geteuid());
  }
  auto err = load_error(options);
  if (geteuid() == 0) {
    CHECK(contains(err, "plugins directory " + plugins + " is inside " + theirs + ", which is owned by"));
    CHECK(contains(err, "(uid 65534), not by root or pgxqd's user"));
  } else {
    CHECK(contains(err, "(uid " + foreign_uid + "), not by root or pgxqd's user"));
  }
}

TEST_CASE("loader: a config file others can write is refused, and one in a directory others can write") {
  TempTree tree;
  std::string plugins = tree.plugins_in("plugins");
  std::string etc = tree.mkdir("etc");
  std::string config = etc + "/pgxqd.toml";
  write_file(config, "[plugins]\ndir = \"" + plugins + "\"\n");
  REQUIRE(::chmod(config.c_str(), 0644) == 0);
  auto options = loader_options(plugins);
  options.config_file = config;
  CHECK(load_plugins(options).plugins().size() == 1);

  REQUIRE(::chmod(config.c_str(), 0666) == 0);
  auto err = load_error(options);
  CHECK(contains(err, "config file " + config + " is writable by others (mode 0666)"));
  CHECK(contains(err, "run `chmod go-w " + config + "`"));

  REQUIRE(::chmod(config.c_str(), 0644) == 0);
  REQUIRE(::chmod(etc.c_str(), 0777) == 0);
  err = load_error(options);
  CHECK(contains(err, etc + " is writable by others (mode 0777)"));
  CHECK(contains(err, "config file " + config));
}
