// The metrics on their own (no engine, no database): what the observer's calls add up to, the
// exposition promtool accepts, kinds read from rows kept printable and bounded, and /healthz and
// /readyz without a running engine.
#include <doctest/doctest.h>

#include "app/http_endpoints.hpp"
#include "http_e2e.hpp"
#include "metrics/metrics.hpp"

using namespace std::chrono_literals;
using pgxq::queue::FinishOutcome;
using pgxq::test::metric_value;

namespace {

pgxq::metrics::Metrics make() { return pgxq::metrics::Metrics({{"default", "mail"}, {"noop", "send"}, "9.9.9", "1.0"}); }

}  // namespace

TEST_CASE("metrics: observer calls become counters and histograms, labelled by queue, kind and outcome") {
  auto m = make();
  auto observer = m.observer();
  observer->claimed("default", "noop", 2500us);
  observer->claimed("default", "noop", 0us);
  observer->claimed("mail", "send", 3s);
  observer->finished("default", "noop", FinishOutcome::completed, 1000us);
  observer->finished("default", "noop", FinishOutcome::retried, 2000us);
  observer->finished("mail", "send", FinishOutcome::panicked, 40ms);
  observer->finished("mail", "send", FinishOutcome::rescued, std::nullopt);
  const std::string text = m.render();
  INFO(text);
  const auto check = pgxq::test::promtool_check_metrics(text);
  INFO(check.out, check.err);
  CHECK(check.code == 0);
  CHECK(metric_value(text, "pgxqd_jobs_claimed_total", {"queue=\"default\"", "kind=\"noop\""}) == 2);
  CHECK(metric_value(text, "pgxqd_jobs_claimed_total", {"queue=\"mail\"", "kind=\"send\""}) == 1);
  CHECK(metric_value(text, "pgxqd_jobs_claimed_total", {"queue=\"mail\"", "kind=\"noop\""}) == 0);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"noop\"", "outcome=\"completed\""}) == 1);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"noop\"", "outcome=\"retried\""}) == 1);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"send\"", "outcome=\"panicked\""}) == 1);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"send\"", "outcome=\"rescued\""}) == 1);
  CHECK(metric_value(text, "pgxqd_handler_duration_seconds_count", {"kind=\"noop\""}) == 2);
  CHECK(metric_value(text, "pgxqd_handler_duration_seconds_sum", {"kind=\"noop\""}) == doctest::Approx(0.003));
  CHECK(metric_value(text, "pgxqd_handler_duration_seconds_count", {"kind=\"send\""}) == 1);  // not the rescue
  CHECK(metric_value(text, "pgxqd_pickup_delay_seconds_sum", {"queue=\"mail\""}) == doctest::Approx(3.0));
  CHECK(metric_value(text, "pgxqd_pickup_delay_seconds_bucket", {"kind=\"noop\"", "le=\"0.005\""}) == 2);
  CHECK(metric_value(text, "pgxqd_build_info", {"version=\"9.9.9\"", "plugin_abi=\"1.0\""}) == 1);
  // No engine watched: the engine gauges are present and zero.
  CHECK(metric_value(text, "pgxqd_database_up") == 0);
  CHECK(metric_value(text, "pgxqd_workers_max", {"queue=\"mail\""}) == 0);
  CHECK(text.find("job_id") == std::string::npos);
}

TEST_CASE("metrics: kinds seen only in rows stay printable and their series are bounded") {
  auto m = make();
  auto observer = m.observer();
  observer->finished("default", "bad\n\"kind\xff", FinishOutcome::rescued, std::nullopt);
  for (int i = 0; i < 200; ++i)
    observer->finished("default", "gone_" + std::to_string(i), FinishOutcome::failed, std::nullopt);
  const std::string text = m.render();
  const auto check = pgxq::test::promtool_check_metrics(text);
  INFO(check.out, check.err);
  CHECK(check.code == 0);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"bad_\\\"kind_\"", "outcome=\"rescued\""}) == 1);
  // 50 kinds get their own series (one was the bad one); the rest are counted as "other".
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"gone_48\"", "outcome=\"failed\""}) == 1);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"gone_49\"", "outcome=\"failed\""}) == -1);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"kind=\"other\"", "outcome=\"failed\""}) == 151);
  CHECK(metric_value(text, "pgxqd_jobs_finished_total", {"outcome=\"failed\""}) == 200);
}

TEST_CASE("health: without a running engine both endpoints are 503 with a reason") {
  auto live = pgxq::app::liveness(nullptr);
  CHECK(live.status == 503);
  CHECK(live.content_type == "application/json");
  CHECK(live.body.find("\"status\":\"starting\"") != std::string::npos);
  auto ready = pgxq::app::readiness(nullptr, true);
  CHECK(ready.status == 503);
  auto no_plugins = pgxq::app::readiness(nullptr, false);
  CHECK(no_plugins.status == 503);
  CHECK(no_plugins.body.find("plugins") != std::string::npos);
}
