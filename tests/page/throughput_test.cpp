// The throughput ring (app/throughput): running totals from Engine::stats() become counts per
// interval, with explicit sample times — no waiting.
#include <doctest/doctest.h>

#include <atomic>

#include "app/throughput.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using pgxq::app::Throughput;
using TimePoint = Throughput::TimePoint;

std::vector<pgxq::queue::QueueStats> totals(uint64_t completed, uint64_t failed, uint64_t retried = 0,
                                            uint64_t discarded = 0) {
  pgxq::queue::QueueStats a;
  a.name = "default";
  a.completed = completed;
  a.failed = failed;
  a.retried = retried;
  a.discarded = discarded;
  pgxq::queue::QueueStats b;  // a second queue adds in
  b.name = "mail";
  b.completed = 1;
  return {a, b};
}

const TimePoint t0 = TimePoint{} + 1h;

}  // namespace

TEST_CASE("throughput: the first sample is a baseline, later ones give counts per interval, across queues") {
  Throughput ring(5s, 15min);
  ring.sample(t0, totals(10, 1));
  CHECK(ring.series().completed.empty());
  ring.sample(t0 + 5s, totals(17, 1));
  ring.sample(t0 + 10s, totals(20, 3, 1, 1));  // errors: failed + retried + discarded
  auto s = ring.series();
  CHECK(s.interval == 5s);
  CHECK(s.completed == std::vector<uint64_t>{7, 3});
  CHECK(s.failed == std::vector<uint64_t>{0, 4});
}

TEST_CASE("throughput: an early sample is ignored, a late one leaves empty buckets for the intervals it missed") {
  Throughput ring(5s, 15min);
  ring.sample(t0, totals(0, 0));
  ring.sample(t0 + 2s, totals(5, 0));  // too early: ignored, counted with the next
  CHECK(ring.series().completed.empty());
  ring.sample(t0 + 5s, totals(6, 0));
  ring.sample(t0 + 21s, totals(10, 0));  // three intervals late
  CHECK(ring.series().completed == std::vector<uint64_t>{6, 0, 0, 4});
}

TEST_CASE("throughput: the ring keeps only the window, oldest first") {
  Throughput ring(5s, 30s);  // six buckets
  ring.sample(t0, totals(0, 0));
  for (uint64_t i = 1; i <= 10; ++i) ring.sample(t0 + i * 5s, totals(i * (i + 1) / 2, 0));  // adds i each time
  CHECK(ring.series().completed == std::vector<uint64_t>{5, 6, 7, 8, 9, 10});
  ring.sample(t0 + 24h, totals(100, 0));  // a very long gap: the window is all empty but the last
  CHECK(ring.series().completed == std::vector<uint64_t>{0, 0, 0, 0, 0, 45});
}

TEST_CASE("throughput: totals that go down start a new baseline instead of a huge count") {
  Throughput ring(5s, 15min);
  ring.sample(t0, totals(100, 10));
  ring.sample(t0 + 5s, totals(3, 0));
  ring.sample(t0 + 10s, totals(5, 1));
  CHECK(ring.series().completed == std::vector<uint64_t>{2});
  CHECK(ring.series().failed == std::vector<uint64_t>{1});
}

TEST_CASE("throughput: the sampler samples on its own thread and stops when destroyed") {
  Throughput ring(1s, 1min);
  std::atomic<int> calls{0};
  {
    pgxq::app::ThroughputSampler sampler(ring, [&] {
      ++calls;
      return totals(static_cast<uint64_t>(calls.load()), 0);
    });
    CHECK(pgxq::test::wait_until([&] { return !ring.series().completed.empty(); }, 60s));
  }  // joins the thread
  CHECK(calls.load() >= 2);
  CHECK(ring.series().completed.front() == 1);
}
