// What one periodic pass decides (queue/periodic's plan_periodic), for times chosen by hand:
// a new entry, on-time runs, missed runs with and without catch_up.
#include <doctest/doctest.h>

#include "queue/periodic.hpp"

using namespace std::chrono_literals;
using pgxq::queue::Instant;
using pgxq::queue::plan_periodic;
using pgxq::queue::Schedule;

namespace {
// 2026-01-01T00:00:00Z.
const Instant kT{std::chrono::seconds(1767225600)};
}  // namespace

TEST_CASE("periodic plan: a new entry records now and enqueues nothing") {
  auto plan = plan_periodic(Schedule::every(1s), true, std::nullopt, kT, 60s);
  CHECK(plan.first_seen);
  CHECK(plan.runs.empty());
}

TEST_CASE("periodic plan: every scheduled time within the grace runs, each once, in order") {
  auto plan = plan_periodic(Schedule::every(10s), true, kT, kT + 35s, 60s);
  CHECK(plan.runs == std::vector<Instant>{kT + 10s, kT + 20s, kT + 30s});
  CHECK(plan.missed == 0);
  CHECK_FALSE(plan.caught_up);
  // Nothing new since the last run.
  CHECK(plan_periodic(Schedule::every(10s), true, kT + 30s, kT + 35s, 60s).runs.empty());
  // A last run in the future (a clock that was ahead): nothing until it has passed.
  CHECK(plan_periodic(Schedule::every(10s), true, kT + 60s, kT + 35s, 60s).runs.empty());
}

TEST_CASE("periodic plan: missed times run once, for the latest, with catch_up") {
  // Hourly; last run 5h ago; now half an hour past the hour: 5 missed, the latest is kT.
  auto plan = plan_periodic(Schedule::every(1h), true, kT - 5h, kT + 30min, 60s);
  CHECK(plan.missed == 5);
  REQUIRE(plan.caught_up);
  CHECK(*plan.caught_up == kT);
  CHECK(plan.runs == std::vector<Instant>{kT});
  CHECK_FALSE(plan.skip_to);
}

TEST_CASE("periodic plan: missed times are skipped without catch_up") {
  auto plan = plan_periodic(Schedule::every(1h), false, kT - 5h, kT + 30min, 60s);
  CHECK(plan.missed == 5);
  CHECK(plan.runs.empty());
  REQUIRE(plan.skip_to);
  CHECK(*plan.skip_to == kT);
  // A time that came within the grace is not missed, with or without catch_up.
  auto on_time = plan_periodic(Schedule::every(1h), false, kT - 1h, kT + 20s, 60s);
  CHECK(on_time.missed == 0);
  CHECK(on_time.runs == std::vector<Instant>{kT});
}

TEST_CASE("periodic plan: missed and on-time times together") {
  // Every 10s, down for 5 minutes: the missed ones collapse into one run, then each on-time one.
  auto plan = plan_periodic(Schedule::every(10s), true, kT, kT + 300s, 60s);
  CHECK(plan.missed == 24);  // 10s .. 240s
  REQUIRE(plan.caught_up);
  CHECK(*plan.caught_up == kT + 240s);
  REQUIRE(plan.runs.size() == 7);
  CHECK(plan.runs.front() == kT + 240s);
  CHECK(plan.runs[1] == kT + 250s);
  CHECK(plan.runs.back() == kT + 300s);
}

TEST_CASE("periodic: the grace follows the leader check (at least a minute), and unique keys name entry and time") {
  CHECK(pgxq::queue::periodic_grace(5s) == 60s);
  CHECK(pgxq::queue::periodic_grace(30s) == 90s);
  CHECK(pgxq::queue::periodic_unique_key("nightly", kT) == "periodic:nightly:2026-01-01T00:00:00Z");
}
