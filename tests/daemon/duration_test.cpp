// Duration parser: accepted forms, exact millisecond values, and every rejection with its reason.
#include <doctest/doctest.h>

#include "config/duration.hpp"

using pgxq::config::format_duration;
using pgxq::config::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("durations: single units") {
  CHECK(parse_duration("50ms").value == 50ms);
  CHECK(parse_duration("1s").value == 1s);
  CHECK(parse_duration("5m").value == 5min);
  CHECK(parse_duration("1h").value == 1h);
  CHECK(parse_duration("2d").value == 48h);
  CHECK(parse_duration("0").value == 0ms);
  CHECK(parse_duration("0s").ok());
  CHECK(parse_duration("0s").value == 0ms);
}

TEST_CASE("durations: combinations and fractions") {
  CHECK(parse_duration("1h30m").value == 90min);
  CHECK(parse_duration("1m30s500ms").value == 90500ms);
  CHECK(parse_duration("1.5s").value == 1500ms);
  CHECK(parse_duration("0.25h").value == 15min);
  CHECK(parse_duration(".5s").value == 500ms);
  CHECK(parse_duration("+2s").value == 2s);
}

TEST_CASE("durations: rejections say why") {
  auto bad = [](const char* text, const char* why) {
    auto r = parse_duration(text);
    INFO(text, " -> ", r.error);
    CHECK_FALSE(r.ok());
    CHECK(r.error.find(why) != std::string::npos);
    CHECK(r.error.find("\"500ms\"") != std::string::npos);  // says what is accepted
  };
  bad("", "empty");
  bad("5", "unit is missing");
  bad("10", "unit is missing");
  bad("-1s", "negative");
  bad("5x", "unknown unit \"x\"");
  bad("5 s", "spaces");
  bad("1.5ms", "finer than a millisecond");
  bad("100us", "below a millisecond");
  bad("s", "expected a number");
  bad("1s5", "unit is missing");
  bad("99999999999999999999s", "too large");
  bad("9999999999999999h", "too large");
  bad("1.0000000001s", "decimal places");
  bad("1,5s", "unexpected character ','");
}

TEST_CASE("durations: format round-trips") {
  for (auto d : {0ms, 1ms, 999ms, 1000ms, 1500ms, std::chrono::milliseconds(90min), std::chrono::milliseconds(25h),
                 std::chrono::milliseconds(3723004)}) {
    auto text = format_duration(d);
    auto back = parse_duration(text);
    INFO(text);
    CHECK(back.ok());
    CHECK(back.value == d);
  }
  CHECK(format_duration(90min) == "1h30m");
  CHECK(format_duration(250ms) == "250ms");
}
