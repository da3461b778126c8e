// The admin library's retry, cancel, pause/resume and purge against a real job table: what each
// changes, what it leaves alone, bad input changing nothing, and purge's batches reading the
// finished-jobs index.
#include <doctest/doctest.h>

#include "admin/cancel.hpp"
#include "admin/pause.hpp"
#include "admin/purge.hpp"
#include "admin/retry.hpp"
#include "queue/executor.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

// A job row in the given state; finished ones finished `age` ago.
int64_t job(pg::Connection& c, const std::string& t, const std::string& state, const std::string& age = "0",
            const std::string& kind = "k", const std::string& queue = "default") {
  const bool finished = state == "completed" || state == "failed" || state == "discarded";
  auto r = c.exec("INSERT INTO " + t + " (kind, args, queue, state, attempt, max_attempts, attempted_at, completed_at, error)"
                  " VALUES ($1, '{}', $2, $3, CASE WHEN $3 = 'available' THEN 0 ELSE 3 END, 3,"
                  " CASE WHEN $3 = 'available' THEN NULL ELSE now() END,"
                  " CASE WHEN $4 THEN now() - $5::interval END, CASE WHEN $3 IN ('failed', 'discarded') THEN 'boom' END)"
                  " RETURNING id",
                  {kind, queue, state, finished ? "true" : "false", age});
  return r.int64(0, 0);
}

std::string state_of(pg::Connection& c, const std::string& t, int64_t id) {
  return scalar_text(c, "SELECT state FROM " + t + " WHERE id = $1", {std::to_string(id)}).value_or("(gone)");
}

}  // namespace

TEST_CASE("the admin commands record the same cancellation text as the engine") {
  CHECK(std::string(admin::kCancelledByOperator) == queue::kCancelledByOperator);
}

TEST_CASE("retry by id: failed and discarded jobs are available now with attempt 0 and their last error, others are reported") {
  TempTable t("steer_retry");
  auto c = connect();
  const int64_t failed = job(c, t.name(), "failed"), discarded = job(c, t.name(), "discarded"),
                completed = job(c, t.name(), "completed"), running = job(c, t.name(), "running");
  c.exec("INSERT INTO " + t.name() + "_cancel (job_id) VALUES ($1)", {std::to_string(discarded)});
  admin::RetryRequest req;
  req.ids = {failed, discarded, completed, running};
  auto r = admin::retry(c, t.name(), req);
  CHECK(r.retried == 2);
  REQUIRE(r.skipped.size() == 2);
  CHECK(r.skipped[0].id == completed);
  CHECK(r.skipped[1].id == running);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE state = 'available' AND attempt = 0 AND completed_at IS NULL"
                  " AND attempted_at IS NULL AND error = 'boom' AND scheduled_at <= now()") == 2);
  CHECK(state_of(c, t.name(), completed) == "completed");
  CHECK(state_of(c, t.name(), running) == "running");
  // The request left for the discarded job would discard it again.
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_cancel") == 0);
}

TEST_CASE("retry gives a job its snoozes back with its attempts, by id and in bulk") {
  TempTable t("steer_retry_snoozes");
  auto c = connect();
  const int64_t by_id = job(c, t.name(), "failed"), in_bulk = job(c, t.name(), "discarded");
  c.exec("UPDATE " + t.name() + " SET snoozes = 100");
  admin::RetryRequest one;
  one.ids = {by_id};
  CHECK(admin::retry(c, t.name(), one).retried == 1);
  admin::RetryRequest bulk;
  bulk.state = "discarded";
  CHECK(admin::retry(c, t.name(), bulk).retried == 1);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE state = 'available' AND attempt = 0 AND snoozes = 0 AND id IN ($1, $2)",
               {std::to_string(by_id), std::to_string(in_bulk)}) == 2);
}

TEST_CASE("retry with an unknown id changes nothing") {
  TempTable t("steer_retry_unknown");
  auto c = connect();
  const int64_t failed = job(c, t.name(), "failed");
  admin::RetryRequest req;
  req.ids = {failed, failed + 1000};
  CHECK_THROWS_AS(admin::retry(c, t.name(), req), admin::InputError);
  CHECK(state_of(c, t.name(), failed) == "failed");
}

TEST_CASE("retry rejects bad requests before reading anything") {
  admin::RetryRequest both;
  both.ids = {1};
  both.state = "failed";
  CHECK_THROWS_AS(admin::validate(both), admin::InputError);
  admin::RetryRequest none;
  CHECK_THROWS_AS(admin::validate(none), admin::InputError);
  for (const char* state : {"running", "available", "completed", "bogus"}) {
    admin::RetryRequest r;
    r.state = state;
    CHECK_THROWS_AS(admin::validate(r), admin::InputError);
  }
}

