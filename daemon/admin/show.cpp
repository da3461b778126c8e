// admin/show: see show.hpp.
#include "admin/show.hpp"

#include "admin/table.hpp"

namespace pgxq::admin {

std::optional<JobDetail> show_job(pg::Connection& conn, const std::string& table, int64_t id) {
  const JobTable t = open_job_table(conn, table);
  ReadSnapshot snapshot(conn);
  const std::string id_text = std::to_string(id);
  auto r = conn.exec(
      "SELECT id, kind, queue, state, args::text, jsonb_pretty(args), priority, attempt, max_attempts,"
      " scheduled_at::text, extract(epoch FROM scheduled_at - now())::float8,"
      " created_at::text, extract(epoch FROM created_at - now())::float8,"
      " attempted_at::text, extract(epoch FROM attempted_at - now())::float8,"
      " completed_at::text, extract(epoch FROM completed_at - now())::float8, error, now()::text,"
      // NULL on a table below schema v7, which has no snoozes column (to_jsonb names only those
      // it has).
      " (to_jsonb(j) ->> 'snoozes')::int4\n"
      "  FROM " + t.quoted + " j WHERE id = $1::bigint",
      {pg::Param(id_text)});
  if (r.rows() == 0) return std::nullopt;
  JobDetail j;
  j.id = r.int64(0, 0);
  j.kind = std::string(r.text(0, 1));
  j.queue = std::string(r.text(0, 2));
  j.state = std::string(r.text(0, 3));
  j.args = std::string(r.text(0, 4));
  j.args_pretty = std::string(r.text(0, 5));
  j.priority = static_cast<int>(r.int64(0, 6));
  j.attempt = static_cast<int>(r.int64(0, 7));
  j.max_attempts = static_cast<int>(r.int64(0, 8));
  j.scheduled_at = std::string(r.text(0, 9));
  j.scheduled_in_seconds = opt_double(r, 0, 10).value_or(0);
  j.created_at = std::string(r.text(0, 11));
  j.created_in_seconds = opt_double(r, 0, 12).value_or(0);
  j.attempted_at = opt_text(r, 0, 13);
  j.attempted_in_seconds = opt_double(r, 0, 14);
  j.completed_at = opt_text(r, 0, 15);
  j.completed_in_seconds = opt_double(r, 0, 16);
  j.error = opt_text(r, 0, 17);
  j.database_time = std::string(r.text(0, 18));
  if (!r.is_null(0, 19)) j.snoozes = static_cast<int>(r.int64(0, 19));
  if (t.has_pause_table)
    j.queue_paused = conn.exec("SELECT 1 FROM " + t.pause_quoted + " WHERE queue = $1", {pg::Param(j.queue)}).rows() > 0;
  if (t.has_cancel_table) {
    auto cancel = conn.exec("SELECT requested_at::text FROM " + t.cancel_quoted + " WHERE job_id = $1::bigint", {pg::Param(id_text)});
    if (cancel.rows() > 0) j.cancel_requested_at = std::string(cancel.text(0, 0));
  }
  return j;
}

nlohmann::json to_json(const JobDetail& j) {
  using nlohmann::json;
  auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  // jsonb text is always valid JSON; a parse failure would be a bug, so the text stays visible.
  json args = json::parse(j.args, nullptr, false);
  if (args.is_discarded()) args = j.args;
  return {{"id", j.id},
          {"kind", j.kind},
          {"queue", j.queue},
          {"state", j.state},
          {"args", std::move(args)},
          {"priority", j.priority},
          {"attempt", j.attempt},
          {"max_attempts", j.max_attempts},
          {"snoozes", opt(j.snoozes)},
          {"scheduled_at", j.scheduled_at},
          {"scheduled_in_seconds", j.scheduled_in_seconds},
          {"created_at", j.created_at},
          {"created_in_seconds", j.created_in_seconds},
          {"attempted_at", opt(j.attempted_at)},
          {"attempted_in_seconds", opt(j.attempted_in_seconds)},
          {"completed_at", opt(j.completed_at)},
          {"completed_in_seconds", opt(j.completed_in_seconds)},
          {"error", opt(j.error)},
          {"queue_paused", j.queue_paused},
          {"cancel_requested_at", opt(j.cancel_requested_at)},
          {"database_time", j.database_time}};
}

}  // namespace pgxq::admin
