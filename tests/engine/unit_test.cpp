// Pure parts of the engine: backoff, outcome resolution, parameter literals, text sanitising,
// the claim's scan fronts and parameters, the producer's claim policy, Health's outage log and
// the reconnect backoff. Time comes from a clock set by hand.
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "manual_clock.hpp"
#include "queue/claim.hpp"
#include "queue/claim_policy.hpp"
#include "queue/health.hpp"
#include "queue/resolution.hpp"
#include "queue/retry_policy.hpp"
#include "queue/scan_front.hpp"
#include "queue/session.hpp"
#include "queue/sql.hpp"

using namespace pgxq::queue;
using pgxq::test::ManualClock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

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

TEST_CASE("resolution: a snooze without a delay is due at once") {
  auto r = resolve(Outcome{OutcomeCode::snooze, {}, std::nullopt}, 1, 5, BackoffPolicy{}, 0.5);
  CHECK(r.state == JobState::available);
  CHECK(r.refund_attempt);
  CHECK(r.delay == milliseconds(0));
  CHECK_FALSE(r.error.has_value());  // keeps the row's previous error text
}

TEST_CASE("resolution: a snooze at [worker] max_snoozes is a failed attempt naming the limit") {
  BackoffPolicy p;
  p.initial = milliseconds(1000);
  p.max = milliseconds(60000);
  p.multiplier = 2;
  p.jitter = 0;
  // Below the bound: a snooze.
  auto r = resolve(Outcome::snooze(milliseconds(300)), 1, 3, p, 0.5, SnoozeBound{1, 2});
  CHECK(r.refund_attempt);
  CHECK(r.delay == milliseconds(300));
  // At the bound: a failed attempt with the backoff, not the snooze's delay.
  r = resolve(Outcome::snooze(milliseconds(300)), 1, 3, p, 0.5, SnoozeBound{2, 2});
  CHECK_FALSE(r.refund_attempt);
  CHECK(r.state == JobState::available);
  CHECK(r.delay == milliseconds(1000));
  REQUIRE(r.error.has_value());
  CHECK(*r.error == "snoozed 2 times, the limit ([worker] max_snoozes)");
  // On the last attempt: failed.
  r = resolve(Outcome::snooze(milliseconds(300)), 3, 3, p, 0.5, SnoozeBound{5, 2});
  CHECK(r.state == JobState::failed);
  CHECK(*r.error == "snoozed 5 times, the limit ([worker] max_snoozes)");
  // 0: no bound.
  r = resolve(Outcome::snooze(milliseconds(300)), 3, 3, p, 0.5, SnoozeBound{1000000, 0});
  CHECK(r.refund_attempt);
  // The bound is about snoozes only.
  r = resolve(Outcome::retry("down"), 1, 3, p, 0.5, SnoozeBound{9, 2});
  CHECK(*r.error == "down");
}

TEST_CASE("table statements count snoozes only on a table with the snoozes column (schema v7)") {
  TableSql with("app.jobs");
  CHECK(with.snoozes_column);
  CHECK(with.claim(2, true).ends_with(", j.snoozes"));
  CHECK(with.claim_ids().ends_with(", j.snoozes"));
  CHECK(with.resolve_many.find("snoozes = CASE WHEN u.refund") != std::string::npos);

  TableSql without("app.jobs", "\"app\".\"jobs\"", false);
  CHECK_FALSE(without.snoozes_column);
  for (const std::string& sql : {without.claim(2, true), without.claim_ids(), without.resolve_many, without.complete_many,
                                 without.release_many, without.rescue, without.complete_one})
    CHECK(sql.find("snoozes") == std::string::npos);
  CHECK(without.claim(2, true).ends_with(", 0::int4"));
}

