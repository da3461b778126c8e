// The SDK as a handler author outside this tree gets it: installed with `cmake --install` into
// a temporary prefix, then a C++ and a C plugin built with find_package(pgxq-plugin), and a C
// plugin built with pkg-config (as C99 pedantic), all loaded and called through the loader; the
// CMake-built ones export nothing but the entry.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "plugin_test_support.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;
using queue::OutcomeCode;

namespace {

const char* kCMakeLists = R"(cmake_minimum_required(VERSION 3.25)
project(oot LANGUAGES C CXX)
find_package(pgxq-plugin 1.0 REQUIRED)
pgxq_add_plugin(oot_cpp oot.cpp)
pgxq_add_plugin(oot_c oot.c)
)";

const char* kCpp = R"(#include <pgxq/plugin.hpp>
PGXQ_PLUGIN("oot_cpp", "0.1.0", [](pgxq::Plugin& p) {
  auto factor = p.config_or<int64_t>("factor", 1);
  p.handle("oot_cpp", [factor](pgxq::Job& job) -> pgxq::Outcome {
    auto rows = job.exec("SELECT $1::bigint * $2::bigint AS product", {std::to_string(job.arg<int64_t>("n")), std::to_string(factor)});
    return pgxq::Retry{"product " + std::string(rows.text(0, 0)), std::chrono::milliseconds(250)};
  });
});
)";

const char* kC = R"(#include <pgxq/plugin.h>
static int handle(const pgxq_plugin_host *host, pgxq_plugin_job *job, void *ud) {
  (void)ud;
  host->set_message(job, host->job_kind(job));
  return PGXQ_OUTCOME_DISCARD;
}
static int init(const pgxq_plugin_host *host, pgxq_plugin *plugin) {
  return host->register_handler(plugin, KIND, handle, NULL) == PGXQ_PLUGIN_OK ? 0 : 1;
}
static const pgxq_plugin_descriptor d = PGXQ_PLUGIN_DESCRIPTOR_INIT(KIND, "0.1.0", init, NULL);
PGXQ_PLUGIN_EXPORT const pgxq_plugin_descriptor *pgxq_plugin_entry(void) { return &d; }
)";

void must_run(std::vector<std::string> argv, std::map<std::string, std::string> env = {}) {
  auto r = run(argv, std::move(env));
  INFO("command: " << argv[0] << " ... " << argv.back() << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
  REQUIRE(r.code == 0);
}

}  // namespace

TEST_CASE("sdk: a plugin built outside the tree against the installed SDK loads and runs") {
  std::string work = temp_dir("pgxq-sdk");
  std::string prefix = work + "/prefix";
  must_run({PGXQ_CMAKE_COMMAND, "--install", PGXQ_BUILD_DIR, "--prefix", prefix, "--component", "plugin-sdk"});
  CHECK(std::filesystem::exists(prefix + "/include/pgxq/plugin.h"));
  CHECK(std::filesystem::exists(prefix + "/include/pgxq/plugin.hpp"));

  // CMake package.
  std::string src = work + "/src";
  std::filesystem::create_directories(src);
  write_file(src + "/CMakeLists.txt", kCMakeLists);
  write_file(src + "/oot.cpp", kCpp);
  write_file(src + "/oot.c", std::string("#define KIND \"oot_c\"\n") + kC);
  must_run({PGXQ_CMAKE_COMMAND, "-S", src, "-B", work + "/build", "-DCMAKE_PREFIX_PATH=" + prefix,
            "-DCMAKE_BUILD_TYPE=Release"});
  must_run({PGXQ_CMAKE_COMMAND, "--build", work + "/build", "-j2"});

  // pkg-config, compiled as strict C99.
  write_file(src + "/pc.c", std::string("#define KIND \"oot_pc\"\n") + kC);
  must_run({"sh", "-c",
            std::string(PGXQ_C_COMPILER) + " -std=c99 -pedantic -Wall -Wextra -Werror -shared -fPIC "
                "-fvisibility=hidden $(pkg-config --cflags pgxq-plugin) -o " + work + "/build/oot_pc.so " + src + "/pc.c"},
           {{"PKG_CONFIG_PATH", prefix + "/share/pkgconfig"}});

  // pgxq_add_plugin's promise: only the entry is exported, even from C++ (whose std::
  // template instantiations are weak symbols of default visibility).
  for (const char* so : {"oot_cpp.so", "oot_c.so"}) {
    auto nm = run({"nm", "-D", "--defined-only", work + "/build/" + so});
    INFO(so << ":\n" << nm.out << nm.err);
    REQUIRE(nm.code == 0);
    std::istringstream lines(nm.out);
    std::vector<std::string> names;
    for (std::string line; std::getline(lines, line);) names.push_back(line.substr(line.find_last_of(' ') + 1));
    CHECK(names == std::vector<std::string>{"pgxq_plugin_entry"});
  }

  PluginDir dir;
  dir.add(work + "/build/oot_cpp.so", "oot_cpp.so");
  dir.add(work + "/build/oot_c.so", "oot_c.so");
  dir.add(work + "/build/oot_pc.so", "oot_pc.so");
  auto options = loader_options(dir.path());
  options.settings["oot_cpp"].insert("factor", 3);
  auto loaded = plugin::load_plugins(options);
  REQUIRE(loaded.plugins().size() == 3);

  auto conn = connect();
  TxContext ctx(conn);
  auto o = call(loaded, make_job("oot_cpp", R"({"n": 14})"), ctx);
  CHECK(o.code == OutcomeCode::retry);
  CHECK(o.message == "product 42");
  REQUIRE(o.delay.has_value());
  CHECK(o.delay->count() == 250);
  for (const char* kind : {"oot_c", "oot_pc"}) {
    TxContext c(conn);
    auto out = call(loaded, make_job(kind), c);
    CHECK(out.code == OutcomeCode::discard);
    CHECK(out.message == kind);
  }
  std::filesystem::remove_all(work);
}
