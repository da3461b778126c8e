// The README's example Prometheus alert rules: valid (`promtool check rules`), and they fire when
// they should and not before (`promtool test rules` on made-up series: a due job waiting longer
// and longer, a failure among completions, a database outage).
#include <doctest/doctest.h>

#include <filesystem>

#include "support.hpp"

using namespace pgxq::test;

namespace {

// The ```yaml block of the README's section on metrics and health endpoints.
std::string readme_rules() {
  const std::string readme = read_file(source_dir() + "/README.md");
  const auto begin = readme.find("\n### Metrics and health endpoints\n");
  const auto end = readme.find("\n### ", begin + 1);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const std::string section = readme.substr(begin, end - begin);
  const auto yaml = section.find("```yaml\n");
  REQUIRE(yaml != std::string::npos);
  const auto close = section.find("```", yaml + 8);
  REQUIRE(close != std::string::npos);
  return section.substr(yaml + 8, close - yaml - 8);
}

const char* kRuleTests = R"(rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'pgxqd_oldest_due_job_age_seconds{instance="a",queue="default",kind="mail"}'
        values: '0+60x30'
      - series: 'pgxqd_oldest_due_job_age_seconds{instance="b",queue="default",kind="mail"}'
        values: '0+60x30'
      - series: 'pgxqd_oldest_due_job_age_seconds{instance="a",queue="default",kind="noop"}'
        values: '0x30'
      - series: 'pgxqd_jobs_finished_total{instance="a",queue="default",kind="mail",outcome="failed"}'
        values: '0x10 1x20'
      - series: 'pgxqd_jobs_finished_total{instance="a",queue="default",kind="mail",outcome="completed"}'
        values: '0+10x30'
      - series: 'pgxqd_database_up{instance="a"}'
        values: '1x5 0x25'
    alert_rule_test:
      - eval_time: 14m
        alertname: PgxqdOldestDueJobTooOld
        exp_alerts: []
      - eval_time: 17m
        alertname: PgxqdOldestDueJobTooOld
        exp_alerts:
          - exp_labels: {severity: warning, queue: default, kind: mail}
            exp_annotations:
              summary: "pgxqd: mail jobs in queue default have waited more than 10 minutes"
              description: "The oldest due job has been due for 17m 0s: workers are busy, stuck, paused, or no daemon handles this kind."
      - eval_time: 9m
        alertname: PgxqdJobsFailing
        exp_alerts: []
      - eval_time: 12m
        alertname: PgxqdJobsFailing
        exp_alerts:
          - exp_labels: {severity: warning, queue: default, kind: mail, outcome: failed}
            exp_annotations:
              summary: "pgxqd: mail jobs in queue default failed"
              description: "1 job(s) ended failed in the last 15 minutes; `pgxqd list --state failed` shows their errors."
      - eval_time: 6m
        alertname: PgxqdDatabaseDown
        exp_alerts: []
      - eval_time: 9m
        alertname: PgxqdDatabaseDown
        exp_alerts:
          - exp_labels: {severity: critical, instance: a}
            exp_annotations:
              summary: "pgxqd on a cannot reach its database"
)";

}  // namespace

TEST_CASE("README alert rules: promtool accepts them, and they fire when they should") {
  const std::string dir = temp_dir("http-rules");
  write_file(dir + "/rules.yml", readme_rules());
  write_file(dir + "/tests.yml", kRuleTests);
  const auto check = run({"promtool", "check", "rules", dir + "/rules.yml"});
  INFO(check.out, check.err);
  CHECK(check.code == 0);
  CHECK(check.out.find("SUCCESS: 3 rules found") != std::string::npos);
  const auto test = run({"promtool", "test", "rules", dir + "/tests.yml"});
  INFO(test.out, test.err);
  CHECK(test.code == 0);
  std::filesystem::remove_all(dir);
}
