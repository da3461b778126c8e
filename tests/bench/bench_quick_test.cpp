// pgxq-bench --quick --json end to end: exits 0, prints one JSON object with the machine
// facts, every scenario verified, and a figure for each scenario.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <set>

#include "support.hpp"

using namespace pgxq::test;

TEST_CASE("pgxq-bench --quick runs every scenario, verifies them and prints valid JSON") {
  std::map<std::string, std::string> env;
  Process bench({bin_dir() + "/pgxq-bench", "--quick", "--json"}, env);
  auto code = bench.wait(std::chrono::minutes(4));
  INFO("stderr:\n" << bench.err());
  REQUIRE(code.has_value());
  CHECK(*code == 0);

  simdjson::dom::parser parser;
  simdjson::padded_string json(bench.out());
  simdjson::dom::element doc;
  REQUIRE_MESSAGE(parser.parse(json).get(doc) == simdjson::SUCCESS, "stdout is not JSON:\n" << bench.out());

  int64_t nproc = 0;
  CHECK(doc["machine"]["nproc"].get(nproc) == simdjson::SUCCESS);
  CHECK(nproc >= 1);
  std::string_view version;
  CHECK(doc["postgresql"]["version"].get(version) == simdjson::SUCCESS);
  CHECK(version.find("PostgreSQL") != std::string_view::npos);

  const std::set<std::string> all{"enqueue", "process",     "memory",    "process-tx",      "backlog",
                                  "latency", "retry-storm", "retention", "long-transaction",
                                  "isolation"};
  std::set<std::string> verified;
  for (auto s : doc["scenarios"].get_array()) {
    std::string_view name;
    bool ok = false;
    REQUIRE(s["name"].get(name) == simdjson::SUCCESS);
    REQUIRE(s["verified"].get(ok) == simdjson::SUCCESS);
    CHECK_MESSAGE(ok, "scenario " << name << " did not verify");
    if (ok) verified.insert(std::string(name));
  }
  CHECK(verified == all);

  std::set<std::string> with_figures;
  for (auto f : doc["figures"].get_array()) {
    std::string_view scenario;
    double value = -1;
    REQUIRE(f["scenario"].get(scenario) == simdjson::SUCCESS);
    REQUIRE(f["value"].get(value) == simdjson::SUCCESS);
    CHECK(value > 0);
    with_figures.insert(std::string(scenario));
  }
  CHECK(with_figures == all);
}

TEST_CASE("pgxq-bench refuses an unknown scenario with a usage error") {
  auto r = run({bin_dir() + "/pgxq-bench", "--scenario", "nonsense"});
  CHECK(r.code == 64);
  CHECK(r.err.find("unknown scenario 'nonsense'") != std::string::npos);
}