TEST_CASE("bulk retry: by state, kind and queue, in batches, only jobs finished before it started, dry run changes nothing") {
  TempTable t("steer_retry_bulk");
  auto c = connect();
  for (int i = 0; i < 7; ++i) job(c, t.name(), "failed", std::to_string(i) + " minutes", "a", "q1");
  const int64_t no_completed_at = job(c, t.name(), "failed", "0", "a", "q1");
  c.exec("UPDATE " + t.name() + " SET completed_at = NULL WHERE id = $1", {std::to_string(no_completed_at)});
  const int64_t other_kind = job(c, t.name(), "failed", "1 minute", "b", "q1");
  const int64_t other_queue = job(c, t.name(), "failed", "1 minute", "a", "q2");
  const int64_t discarded = job(c, t.name(), "discarded", "1 minute", "a", "q1");

  admin::RetryRequest req;
  req.state = "failed";
  req.filter = {std::string("a"), std::string("q1")};
  req.batch_size = 3;
  req.dry_run = true;
  auto dry = admin::retry(c, t.name(), req);
  CHECK(dry.retried == 8);
  CHECK(dry.sample.size() == 8);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE state = 'available'") == 0);

  req.dry_run = false;
  std::vector<admin::WalkProgress> seen;
  auto r = admin::retry(c, t.name(), req, [&](const admin::WalkProgress& p) { seen.push_back(p); });
  CHECK(r.retried == 8);
  CHECK(r.batches >= 3);
  CHECK(seen.size() == static_cast<size_t>(r.batches));
  CHECK(seen.back().total == 8);
  CHECK(state_of(c, t.name(), no_completed_at) == "available");
  CHECK(state_of(c, t.name(), other_kind) == "failed");
  CHECK(state_of(c, t.name(), other_queue) == "failed");
  CHECK(state_of(c, t.name(), discarded) == "discarded");
}

TEST_CASE("cancel by id: available discarded now, running gets a request, finished ones are not cancellable") {
  TempTable t("steer_cancel");
  auto c = connect();
  const int64_t available = job(c, t.name(), "available"), running = job(c, t.name(), "running"),
                completed = job(c, t.name(), "completed");
  admin::CancelRequest req;
  req.ids = {available, running, completed};
  auto r = admin::cancel(c, t.name(), req);
  CHECK(r.discarded == 1);
  CHECK(r.requested == 1);
  REQUIRE(r.not_cancellable.size() == 1);
  CHECK(r.not_cancellable[0].id == completed);
  CHECK(scalar_text(c, "SELECT state || ' ' || error || ' ' || (completed_at IS NOT NULL) FROM " + t.name() + " WHERE id = $1",
                    {std::to_string(available)}) == std::string("discarded cancelled by operator true"));
  CHECK(state_of(c, t.name(), running) == "running");  // the daemon running it ends it
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_cancel WHERE job_id = $1 AND requested_by LIKE '%@%'",
               {std::to_string(running)}) == 1);
  CHECK(state_of(c, t.name(), completed) == "completed");
  // Asking twice is harmless.
  admin::CancelRequest again;
  again.ids = {running};
  CHECK(admin::cancel(c, t.name(), again).requested == 1);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_cancel") == 1);
}

TEST_CASE("cancel with an unknown id, or a bad request, changes nothing") {
  TempTable t("steer_cancel_bad");
  auto c = connect();
  const int64_t available = job(c, t.name(), "available");
  admin::CancelRequest req;
  req.ids = {available, available + 77};
  CHECK_THROWS_AS(admin::cancel(c, t.name(), req), admin::InputError);
  CHECK(state_of(c, t.name(), available) == "available");
  admin::CancelRequest none;
  CHECK_THROWS_AS(admin::validate(none), admin::InputError);
  admin::CancelRequest finished;
  finished.filter.kind = "k";
  finished.state = "completed";
  CHECK_THROWS_AS(admin::validate(finished), admin::InputError);
}

TEST_CASE("bulk cancel by kind: available ones discarded in batches, running ones requested, others untouched, dry run changes nothing") {
  TempTable t("steer_cancel_bulk");
  auto c = connect();
  for (int i = 0; i < 5; ++i) job(c, t.name(), "available", "0", "a");
  const int64_t running = job(c, t.name(), "running", "0", "a");
  const int64_t other = job(c, t.name(), "available", "0", "b");
  admin::CancelRequest req;
  req.filter.kind = "a";
  req.batch_size = 2;
  req.dry_run = true;
  auto dry = admin::cancel(c, t.name(), req);
  CHECK(dry.discarded == 5);
  CHECK(dry.requested == 1);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + " WHERE state = 'discarded'") == 0);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_cancel") == 0);
  req.dry_run = false;
  auto r = admin::cancel(c, t.name(), req);
  CHECK(r.discarded == 5);
  CHECK(r.requested == 1);
  CHECK(r.requested_ids == std::vector<int64_t>{running});
  CHECK(state_of(c, t.name(), other) == "available");
}

