// The plugin guide (plugin-sdk/README.md) as a reader follows it: its marked code blocks
// (`<!-- guide-file: PATH -->` before a file, `<!-- guide-run: NAME -->` before build commands,
// `<!-- guide-install: NAME -->` before the install commands) are extracted from the text, the
// SDK is installed into $HOME/.local of a scratch HOME, both examples are built with the
// guide's own commands, their dynamic symbol tables hold only the entry, the install commands
// (run with a `sudo` that only records what it was asked) aim at the plugins directory pgxqd
// reports, and the real pgxqd loads the plugins and runs one job of each to `completed`, with
// the rows the handlers wrote.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "plugin_test_support.hpp"
#include "reliability.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::rel;
namespace pg = pgxq::pg;

namespace {

struct Guide {
  std::map<std::string, std::string> files;  // path -> content
  std::map<std::string, std::string> runs;   // name -> shell commands
  std::map<std::string, std::string> installs;  // name -> shell commands that need root
};

// Every fenced block right after a `<!-- guide-file: X -->` or `<!-- guide-run: X -->` line.
Guide extract(const std::string& markdown) {
  Guide g;
  std::istringstream in(markdown);
  std::string line;
  std::map<std::string, std::string>* into = nullptr;
  std::string name;
  auto marker = [&](const std::string& l, const std::string& tag) -> std::optional<std::string> {
    const std::string open = "<!-- " + tag + ": ";
    if (l.rfind(open, 0) != 0 || l.size() < open.size() + 4 || l.substr(l.size() - 4) != " -->") return std::nullopt;
    return l.substr(open.size(), l.size() - open.size() - 4);
  };
  while (std::getline(in, line)) {
    if (auto f = marker(line, "guide-file")) {
      into = &g.files;
      name = *f;
      continue;
    }
    if (auto r = marker(line, "guide-run")) {
      into = &g.runs;
      name = *r;
      continue;
    }
    if (auto i = marker(line, "guide-install")) {
      into = &g.installs;
      name = *i;
      continue;
    }
    if (!into || line.rfind("```", 0) != 0) {
      if (into && !line.empty()) FAIL("guide marker for " << name << " is not followed by a code block");
      continue;
    }
    std::string body;
    while (std::getline(in, line) && line.rfind("```", 0) != 0) body += line + "\n";
    REQUIRE_MESSAGE(into->count(name) == 0, "guide block " << name << " appears twice");
    (*into)[name] = body;
    into = nullptr;
  }
  return g;
}

void must_run(const std::vector<std::string>& argv, std::map<std::string, std::string> env = {}) {
  auto r = run(argv, std::move(env));
  INFO("command: " << argv.back() << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.code == 0);
}

// The names `nm -D --defined-only` lists for `so`, space-separated.
std::string exported(const std::string& so) {
  auto r = run({"nm", "-D", "--defined-only", so});
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::string names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    names += (names.empty() ? "" : " ") + line.substr(line.find_last_of(' ') + 1);
  return names;
}

}  // namespace

