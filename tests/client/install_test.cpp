// The installed library works outside this tree: `cmake --install` the client component into a
// temporary prefix, then build tiny C and C++ programs against it twice — with
// find_package(pgxq) and with pkg-config — run them against the test database, and check the
// rows they inserted.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

const char* c_program = R"(/* Enqueues one job with libpgxq from C; prints its id. */
#include <pgxq/client.h>
#include <stdio.h>

int main(int argc, char** argv) {
  PGconn* conn = PQconnectdb("");
  pgxq_error err;
  pgxq_insert_opts opts = PGXQ_INSERT_OPTS_INIT;
  int64_t id;
  if (PQstatus(conn) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(conn)); return 2; }
  opts.table = argv[1];
  opts.queue = argc > 2 ? argv[2] : NULL;
  id = pgxq_insert(conn, "installed_c", "{\"lang\": \"c\"}", &opts, &err);
  if (id < 0) { fprintf(stderr, "pgxq_insert: %s (%s)\n", err.message, err.sqlstate); return 1; }
  printf("%lld %s\n", (long long)id, pgxq_version());
  PQfinish(conn);
  return 0;
}
)";

const char* cpp_program = R"cpp(// Enqueues one job with libpgxq's C++ header; prints its id.
#include <pgxq/client.hpp>
#include <iostream>

int main(int, char** argv) {
  PGconn* conn = PQconnectdb("");
  try {
    pgxq::client::Options o;
    o.table = argv[1];
    std::cout << pgxq::client::insert(conn, "installed_cpp", R"({"lang": "c++"})", o) << "\n";
  } catch (const pgxq::client::Error& e) {
    std::cerr << e.what() << " (" << e.sqlstate() << ")\n";
    PQfinish(conn);
    return 1;
  }
  PQfinish(conn);
  return 0;
}
)cpp";

const char* cmake_project = R"(cmake_minimum_required(VERSION 3.25)
project(uses_pgxq C CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(pgxq 0.1 REQUIRED)
add_executable(enqueue_c main.c)
target_link_libraries(enqueue_c PRIVATE pgxq::pgxq)
add_executable(enqueue_cpp main.cpp)
target_link_libraries(enqueue_cpp PRIVATE pgxq::pgxq)
add_executable(enqueue_static main.c)
target_link_libraries(enqueue_static PRIVATE pgxq::pgxq_static)
)";

RunResult must_run(std::vector<std::string> argv, std::map<std::string, std::string> env = {}) {
  auto r = run(argv, std::move(env));
  std::string cmd;
  for (auto& a : argv) cmd += a + " ";
  INFO(cmd);
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return r;
}

}  // namespace

TEST_CASE("install: a program outside the tree builds against the installed library and enqueues") {
  TempTable table("inst");
  const std::string dir = temp_dir("pgxq-install-test");
  struct RemoveDir {
    std::string d;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } remove_dir{dir};
  const std::string prefix = dir + "/prefix";
  const std::string cmake = PGXQ_TEST_CMAKE;

  must_run({cmake, "--install", PGXQ_BUILD_DIR, "--prefix", prefix, "--component", "pgxq-client"});
  for (const char* f : {"include/pgxq/client.h", "include/pgxq/client.hpp"})
    CHECK_MESSAGE(std::filesystem::exists(prefix + "/" + f), f);

  std::filesystem::create_directories(dir + "/src");
  write_file(dir + "/src/main.c", c_program);
  write_file(dir + "/src/main.cpp", cpp_program);
  write_file(dir + "/src/CMakeLists.txt", cmake_project);
  std::vector<std::string> configure{cmake, "-S", dir + "/src", "-B", dir + "/build", "-DCMAKE_PREFIX_PATH=" + prefix,
                                     "-DCMAKE_C_COMPILER=" PGXQ_TEST_C_COMPILER};
  // A sanitizer build of the library needs the sanitizer runtime in the program as well.
  const std::string sanitize = PGXQ_TEST_SANITIZE;
  if (!sanitize.empty()) {
    configure.push_back("-DCMAKE_C_FLAGS=-fsanitize=" + sanitize);
    configure.push_back("-DCMAKE_CXX_FLAGS=-fsanitize=" + sanitize);
    configure.push_back("-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=" + sanitize);
  }
  must_run(configure);
  must_run({cmake, "--build", dir + "/build"});

  auto c = must_run({dir + "/build/enqueue_c", table.name(), "installed"});
  auto cpp = must_run({dir + "/build/enqueue_cpp", table.name()});
  auto st = must_run({dir + "/build/enqueue_static", table.name()});

  // pkg-config, the way a Makefile would use it.
  std::string pc_path;
  for (auto& e : std::filesystem::recursive_directory_iterator(prefix))
    if (e.path().filename() == "pgxq.pc") pc_path = e.path().parent_path().string();
  REQUIRE_MESSAGE(!pc_path.empty(), "pgxq.pc was not installed");
  must_run({"sh", "-c",
            std::string(PGXQ_TEST_C_COMPILER) + (sanitize.empty() ? "" : " -fsanitize=" + sanitize) + " -std=c99 -o '" +
                dir + "/enqueue_pc' '" + dir + "/src/main.c' $(pkg-config --cflags --libs pgxq)"},
           {{"PKG_CONFIG_PATH", pc_path}});
  auto libdir = must_run({"pkg-config", "--variable=libdir", "pgxq"}, {{"PKG_CONFIG_PATH", pc_path}}).out;
  while (!libdir.empty() && libdir.back() == '\n') libdir.pop_back();
  auto pc = must_run({dir + "/enqueue_pc", table.name(), "from_pc"}, {{"LD_LIBRARY_PATH", libdir}});

  auto conn = connect();
  const auto id_of = [](const std::string& out) { return out.substr(0, out.find_first_of(" \n")); };
  CHECK(c.out.find(" 0.1.") != std::string::npos);
  CHECK(count_rows(conn, table.name(), "id = " + id_of(c.out) + " AND kind = 'installed_c' AND queue = 'installed'") == 1);
  CHECK(count_rows(conn, table.name(), "id = " + id_of(cpp.out) + " AND kind = 'installed_cpp' AND args->>'lang' = 'c++'") ==
        1);
  CHECK(count_rows(conn, table.name(), "id = " + id_of(st.out) + " AND kind = 'installed_c'") == 1);
  CHECK(count_rows(conn, table.name(), "id = " + id_of(pc.out) + " AND queue = 'from_pc'") == 1);
  CHECK(count_rows(conn, table.name()) == 4);
}
