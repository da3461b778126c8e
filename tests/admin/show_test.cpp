// admin::show_job against a real job table: every column, the args as stored and
// pretty-printed, relative times, the operator controls, an unknown id, and the JSON form.
#include <doctest/doctest.h>

#include "admin/show.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

TEST_CASE("show: every column of one job, args pretty-printed, the whole error, controls, and an unknown id is nullopt") {
  TempTable table("adm_show");
  auto conn = connect();
  conn.exec("INSERT INTO " + table.name() + " (kind, queue, args, state, attempt, max_attempts, priority, scheduled_at,"
            " attempted_at, completed_at, error) VALUES ('resize', 'images', '{\"url\": \"a.png\", \"sizes\": [64, 128]}',"
            " 'failed', 3, 3, 2, now() - interval '2 minutes', now() - interval '1 minute', now() - interval '30 seconds',"
            " E'decode failed\\nat line 2')");
  conn.exec("INSERT INTO " + table.name() + "_pause (queue) VALUES ('images')");
  conn.exec("INSERT INTO " + table.name() + "_cancel (job_id) VALUES (1)");

  auto job = admin::show_job(conn, table.name(), 1);
  REQUIRE(job);
  CHECK(job->kind == "resize");
  CHECK(job->queue == "images");
  CHECK(job->state == "failed");
  CHECK(job->attempt == 3);
  CHECK(job->max_attempts == 3);
  CHECK(job->priority == 2);
  CHECK(job->args == R"({"url": "a.png", "sizes": [64, 128]})");
  CHECK(job->args_pretty.find("\n    \"url\": \"a.png\",\n") != std::string::npos);
  CHECK(job->error == std::optional<std::string>("decode failed\nat line 2"));
  CHECK(job->scheduled_in_seconds <= -120);
  REQUIRE(job->completed_in_seconds);
  CHECK(*job->completed_in_seconds <= -30);
  CHECK(job->queue_paused);
  CHECK(job->cancel_requested_at);

  auto j = admin::to_json(*job);
  CHECK(j["args"]["sizes"] == nlohmann::json({64, 128}));
  CHECK(j["error"] == "decode failed\nat line 2");
  CHECK(j["attempted_at"].is_string());

  CHECK_FALSE(admin::show_job(conn, table.name(), 2));
  CHECK_FALSE(admin::show_job(conn, table.name(), 0));
}