TEST_CASE("plugin guide: both examples build from the README's text and complete a job each in pgxqd") {
  Guide g = extract(read_file(source_dir() + "/plugin-sdk/README.md"));
  for (const char* f : {"guide.sql", "greet/CMakeLists.txt", "greet/greet.cpp", "note/note.c"})
    REQUIRE_MESSAGE(g.files.count(f) == 1, "plugin-sdk/README.md has no block marked guide-file: " << std::string(f));
  for (const char* r : {"greet", "note"})
    REQUIRE_MESSAGE(g.runs.count(r) == 1, "plugin-sdk/README.md has no block marked guide-run: " << std::string(r));

  // The reader's machine: the SDK installed where the guide says, into $HOME/.local.
  const std::string work = temp_dir("pgxq-guide");
  const std::string home = work + "/home";
  std::filesystem::create_directories(home);
  must_run({PGXQ_CMAKE_COMMAND, "--install", PGXQ_BUILD_DIR, "--prefix", home + "/.local", "--component", "plugin-sdk"});
  for (const auto& [path, content] : g.files) {
    std::filesystem::create_directories(std::filesystem::path(work + "/" + path).parent_path());
    write_file(work + "/" + path, content);
  }
  for (const auto& [name, commands] : g.runs)
    must_run({"sh", "-ec", "cd '" + work + "'\n" + commands}, {{"HOME", home}, {"PKG_CONFIG_PATH", ""}});

  const std::string greet_so = work + "/greet/build/greet.so", note_so = work + "/note/note.so";

  // The install step, in the shell that ran the build (it is in greet/ now), with the real
  // pgxqd on PATH and a sudo that records instead of running.
  REQUIRE_MESSAGE(g.installs.count("greet") == 1, "plugin-sdk/README.md has no block marked guide-install: greet");
  const std::string shims = work + "/shims";
  std::filesystem::create_directories(shims);
  std::filesystem::create_symlink(bin_dir() + "/pgxqd", shims + "/pgxqd");
  write_file(shims + "/sudo", "#!/bin/sh\necho \"$*\" >> '" + work + "/sudo.log'\n");
  std::filesystem::permissions(shims + "/sudo", std::filesystem::perms::owner_all);
  must_run({"sh", "-ec", "cd '" + work + "'\n" + g.runs["greet"] + g.installs["greet"]},
           {{"HOME", home}, {"PATH", shims + ":" + std::string(getenv("PATH"))}});
  const std::string sudo_log = read_file(work + "/sudo.log");
  CHECK(sudo_log.rfind("install -m 0755 -o root build/greet.so /", 0) == 0);
  CHECK(sudo_log.find("/pgxqd/plugins/\n") != std::string::npos);
  CHECK(exported(greet_so) == "pgxq_plugin_entry");
  CHECK(exported(note_so) == "pgxq_plugin_entry");

  TempDatabase db;
  const auto ci = db.conninfo();
  const std::string table = "guide_jobs";
  migrate(ci, table);
  auto c = db.connect();
  c.exec(g.files["guide.sql"]);  // the reader's migration
  auto insert = [&](const std::string& kind, const std::string& args) {
    return scalar(c, "INSERT INTO " + table + " (kind, args) VALUES ($1, $2::jsonb) RETURNING id", {kind, args});
  };
  const int64_t greet = insert("greet", R"({"name": "world"})");
  const int64_t note = insert("note", R"({"text": "remember the milk"})");

  PluginDir plugins;
  plugins.add(greet_so, "greet.so");
  plugins.add(note_so, "note.so");
  DaemonConfig cfg(table, {{"poll_interval", "\"100ms\""}}, "[database]\nurl = \"" + ci + "\"\n");
  Daemon d(cfg.path, {}, {"--plugins-dir", plugins.path()});
  d.start();
  const bool settled = wait_count(ci, "SELECT count(*) FROM " + table + " WHERE state <> 'available' AND state <> 'running'",
                                  2, std::chrono::seconds(60));
  auto code = d.stop();
  INFO(d.log());
  REQUIRE(settled);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(scalar_text(c, "SELECT state FROM " + table + " WHERE id = $1", {std::to_string(greet)}) == "completed");
  CHECK(scalar_text(c, "SELECT state FROM " + table + " WHERE id = $1", {std::to_string(note)}) == "completed");
  CHECK(scalar_text(c, "SELECT name FROM greetings WHERE job_id = $1", {std::to_string(greet)}) == "world");
  CHECK(scalar(c, "SELECT count(*) FROM greetings") == 1);
  CHECK(scalar_text(c, "SELECT args->>'text' FROM notes WHERE job_id = $1", {std::to_string(note)}) ==
        "remember the milk");
  CHECK(scalar(c, "SELECT count(*) FROM notes") == 1);
  CHECK(d.log().find("plugin greet 1.0.0 loaded from") != std::string::npos);
  CHECK(d.log().find("plugin note 1.0.0 loaded from") != std::string::npos);
  std::filesystem::remove_all(work);
}
