// queue/job_run and queue/job_timeout, pure: the deadline counts from the handler's call on the
// engine's clock, a zero limit never expires, a kind's own limit replaces the default, and the
// recorded error keeps the operator's spelling of the limit.
#include <doctest/doctest.h>

#include "manual_clock.hpp"
#include "queue/job_run.hpp"

using namespace pgxq::queue;
using pgxq::test::ManualClock;
using namespace std::chrono_literals;

TEST_CASE("job run: no deadline before the handler is called, then it expires at call + limit and not before") {
  ManualClock clock;
  JobRun run(JobTimeout{30s, "30s"});
  CHECK_FALSE(run.still_in_handler());
  clock.advance(1h);  // claimed long ago: the wait for a worker does not count
  CHECK_FALSE(run.timed_out(clock));
  run.handler_called(clock.now());
  CHECK(run.still_in_handler());
  clock.advance(30s - 1ns);
  CHECK_FALSE(run.timed_out(clock));
  CHECK(run.overdue(clock) == Clock::Duration::zero());
  clock.advance(1ns);
  CHECK(run.timed_out(clock));
  clock.advance(2s);
  CHECK(run.overdue(clock) == 2s);
  run.handler_returned(clock);
  CHECK_FALSE(run.still_in_handler());
  CHECK(run.timed_out(clock));  // still: the return came late
}

TEST_CASE("job run: a handler that returned before its deadline stays in time when the clock is read later") {
  ManualClock clock;
  JobRun run(JobTimeout{30s, "30s"});
  run.handler_called(clock.now());
  clock.advance(30s - 1ms);
  run.handler_returned(clock);
  clock.advance(1h);  // the executor looks at the outcome after the return, however late
  CHECK_FALSE(run.timed_out(clock));
}

TEST_CASE("job run: a zero limit never expires") {
  ManualClock clock;
  JobRun run(JobTimeout{});
  run.handler_called(clock.now());
  clock.advance(24h * 3650);
  CHECK_FALSE(run.timed_out(clock));
  CHECK(run.overdue(clock) == Clock::Duration::zero());
  CHECK_FALSE(run.still_in_handler());  // nothing to wait for: the control pass skips it
}

TEST_CASE("job timeout: a kind's own limit replaces the default (zero included), and errors keep the spelling") {
  const JobTimeout fallback{90s, "90s"};
  std::map<std::string, JobTimeout, std::less<>> by_kind{{"sleep", {1s, "1s"}}, {"mail.send", {0s, "0s"}}};
  CHECK(timeout_for("sleep", fallback, by_kind).limit == 1s);
  CHECK_FALSE(timeout_for("mail.send", fallback, by_kind).enabled());
  CHECK(timeout_for("other", fallback, by_kind).error() == "timeout after 90s");
  CHECK(JobTimeout{90s, ""}.error() == "timeout after 1m30s");
  CHECK(JobTimeout{1500ms, ""}.error() == "timeout after 1s500ms");
  CHECK(describe_duration(0ms) == "0s");
  CHECK(describe_duration(26h) == "1d2h");
}
