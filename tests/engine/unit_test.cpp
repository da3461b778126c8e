// Pure parts of the engine: backoff, outcome resolution, parameter literals, text sanitising.
#include <doctest/doctest.h>

#include "queue/resolution.hpp"
#include "queue/retry_policy.hpp"
#include "queue/sql.hpp"

using namespace pgxq::queue;
using std::chrono::milliseconds;

TEST_CASE("backoff: default policy doubles from 1s, capped at 1h, jitter 0.8-1.2") {
  BackoffPolicy p;
  CHECK(backoff_delay(p, 1, 0.5) == milliseconds(1000));
  CHECK(backoff_delay(p, 2, 0.5) == milliseconds(2000));
  CHECK(backoff_delay(p, 5, 0.5) == milliseconds(16000));
  CHECK(backoff_delay(p, 1, 0.0) == milliseconds(800));
  CHECK(backoff_delay(p, 1, 1.0) == milliseconds(1200));
  CHECK(backoff_delay(p, 13, 0.5) == milliseconds(3600000));   // 4096s > cap
  CHECK(backoff_delay(p, 1000, 0.5) == milliseconds(3600000)); // no overflow
  CHECK(backoff_delay(p, 1000, 1.0) == milliseconds(4320000)); // jitter applies after the cap
}

TEST_CASE("backoff: configurable initial, multiplier, no jitter, attempt 0 treated as 1") {
  BackoffPolicy p{milliseconds(50), milliseconds(1000), 3.0, 0.0};
  CHECK(backoff_delay(p, 0, 0.9) == milliseconds(50));
  CHECK(backoff_delay(p, 1, 0.9) == milliseconds(50));
  CHECK(backoff_delay(p, 3, 0.1) == milliseconds(450));
  CHECK(backoff_delay(p, 5, 0.1) == milliseconds(1000));
}

TEST_CASE("resolution: complete, discard, panic") {
  BackoffPolicy p;
  auto r = resolve(Outcome::complete(), 1, 5, p, 0.5);
  CHECK(r.state == JobState::completed);
  CHECK_FALSE(r.error.has_value());
  r = resolve(Outcome::discard("bad input"), 1, 5, p, 0.5);
  CHECK(r.state == JobState::discarded);
  CHECK(*r.error == "discard: bad input");
  r = resolve(Outcome::panic("boom"), 1, 5, p, 0.5);
  CHECK(r.state == JobState::discarded);
  CHECK(*r.error == "panic: boom");
}

TEST_CASE("resolution: retry uses backoff, the handler's delay, and fails at max_attempts") {
  BackoffPolicy p;
  auto r = resolve(Outcome::retry("down"), 2, 5, p, 0.5);
  CHECK(r.state == JobState::available);
  CHECK(r.delay == milliseconds(2000));
  CHECK(*r.error == "down");
  r = resolve(Outcome::retry("down", milliseconds(42)), 2, 5, p, 0.5);
  CHECK(r.delay == milliseconds(42));
  r = resolve(Outcome::retry("down"), 5, 5, p, 0.5);
  CHECK(r.state == JobState::failed);
  CHECK(*r.error == "down");
  r = resolve(Outcome::error("handler returned unknown outcome code 77"), 1, 1, p, 0.5);
  CHECK(r.state == JobState::failed);
}

TEST_CASE("resolution: snooze does not use up an attempt") {
  auto r = resolve(Outcome::snooze(milliseconds(300)), 5, 5, BackoffPolicy{}, 0.5);
  CHECK(r.state == JobState::available);
  CHECK(r.refund_attempt);
  CHECK(r.delay == milliseconds(300));
}

TEST_CASE("array literals quote and escape") {
  std::vector<std::string> v{"a", "with \"quote\"", "back\\slash", ""};
  CHECK(text_array(std::span<const std::string>(v)) == R"({"a","with \"quote\"","back\\slash",""})");
  std::vector<int64_t> ids{1, -2, 3};
  CHECK(int_array(std::span<const int64_t>(ids)) == "{1,-2,3}");
  CHECK(bool_array(std::vector<bool>{true, false}) == "{t,f}");
  std::vector<std::optional<std::string>> nullable{"x \"y\"", std::nullopt, "NULL"};
  CHECK(text_array(std::span<const std::optional<std::string>>(nullable)) == R"({"x \"y\"",NULL,"NULL"})");
}

TEST_CASE("sanitize_text: invalid UTF-8 replaced, NUL dropped, long text truncated on a boundary") {
  CHECK(sanitize_text("plain") == "plain");
  CHECK(sanitize_text("h\xC3\xA9llo") == "h\xC3\xA9llo");
  CHECK(sanitize_text(std::string_view("a\0b", 3)) == "ab");
  CHECK(sanitize_text("\xFF\xC3") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(sanitize_text("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  std::string big(100000, 'x');
  auto s = sanitize_text(big, 1000);
  CHECK(s.size() <= 1000 + 20);
  CHECK(s.ends_with("(truncated)"));
}

TEST_CASE("table statements quote schema-qualified names and derive the channel") {
  TableSql t("app.jobs");
  CHECK(t.quoted == "\"app\".\"jobs\"");
  CHECK(t.notify_channel == "pgxq_app_jobs");
  CHECK(t.claim.find("FOR UPDATE OF j SKIP LOCKED") != std::string::npos);
}