TEST_CASE("array literals quote and escape") {
  std::vector<std::string> v{"a", "with \"quote\"", "back\\slash", ""};
  CHECK(text_array(std::span<const std::string>(v)) == R"({"a","with \"quote\"","back\\slash",""})");
  std::vector<int64_t> ids{1, -2, 3};
  CHECK(int_array(std::span<const int64_t>(ids)) == "{1,-2,3}");
  CHECK(bool_array(std::vector<bool>{true, false}) == "{t,f}");
  std::vector<std::optional<std::string>> nullable{"x \"y\"", std::nullopt, "NULL"};
  CHECK(text_array(std::span<const std::optional<std::string>>(nullable)) == R"({"x \"y\"",NULL,"NULL"})");
  std::vector<std::optional<int64_t>> nullable_ids{7, std::nullopt, INT64_MIN};
  CHECK(int_array(std::span<const std::optional<int64_t>>(nullable_ids)) == "{7,NULL,-9223372036854775808}");
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
  const std::string claim = t.claim(3, true);
  CHECK(claim.find("FOR UPDATE OF j SKIP LOCKED") != std::string::npos);
  CHECK(claim.find("($2::text[])[3]") != std::string::npos);  // one ordered branch per kind
  CHECK(claim.find("($2::text[])[4]") == std::string::npos);
  CHECK(claim.find("ORDER BY j.priority, j.scheduled_at, j.id LIMIT $4") != std::string::npos);
  CHECK(t.claim(3, false).find("ORDER BY j.priority, j.scheduled_at LIMIT $4") != std::string::npos);
  CHECK_THROWS_AS(t.claim(0, true), std::logic_error);
}

namespace {
// A fixed point on the injected clock.
const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

Job job_of(std::string kind, int priority, int64_t scheduled_us, int64_t id = 1) {
  Job j;
  j.id = id;
  j.kind = std::move(kind);
  j.priority = priority;
  j.scheduled_at_us = scheduled_us;
  return j;
}
}  // namespace

TEST_CASE("scan front: full scan first, then each kind from the first job claimed of it") {
  ScanFront front({"a", "b", "c"}, milliseconds(100), true);
  auto p = front.next(t0);
  CHECK(p.full);
  CHECK(p.priorities == "{-32768,-32768,-32768}");
  CHECK(p.scheduled_us == "{NULL,NULL,NULL}");
  CHECK(p.ids == "{-9223372036854775808,-9223372036854775808,-9223372036854775808}");

  // A full batch: a and b move to their first (lowest) claimed key, c keeps scanning from the start.
  std::vector<Job> got{job_of("b", 1, 500, 1), job_of("a", 0, 900, 2), job_of("a", 0, 700, 9), job_of("a", 0, 700, 8),
                       job_of("b", 0, 800, 3), job_of("unknown", 0, 1)};
  front.claimed(got, 6);
  p = front.next(t0 + milliseconds(10));
  CHECK_FALSE(p.full);
  CHECK(p.priorities == "{0,0,-32768}");
  CHECK(p.scheduled_us == "{700,800,NULL}");
  CHECK(p.ids == "{8,3,-9223372036854775808}");  // ties on (priority, scheduled_at) go by id

  // A kind with nothing in the next batch keeps its front.
  front.claimed(std::vector<Job>{job_of("c", 2, 50)}, 1);
  p = front.next(t0 + milliseconds(20));
  CHECK_FALSE(p.full);
  CHECK(p.priorities == "{0,0,2}");
  CHECK(p.scheduled_us == "{700,800,50}");
}

TEST_CASE("scan front: after a full scan, a kind it took nothing of keeps its front") {
  ScanFront front({"a", "b"}, milliseconds(100), true);
  front.next(t0);
  front.claimed(std::vector<Job>{job_of("a", 0, 100, 1), job_of("b", 0, 200, 2)}, 2);
  auto p = front.next(t0 + milliseconds(100));
  CHECK(p.full);  // sent from the start...
  CHECK(p.scheduled_us == "{NULL,NULL}");
  // ...took a job of a that had landed behind a's front, and nothing of b (drained).
  front.claimed(std::vector<Job>{job_of("a", 0, 50, 7)}, 1);
  p = front.next(t0 + milliseconds(101));
  CHECK_FALSE(p.full);
  CHECK(p.scheduled_us == "{50,200}");
  CHECK(p.ids == "{7,2}");
}

