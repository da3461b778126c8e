// Cron expressions and schedules (queue/cron): a table of expressions and the next five times
// after a fixed instant, daylight-saving changes in Europe/Berlin with explicit dates, the
// look-back and count used for missed runs, and the errors, each saying what and where.
#include <doctest/doctest.h>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <string>
#include <vector>

#include "queue/cron.hpp"

using pgxq::queue::format_utc;
using pgxq::queue::Instant;
using pgxq::queue::parse_cron;
using pgxq::queue::Schedule;

namespace {

// "2026-01-01T00:00:00Z" -> Instant.
Instant at(const std::string& iso) {
  cctz::time_point<cctz::seconds> tp;
  REQUIRE(cctz::parse("%Y-%m-%dT%H:%M:%SZ", iso, cctz::utc_time_zone(), &tp));
  return Instant(std::chrono::seconds(tp.time_since_epoch().count()));
}

std::vector<std::string> next_five(const Schedule& s, const std::string& after) {
  std::vector<std::string> out;
  auto t = at(after);
  for (int i = 0; i < 5; ++i) {
    auto n = s.next_after(t);
    if (!n) break;
    out.push_back(format_utc(*n));
    t = *n;
  }
  return out;
}

struct Case {
  const char* expression;
  const char* zone;
  const char* after;
  std::vector<std::string> next;
};

}  // namespace

