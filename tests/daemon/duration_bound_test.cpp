// Durations have an upper bound: a value the clock arithmetic could not add to "now" (e.g.
// "200000d", about 548 years) is refused with a clear error, in the parser and in the config.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "config/duration.hpp"

using namespace pgxq::config;
using namespace std::chrono_literals;

TEST_CASE("durations: longer than 3650d is refused, saying the limit") {
  CHECK(parse_duration("3650d").ok());
  CHECK(parse_duration("3650d").value == std::chrono::milliseconds(3650LL * 86'400'000));
  for (const char* text : {"200000d", "3650d1ms", "87601h", "1000000000000s"}) {
    auto r = parse_duration(text);
    INFO(text, " -> ", r.error);
    CHECK_FALSE(r.ok());
    CHECK(r.error.find("too large: the longest duration accepted is 3650d") != std::string::npos);
  }
}

TEST_CASE("config: a duration beyond the bound and a table name with NUL are refused with their key") {
  auto refused = [](const std::string& text, const std::string& what) {
    try {
      load_string(text, "t.toml", Defaults{});
    } catch (const ConfigError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      return;
    }
    FAIL("accepted: " << text);
  };
  refused("[worker]\nrescue_after = \"200000d\"\n", "too large: the longest duration accepted is 3650d");
  refused("[worker]\ntable = \"pgxq_job\\u0000; DROP TABLE x\"\n", "invalid table name: it contains a NUL character");
  refused("[queues.q]\nmax_workers = 1\ntable = \"a\\u0000b\"\n", "queues.q.table");
}