TEST_CASE("scan front: without migration 4's index the bound is on (priority, scheduled_at) only") {
  ScanFront front({"a"}, milliseconds(100), false);
  front.next(t0);
  front.claimed(std::vector<Job>{job_of("a", 0, 700, 42)}, 1);
  auto p = front.next(t0 + milliseconds(1));
  CHECK_FALSE(p.full);
  CHECK(p.scheduled_us == "{700}");
  CHECK(p.ids == "{-9223372036854775808}");
}

TEST_CASE("scan front: a short claim, the full-scan interval or reset() scan from the start") {
  ScanFront front({"a"}, milliseconds(100), true);
  CHECK(front.next(t0).full);
  front.claimed(std::vector<Job>{job_of("a", 0, 5)}, 1);
  CHECK_FALSE(front.next(t0 + milliseconds(99)).full);

  SUBCASE("short claim") {
    front.claimed(std::vector<Job>{}, 1);
    auto p = front.next(t0 + milliseconds(99));
    CHECK(p.full);
    CHECK(p.scheduled_us == "{NULL}");
  }
  SUBCASE("interval") {
    front.claimed(std::vector<Job>{job_of("a", 0, 6)}, 1);
    auto p = front.next(t0 + milliseconds(100));
    CHECK(p.full);
    CHECK(p.scheduled_us == "{NULL}");
    CHECK_FALSE(front.next(t0 + milliseconds(150)).full);  // the interval counts from this full scan
  }
  SUBCASE("reset") {
    front.reset();
    CHECK(front.next(t0 + milliseconds(1)).full);
  }
}

TEST_CASE("claim: the parameters in the claim statement's order") {
  ManualClock clock;
  ScanFront front({"a", "b"}, kFullScanEvery, true);
  const std::string kinds = "{a,b}";
  const Claim c("q", kinds, 10, front.next(clock.now()));
  CHECK(c.limit() == 10);
  CHECK(c.full_scan());
  const auto p = c.params();
  CHECK(*p[0] == "q");      // $1 queue
  CHECK(*p[1] == "{a,b}");  // $2 kinds
  CHECK(*p[2] == "10");     // $3 how many to claim
  CHECK(*p[3] == std::to_string(claim_candidates(10)));  // $4 candidates
  CHECK(*p[4] == "{-32768,-32768}");  // $5..$7 the scan fronts
  CHECK(*p[5] == "{NULL,NULL}");
  CHECK(*p[6] == "{-9223372036854775808,-9223372036854775808}");
}

TEST_CASE("claim policy: a woken producer claims at once, for every free slot up to a batch") {
  ManualClock clock;
  ClaimPolicy policy(10, 4, 1000ms);
  CHECK(policy.next_claim(0) == ClaimPolicy::kNow);  // on start
  CHECK(policy.start_claim(0, clock.now()) == 4);    // 4 slots, a batch of 10
  policy.claimed(false);
  CHECK_FALSE(ClaimPolicy::due(policy.next_claim(0), clock));  // the wake-up is used up

  policy.wake();
  CHECK(policy.next_claim(3) == ClaimPolicy::kNow);
  CHECK(ClaimPolicy::due(policy.next_claim(3), clock));
  CHECK(policy.start_claim(3, clock.now()) == 1);

  policy.set_max_workers(6);  // more slots: filled at once
  CHECK(policy.next_claim(4) == ClaimPolicy::kNow);
  CHECK(policy.start_claim(4, clock.now()) == 2);
}