TEST_CASE("pause and resume: a row per paused queue, idempotent, unknown queues allowed and said so, bad names refused") {
  TempTable t("steer_pause");
  auto c = connect();
  job(c, t.name(), "available", "0", "k", "mail");
  auto p = admin::pause(c, t.name(), {"mail", "later"});
  REQUIRE(p.size() == 2);
  CHECK(p[0].changed);
  CHECK(p[0].has_jobs);
  CHECK(p[1].changed);
  CHECK_FALSE(p[1].has_jobs);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_pause WHERE paused_by LIKE '%@%'") == 2);
  auto again = admin::pause(c, t.name(), {"mail"});
  CHECK_FALSE(again[0].changed);
  CHECK_FALSE(again[0].paused_at.empty());
  for (const std::string& bad : {std::string(""), std::string(" mail"), std::string("ma\til"), std::string(300, 'q')})
    CHECK_THROWS_AS(admin::pause(c, t.name(), {"ok", bad}), admin::InputError);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_pause WHERE queue = 'ok'") == 0);  // nothing changed

  auto r = admin::resume(c, t.name(), {"mail", "never"});
  CHECK(r[0].changed);
  CHECK_FALSE(r[1].changed);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name() + "_pause") == 1);
}

TEST_CASE("a table without the control tables is refused with a way out") {
  TempTable t("steer_old");
  auto c = connect();
  c.exec("DROP TABLE " + t.name() + "_pause");
  try {
    admin::pause(c, t.name(), {"q"});
    FAIL("pause succeeded");
  } catch (const admin::TableError& e) {
    CHECK(std::string(e.what()).find("pgxqd migrate") != std::string::npos);
  }
  CHECK_THROWS_AS(admin::pause(c, "no_such_table_here", {"q"}), admin::TableError);
}

TEST_CASE("purge: only jobs of the asked state that finished before the cutoff, in batches, dry run deletes nothing") {
  TempTable t("steer_purge");
  auto c = connect();
  for (int i = 0; i < 7; ++i) job(c, t.name(), "completed", std::to_string(2 + i) + " days");
  const int64_t recent = job(c, t.name(), "completed", "1 hour");
  const int64_t old_failed = job(c, t.name(), "failed", "5 days");
  const int64_t old_other_queue = job(c, t.name(), "completed", "5 days", "k", "other");
  const int64_t available = job(c, t.name(), "available");
  admin::PurgeRequest req;
  req.state = "completed";
  req.older_than = std::chrono::hours(24);
  req.filter.queue = "default";
  req.batch_size = 3;
  req.dry_run = true;
  auto dry = admin::purge(c, t.name(), req);
  CHECK(dry.deleted == 7);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name()) == 11);
  req.dry_run = false;
  auto r = admin::purge(c, t.name(), req);
  CHECK(r.deleted == 7);
  CHECK(r.batches == 3);
  CHECK(scalar(c, "SELECT count(*) FROM " + t.name()) == 4);
  CHECK(state_of(c, t.name(), recent) == "completed");
  CHECK(state_of(c, t.name(), old_failed) == "failed");
  CHECK(state_of(c, t.name(), old_other_queue) == "completed");
  CHECK(state_of(c, t.name(), available) == "available");
}

TEST_CASE("purge refuses states that are not finished") {
  for (const char* state : {"running", "available", "", "done"}) {
    admin::PurgeRequest req;
    req.state = state;
    req.older_than = std::chrono::hours(1);
    CHECK_THROWS_AS(admin::validate(req), admin::InputError);
  }
}

TEST_CASE("purge's batch reads the finished-jobs index, not the table") {
  TempTable t("steer_purge_plan");
  auto c = connect();
  // Enough rows, mostly finished recently, that a scan of the table would be the planner's
  // choice if the index could not serve the batch.
  c.exec("INSERT INTO " + t.name() + " (kind, args, state, attempt, completed_at) SELECT 'k', '{}', 'completed', 1,"
         " now() - g * interval '1 second' FROM generate_series(1, 20000) g");
  c.exec("ANALYZE " + t.name());
  const std::string sql = admin::purge_batch_sql(c, t.name());
  // A cutoff most rows are older than: the rows to delete are the bulk of the table.
  const std::string cutoff = *scalar_text(c, "SELECT (now() - interval '1 hour')::text");
  auto plan = c.exec("EXPLAIN " + sql, {std::string("completed"), std::string("0"), std::nullopt, std::nullopt,
                                        std::string("1000"), cutoff, std::string("-infinity")});
  std::string text;
  for (int i = 0; i < plan.rows(); ++i) text += std::string(plan.text(i, 0)) + "\n";
  INFO(text);
  CHECK(text.find("idx_" + t.name() + "_done") != std::string::npos);
  CHECK(text.find("Seq Scan on " + t.name()) == std::string::npos);
}
