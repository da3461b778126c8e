// Liveness, the watchdog's definition of "stuck": a loop busy on the database without a step for
// longer than the bound is stuck; a loop waiting (idle), a loop that keeps stepping however
// slowly, and a loop that has ended are not. And the bound the configured timeouts give.
#include <doctest/doctest.h>

#include "manual_clock.hpp"
#include "queue/health.hpp"
#include "queue/timeouts.hpp"

using namespace pgxq::queue;
using namespace std::chrono_literals;

TEST_CASE("liveness: busy without a step beyond the bound is stuck - idle, stepping and ended loops are not") {
  auto clock = std::make_shared<pgxq::test::ManualClock>();
  Liveness live(clock);
  const auto bound = 50s;
  auto completer = std::make_unique<Liveness::Loop>(live, "completer");
  Liveness::Loop producer(live, "producer default");

  // Waiting for work, however long, is not stuck.
  clock->advance(1h);
  CHECK_FALSE(live.stalled(bound));

  // A slow database: statements take long, but each one ends within the bound.
  completer->busy();
  for (int i = 0; i < 10; ++i) {
    clock->advance(40s);
    completer->step();
  }
  CHECK_FALSE(live.stalled(bound));

  // One call that no timeout explains.
  clock->advance(51s);
  auto stuck = live.stalled(bound);
  REQUIRE(stuck);
  CHECK(stuck->find("completer: busy on the database for 51000ms") == 0);
  // The bound off (a limit disabled): never stuck.
  CHECK_FALSE(live.stalled(0s));

  // It finishes, or the loop ends: not stuck any more.
  completer->idle();
  CHECK_FALSE(live.stalled(bound));
  completer->busy();
  clock->advance(2h);
  REQUIRE(live.stalled(bound));
  completer.reset();
  CHECK_FALSE(live.stalled(bound));
}

TEST_CASE("liveness: the stall bound is the longest connect or statement the timeouts allow, plus a grace") {
  Timeouts t;  // connect 10s, statement 30s, tcp_user 30s
  CHECK(stall_bound(t, "") == 70s);
  // A connection string's own connect_timeout counts.
  CHECK(stall_bound(t, "host=db connect_timeout=120") == 130s);
  // Without tcp_user_timeout, the keepalives tell a dead peer: 30s + 3 x 10s.
  t.tcp_user = 0ms;
  CHECK(stall_bound(t, "") == 100s);
  // A limit turned off: no bound, so never stuck.
  t.statement = 0ms;
  CHECK(stall_bound(t, "") == 0ms);
}