TEST_CASE("claim policy: the poll is due a poll interval after the last claim, not before") {
  ManualClock clock;
  ClaimPolicy policy(10, 4, 1000ms);
  policy.start_claim(0, clock.now());
  policy.claimed(false);
  CHECK(policy.next_claim(0) == clock.now() + 1000ms);
  clock.advance(999ms);
  CHECK_FALSE(ClaimPolicy::due(policy.next_claim(0), clock));
  clock.advance(1ms);
  CHECK(ClaimPolicy::due(policy.next_claim(0), clock));

  // A new interval counts from the next claim: the poll already scheduled stays.
  policy.set_poll_interval(5000ms);
  CHECK(ClaimPolicy::due(policy.next_claim(0), clock));
  policy.start_claim(0, clock.now());
  clock.advance(4999ms);
  CHECK_FALSE(ClaimPolicy::due(policy.next_claim(0), clock));
  clock.advance(1ms);
  CHECK(ClaimPolicy::due(policy.next_claim(0), clock));
}

TEST_CASE("claim policy: a backlog refills in half batches, then waits for the poll once drained") {
  ManualClock clock;
  ClaimPolicy policy(10, 20, 1000ms);
  CHECK(policy.start_claim(0, clock.now()) == 10);
  policy.claimed(true);  // a full batch: more is likely due
  CHECK_FALSE(ClaimPolicy::due(policy.next_claim(16), clock));  // 4 free: less than half a batch
  CHECK(policy.next_claim(15) == ClaimPolicy::kNow);            // 5 free
  CHECK(policy.start_claim(15, clock.now()) == 5);
  policy.claimed(false);  // drained
  CHECK(policy.next_claim(0) == clock.now() + 1000ms);

  SUBCASE("half a batch of one slot is one slot") {
    ClaimPolicy one(10, 1, 1000ms);
    one.start_claim(0, clock.now());
    one.claimed(true);
    CHECK(one.next_claim(0) == ClaimPolicy::kNow);
  }
  SUBCASE("half of a batch of one is one") {
    ClaimPolicy one(1, 20, 1000ms);
    one.start_claim(0, clock.now());
    one.claimed(true);
    CHECK(one.next_claim(19) == ClaimPolicy::kNow);
  }
  SUBCASE("the batch is the smaller of batch size and workers") {
    ClaimPolicy few(10, 4, 1000ms);
    few.start_claim(0, clock.now());
    few.claimed(true);
    CHECK(few.next_claim(2) == ClaimPolicy::kNow);  // 2 free: half of 4
    CHECK_FALSE(ClaimPolicy::due(few.next_claim(3), clock));
  }
}

TEST_CASE("claim policy: never claims more than the free slots, nor while every slot is busy") {
  ManualClock clock;
  ClaimPolicy policy(10, 4, 1000ms);
  CHECK(policy.next_claim(4) == ClaimPolicy::kNever);  // even woken
  clock.advance(1h);
  CHECK(policy.next_claim(5) == ClaimPolicy::kNever);  // even with the poll due (max_workers lowered)
  CHECK_FALSE(ClaimPolicy::due(policy.next_claim(4), clock));
  CHECK(policy.start_claim(1, clock.now()) == 3);

  policy.set_max_workers(0);  // at least one
  CHECK(policy.max_workers() == 1);
  CHECK(policy.next_claim(1) == ClaimPolicy::kNever);
  CHECK(policy.start_claim(0, clock.now()) == 1);
  policy.set_max_workers(50);
  CHECK(policy.start_claim(0, clock.now()) == 10);  // at most a batch
}

TEST_CASE("claim policy: the claim scans every kind in full every kFullScanEvery") {
  ManualClock clock;
  ScanFront front({"a"}, kFullScanEvery, true);
  CHECK(front.next(clock.now()).full);
  const std::vector<Job> one{[] {
    Job j;
    j.kind = "a";
    j.id = 1;
    return j;
  }()};
  front.claimed(one, 1);
  clock.advance(kFullScanEvery - 1ms);
  CHECK_FALSE(front.next(clock.now()).full);
  front.claimed(one, 1);
  clock.advance(1ms);
  CHECK(front.next(clock.now()).full);
}