TEST_CASE("cron: next five times of a table of expressions") {
  // 2026-01-01 is a Thursday.
  const std::vector<Case> cases = {
      {"*/15 * * * *", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z", "2026-01-01T01:15:00Z"}},
      {"0 */6 * * *", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z", "2026-01-02T06:00:00Z"}},
      {"30 9 * * MON-FRI", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-01T09:30:00Z", "2026-01-02T09:30:00Z", "2026-01-05T09:30:00Z", "2026-01-06T09:30:00Z", "2026-01-07T09:30:00Z"}},
      {"0 0 1 */3 *", "UTC", "2026-01-01T00:00:00Z",
       {"2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z"}},
      {"0 12 * JAN,jul sun", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-04T12:00:00Z", "2026-01-11T12:00:00Z", "2026-01-18T12:00:00Z", "2026-01-25T12:00:00Z", "2026-07-05T12:00:00Z"}},
      // Both day fields restricted: either matches (the 13th, or a Friday).
      {"0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z"}},
      // 0 and 7 are both Sunday.
      {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z", "2026-02-01T00:00:00Z"}},
      {"5 4 29 2 *", "UTC", "2026-01-01T00:00:00Z",
       {"2028-02-29T04:05:00Z", "2032-02-29T04:05:00Z", "2036-02-29T04:05:00Z", "2040-02-29T04:05:00Z", "2044-02-29T04:05:00Z"}},
      {"@hourly", "UTC", "2026-01-01T00:00:00Z",
       {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z", "2026-01-01T05:00:00Z"}},
      {"0-10/5,59 23 31 12 *", "UTC", "2026-01-01T00:00:00Z",
       {"2026-12-31T23:00:00Z", "2026-12-31T23:05:00Z", "2026-12-31T23:10:00Z", "2026-12-31T23:59:00Z", "2027-12-31T23:00:00Z"}},
      // Seconds past a minute: the next is the next whole matching minute.
      {"* * * * *", "UTC", "2026-01-01T00:00:30Z",
       {"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z", "2026-01-01T00:04:00Z", "2026-01-01T00:05:00Z"}},
      // Wall-clock midnight in New York (UTC-5 in winter).
      {"0 0 1 1 *", "America/New_York", "2026-01-01T00:00:00Z",
       {"2026-01-01T05:00:00Z", "2027-01-01T05:00:00Z", "2028-01-01T05:00:00Z", "2029-01-01T05:00:00Z", "2030-01-01T05:00:00Z"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.expression);
    CAPTURE(c.zone);
    CHECK(next_five(Schedule::cron(c.expression, c.zone), c.after) == c.next);
  }
}

TEST_CASE("cron: Europe/Berlin spring forward — a skipped time runs at the first instant after the gap") {
  // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z); 02:00-02:59 does not exist.
  CHECK(next_five(Schedule::cron("30 2 * * *", "Europe/Berlin"), "2026-03-27T12:00:00Z") ==
        std::vector<std::string>{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
                                 "2026-03-31T00:30:00Z", "2026-04-01T00:30:00Z"});
  CHECK(next_five(Schedule::cron("0 2 * * *", "Europe/Berlin"), "2026-03-28T00:00:00Z") ==
        std::vector<std::string>{"2026-03-28T01:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z",
                                 "2026-03-31T00:00:00Z", "2026-04-01T00:00:00Z"});
  // Every skipped time and 03:00 itself fall on the same instant: it runs once.
  CHECK(next_five(Schedule::cron("*/30 * * * *", "Europe/Berlin"), "2026-03-29T00:29:00Z") ==
        std::vector<std::string>{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z",
                                 "2026-03-29T02:00:00Z", "2026-03-29T02:30:00Z"});
  auto s = Schedule::cron("30 2 * * *", "Europe/Berlin");
  CHECK(s.format_local(*s.next_after(at("2026-03-28T12:00:00Z"))) == "2026-03-29 03:00:00 CEST (+02:00)");
}

TEST_CASE("cron: Europe/Berlin fall back — a repeated time runs once, at its first occurrence") {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00Z); 02:00-02:59 happens twice.
  CHECK(next_five(Schedule::cron("30 2 * * *", "Europe/Berlin"), "2026-10-23T12:00:00Z") ==
        std::vector<std::string>{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z",
                                 "2026-10-27T01:30:00Z", "2026-10-28T01:30:00Z"});
  // The second pass of 02:00-02:59 (01:00Z-01:59Z) is not run again.
  CHECK(next_five(Schedule::cron("*/30 * * * *", "Europe/Berlin"), "2026-10-24T23:59:00Z") ==
        std::vector<std::string>{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
                                 "2026-10-25T02:30:00Z", "2026-10-25T03:00:00Z"});
  // Asked from inside the second pass, the day's 02:30 has been: the next is tomorrow's.
  CHECK(format_utc(*Schedule::cron("30 2 * * *", "Europe/Berlin").next_after(at("2026-10-25T01:15:00Z"))) ==
        "2026-10-26T01:30:00Z");
}

TEST_CASE("every: multiples of the period since the Unix epoch") {
  auto s = Schedule::every(std::chrono::minutes(10));
  CHECK(next_five(s, "2026-01-01T00:07:13Z") ==
        std::vector<std::string>{"2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z", "2026-01-01T00:30:00Z",
                                 "2026-01-01T00:40:00Z", "2026-01-01T00:50:00Z"});
  CHECK(format_utc(*s.latest_at_or_before(at("2026-01-01T00:07:13Z"))) == "2026-01-01T00:00:00Z");
  CHECK(format_utc(*s.latest_at_or_before(at("2026-01-01T00:10:00Z"))) == "2026-01-01T00:10:00Z");
  CHECK(s.count_between(at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 100) == 6);
  CHECK(s.count_between(at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), 4) == 4);
  CHECK(s.count_between(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:09:59Z"), 100) == 0);
  // 11s does not divide a minute: the times are the epoch's multiples, not the minute's.
  CHECK(next_five(Schedule::every(std::chrono::seconds(11)), "2026-01-01T00:00:00Z").front() == "2026-01-01T00:00:03Z");
  CHECK_THROWS_AS(Schedule::every(std::chrono::seconds(0)), std::invalid_argument);
}

TEST_CASE("cron: the latest time at or before, and counts, for missed runs") {
  auto s = Schedule::cron("0 12 * JAN,jul sun", "UTC");
  CHECK(format_utc(*s.latest_at_or_before(at("2026-06-01T00:00:00Z"))) == "2026-01-25T12:00:00Z");
  CHECK(format_utc(*s.latest_at_or_before(at("2026-01-25T12:00:00Z"))) == "2026-01-25T12:00:00Z");
  CHECK(s.count_between(at("2026-01-01T00:00:00Z"), at("2026-06-01T00:00:00Z"), 100) == 4);
  auto minutely = Schedule::cron("* * * * *", "UTC");
  CHECK(format_utc(*minutely.latest_at_or_before(at("2026-01-01T10:00:59Z"))) == "2026-01-01T10:00:00Z");
  auto leap = Schedule::cron("5 4 29 2 *", "UTC");
  CHECK(format_utc(*leap.latest_at_or_before(at("2031-01-01T00:00:00Z"))) == "2028-02-29T04:05:00Z");
}

TEST_CASE("cron: errors say what is wrong and where") {
  struct Bad {
    const char* expression;
    const char* message;
  };
  const std::vector<Bad> bad = {
      {"* * * *", "expected 5 fields separated by spaces (minute hour day-of-month month day-of-week), got 4"},
      {"0 * * * * *", "got 6 (seconds and years are not supported)"},
      {"60 * * * *", "minute field \"60\" at column 1: 60 is out of range (0-59)"},
      {"0 24 * * *", "hour field \"24\" at column 3: 24 is out of range (0-23)"},
      {"0 0 0 * *", "day-of-month field \"0\" at column 5: 0 is out of range (1-31)"},
      {"0 0 * 13 *", "month field \"13\" at column 7: 13 is out of range (1-12 or JAN-DEC)"},
      {"0 0 * * 8", "day-of-week field \"8\" at column 9: 8 is out of range (0-7 or SUN-SAT; 0 and 7 are both Sunday)"},
      {"*/0 * * * *", "minute field \"*/0\" at column 3: a step must be at least 1, got 0"},
      {"5-1 * * * *", "minute field \"5-1\" at column 3: range 5-1 goes backwards"},
      {"1,,2 * * * *", "minute field \"1,,2\" at column 3: empty list item"},
      {"0 0 * FOO *", "month field \"FOO\" at column 7: unknown name \"FOO\""},
      {"0 0 * * MON-FRIX", "day-of-week field \"MON-FRIX\" at column 13: unknown name \"FRIX\""},
      {"x * * * *", "minute field \"x\" at column 1: \"x\" is not a number; names are allowed only for months and weekdays"},
      {"1/ * * * *", "minute field \"1/\" at column 3: expected a step"},
      {"0 0 30 2 *", "day-of-month field \"30\" at column 5: no such day in month field \"2\", so this never runs"},
      {"@fortnightly", "unknown shorthand \"@fortnightly\" at column 1"},
      {"", "expected 5 fields"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.expression);
    auto r = parse_cron(b.expression);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error.find(b.message) != std::string::npos);
    CAPTURE(r.error);
    CHECK_THROWS_AS(Schedule::cron(b.expression, "UTC"), std::invalid_argument);
  }
  CHECK(parse_cron("  0   3 * * *  ").ok());
  CHECK(pgxq::queue::time_zone_problem("Europe/Berlin").empty());
  CHECK(pgxq::queue::time_zone_problem("Mars/Olympus").find("unknown time zone \"Mars/Olympus\"") == 0);
  CHECK_THROWS_AS(Schedule::cron("0 3 * * *", "Mars/Olympus"), std::invalid_argument);
}
