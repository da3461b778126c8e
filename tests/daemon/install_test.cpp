// README.md's "Install as a service" block, run as written: its cmake lines are taken from the
// README's text (the block after the `install-block` marker), so the test breaks when the README
// drifts. The configure line runs in a scratch build directory; the build and install lines run
// on this already-built tree (the build is then a no-op), the install into a scratch DESTDIR.
// Every path the README's "What goes where" table lists (after the `install-paths` marker)
// must exist there, testkit.so must not, and the units must follow the install prefix.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "e2e.hpp"

using namespace pgxq::test;
namespace fs = std::filesystem;

namespace {

std::string readme() { return read_file(source_dir() + "/README.md"); }

// The lines of the first ```sh block after `marker`.
std::vector<std::string> block_after(const std::string& text, const std::string& marker) {
  auto at = text.find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, "README.md lost its marker " << marker);
  auto open = text.find("```sh\n", at);
  REQUIRE(open != std::string::npos);
  open += 6;
  auto close = text.find("```", open);
  REQUIRE(close != std::string::npos);
  std::vector<std::string> lines;
  std::istringstream in(text.substr(open, close - open));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The block's line that starts with `start`, without its comment and `sudo`.
std::string command(const std::vector<std::string>& lines, const std::string& start) {
  for (auto line : lines) {
    if (line.rfind("sudo ", 0) == 0) line = line.substr(5);
    if (line.rfind(start, 0) != 0) continue;
    if (auto hash = line.find(" #"); hash != std::string::npos) line.erase(hash);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  }
  FAIL("README.md's install block has no line starting with \"" << start << "\"");
  return "";
}

// `line` with its build directory (the word after -B, --build or --install) replaced by `dir`.
std::string with_build_dir(const std::string& line, const std::string& dir) {
  static const std::regex word(R"((-B|--build|--install) +([^ ]+))");
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(line, m, word), "no build directory in: " << line);
  return m.prefix().str() + m[1].str() + " '" + dir + "'" + m.suffix().str();
}

RunResult shell(const std::string& line, std::map<std::string, std::string> env = {}) {
  auto r = run({"sh", "-c", "cd '" + source_dir() + "' && " + line}, std::move(env));
  INFO("$ ", line, "\n", r.out, r.err);
  CHECK(r.code == 0);
  return r;
}

// Every absolute path in backquotes in the table after `marker`.
std::vector<std::string> listed_paths(const std::string& text, const std::string& marker) {
  auto at = text.find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, "README.md lost its marker " << marker);
  auto end = text.find("\n\n", at + marker.size() + 1);
  const std::string table = text.substr(at, end - at);
  std::vector<std::string> paths;
  static const std::regex quoted("`(/[^`]+)`");
  for (std::sregex_iterator i(table.begin(), table.end(), quoted), e; i != e; ++i) paths.push_back((*i)[1].str());
  return paths;
}

std::string cache_value(const std::string& build_dir, const std::string& key) {
  std::istringstream in(read_file(build_dir + "/CMakeCache.txt"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return line.substr(line.find('=') + 1);
  return "";
}

// Whether the configured tree `build_dir` would install testkit.so (its generated install script).
bool has_testkit_rule(const std::string& build_dir) {
  return read_file(build_dir + "/plugins/cmake_install.cmake").find("testkit.so") != std::string::npos;
}

std::vector<std::string> files_named(const std::string& root, const std::string& name) {
  std::vector<std::string> found;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == name) found.push_back(e.path().string());
  return found;
}

}  // namespace

TEST_CASE("install: README's install block installs every path its table lists, no testkit, units under the prefix") {
  const std::string text = readme();
  const auto block = block_after(text, "<!-- install-block");
  const std::string configure = command(block, "cmake -S");
  const std::string build = command(block, "cmake --build");
  const std::string install = command(block, "cmake --install");
  const std::string tree = PGXQ_BUILD_DIR;
  const std::string work = temp_dir("pgxqd-install");

  // The README's paths are those of the default prefix, which this tree must have.
  REQUIRE_MESSAGE(cache_value(tree, "CMAKE_INSTALL_PREFIX") == "/usr/local",
                  "README.md's paths are for the default prefix /usr/local; " << tree << " is configured with "
                                                                              << cache_value(tree, "CMAKE_INSTALL_PREFIX"));

  // The configure line works from nothing, and installs testkit only when asked.
  const std::string scratch = work + "/build";
  shell(with_build_dir(configure, scratch) + " >/dev/null");
  CHECK_FALSE(has_testkit_rule(scratch));
  shell("cmake -S . -B '" + scratch + "' -DPGXQ_INSTALL_TESTKIT=ON >/dev/null");
  CHECK(has_testkit_rule(scratch));

  shell(with_build_dir(build, tree) + " >/dev/null");
  const std::string destdir = work + "/root";
  shell(with_build_dir(install, tree) + " >/dev/null", {{"DESTDIR", destdir}});

  const auto paths = listed_paths(text, "<!-- install-paths -->");
  CHECK(paths.size() >= 15);
  for (const auto& p : paths) {
    INFO("listed in README.md's \"What goes where\": ", p);
    CHECK(fs::exists(destdir + p));
  }
  CHECK(files_named(destdir, "testkit.so").empty());

  // What the block goes on to use is what the install put there.
  for (const auto& line : block)
    if (line.find("cp /etc/pgxqd/pgxqd.toml.example") != std::string::npos)
      CHECK(fs::exists(destdir + "/etc/pgxqd/pgxqd.toml.example"));
  const auto version = run({pgxqd(), "version"});
  std::smatch m;
  REQUIRE(std::regex_search(version.out, m, std::regex("default plugins dir: ([^\n]+)")));
  CHECK(fs::exists(destdir + m[1].str() + "/hello_c.so"));
  REQUIRE(std::regex_search(version.out, m, std::regex("example config: ([^\n]+)")));
  CHECK(fs::exists(destdir + m[1].str()));

  // Another prefix at install time: the units follow it, nothing lands under the first one.
  const std::string other = work + "/other";
  shell("cmake --install '" + tree + "' --prefix /opt/pgxqd-test >/dev/null", {{"DESTDIR", other}});
  CHECK(fs::exists(other + "/opt/pgxqd-test/lib/systemd/system/pgxqd.service"));
  CHECK(fs::exists(other + "/opt/pgxqd-test/lib/systemd/system/pgxqd@.service"));
  CHECK_FALSE(fs::exists(other + "/usr/local/lib/systemd"));

  fs::remove_all(work);
}