TEST_CASE("claim follow-up: when the next claim follows at once") {
  ClaimFollowUp follow_up;
  int asked = 0;
  bool answer = true;
  auto any_due = [&] {
    ++asked;
    return answer;
  };
  CHECK(follow_up.more_due(10, 10, false, any_due));  // a full batch
  CHECK(follow_up.more_due(10, 3, false, any_due));   // short from the fronts: again from the start
  CHECK(follow_up.more_due(10, 3, true, any_due));    // partial: others held some candidates
  CHECK(asked == 0);

  // A full scan that took nothing asks the database, and follows at once while a job is due,
  // kEmptyRetries times in a row at most.
  for (int i = 0; i < ClaimFollowUp::kEmptyRetries; ++i) CHECK(follow_up.more_due(10, 0, true, any_due));
  CHECK(asked == ClaimFollowUp::kEmptyRetries);
  CHECK_FALSE(follow_up.more_due(10, 0, true, any_due));
  CHECK(asked == ClaimFollowUp::kEmptyRetries);
  CHECK(follow_up.more_due(10, 0, true, any_due));  // and then again
  CHECK(asked == ClaimFollowUp::kEmptyRetries + 1);

  answer = false;
  CHECK_FALSE(follow_up.more_due(10, 0, true, any_due));
  answer = true;
  CHECK(follow_up.more_due(10, 10, true, any_due));
  for (int i = 0; i < ClaimFollowUp::kEmptyRetries; ++i) CHECK(follow_up.more_due(10, 0, true, any_due));
}

namespace {

struct LogCapture {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
  LogCapture() {
    logger = std::make_shared<spdlog::logger>("unit", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_level(spdlog::level::debug);
    logger->set_pattern("%l %v");
  }
  int count(const std::string& needle) const {
    const std::string text = out.str();
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }
};

}  // namespace

TEST_CASE("health: an outage is logged once when it starts and once when it ends, timed on the engine's clock") {
  LogCapture log;
  auto clock = std::make_shared<ManualClock>();
  Health health(log.logger, clock);
  health.ok("producer q");  // nothing failing: nothing to say
  health.failed("producer q", "server closed the connection");
  health.failed("completer", "server closed the connection");
  health.failed("producer q", "connection refused");
  CHECK_FALSE(health.healthy());
  clock->advance(2500ms);
  health.ok("producer q");
  CHECK(log.count("reachable again") == 0);  // the completer still fails
  health.ok("completer");
  CHECK(health.healthy());
  CHECK(log.count("warning database unavailable (producer q): server closed the connection; retrying") == 1);
  CHECK(log.count("warning database unavailable") == 1);
  CHECK(log.count("debug database unavailable (completer)") == 1);
  CHECK(log.count("info database reachable again after 2.5s") == 1);
}

TEST_CASE("health: a connection opened before the last outage ended does not start a new one") {
  LogCapture log;
  auto clock = std::make_shared<ManualClock>();
  Health health(log.logger, clock);
  const auto completer_opened = clock->now();
  clock->advance(1s);
  health.failed("listener", "server closed the connection");  // a restart...
  clock->advance(1s);
  health.ok("listener");  // ...over before the idle completer finds its socket dead
  clock->advance(1s);
  health.failed("completer", "server closed the connection", completer_opened);
  CHECK(health.healthy());
  CHECK(log.count("debug database connection (completer) was broken by the last outage") == 1);
  CHECK(log.count("database unavailable") == 1);

  SUBCASE("a connection opened after it") {
    health.failed("completer", "server closed the connection", clock->now());
    CHECK_FALSE(health.healthy());
    CHECK(log.count("warning database unavailable (completer)") == 1);
  }
  SUBCASE("a connection that failed to open") {
    health.failed("completer", "connection refused");
    CHECK_FALSE(health.healthy());
    CHECK(log.count("warning database unavailable (completer)") == 1);
  }
}

TEST_CASE("reconnect backoff: 100ms doubling to 5s, from the start again after a reset") {
  ReconnectBackoff backoff;
  for (auto expected : {100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms, 5000ms, 5000ms}) CHECK(backoff.next() == expected);
  backoff.reset();
  CHECK(backoff.next() == 100ms);
}
