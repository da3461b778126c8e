// admin/list: see list.hpp.
//
// Which index serves which filter: ORDER BY id DESC LIMIT n walks the primary key backwards
// and stops after n matches, which is cheap whenever matches are common among recent ids (no
// filter, or kind/queue/completed filters on an ordinary table). A state filter on a rare
// state lets the planner take its partial index instead — available: the claim index, running:
// the rescue index, completed/failed/discarded: the finished-jobs index (schema v6) — and sort
// the few matches. Every statement runs under ReadSnapshot's statement timeout, so a filter
// that matches nothing on a huge table ends with an error rather than a scan that never does.
#include "admin/list.hpp"

#include <stdexcept>

#include "admin/table.hpp"

namespace pgxq::admin {

void check_filter(const ListFilter& f) {
  if (f.state && !is_state(*f.state))
    throw std::invalid_argument("unknown state \"" + *f.state + "\" (one of: " + state_list() + ")");
  if (f.limit < 1 || f.limit > kMaxListLimit)
    throw std::invalid_argument("limit " + std::to_string(f.limit) + " is out of range (1 to " +
                                std::to_string(kMaxListLimit) + "; page on with --before-id)");
}

JobPage list_jobs(pg::Connection& conn, const std::string& table, const ListFilter& filter) {
  check_filter(filter);
  const JobTable t = open_job_table(conn, table);
  ReadSnapshot snapshot(conn);
  // A state filter is spelled out as a constant (one of kStates, checked above) so the planner
  // can match the partial indexes' predicates; everything else travels as a parameter.
  const std::string state = filter.state ? " AND state = '" + *filter.state + "'" : "";
  const std::string sql =
      "SELECT id, kind, queue, state, attempt, max_attempts, priority, scheduled_at::text,"
      " extract(epoch FROM scheduled_at - now())::float8, completed_at::text,"
      " extract(epoch FROM completed_at - now())::float8, error\n"
      "  FROM " + t.quoted + "\n"
      " WHERE ($1::text IS NULL OR kind = $1::text) AND ($2::text IS NULL OR queue = $2::text)"
      " AND ($3::bigint IS NULL OR id < $3::bigint)" + state + "\n"
      " ORDER BY id DESC LIMIT $4::int";
  const std::string before = filter.before_id ? std::to_string(*filter.before_id) : "";
  const std::string limit = std::to_string(filter.limit);
  auto r = conn.exec(sql, {filter.kind ? pg::Param(*filter.kind) : pg::Param(std::nullopt),
                           filter.queue ? pg::Param(*filter.queue) : pg::Param(std::nullopt),
                           filter.before_id ? pg::Param(before) : pg::Param(std::nullopt), pg::Param(limit)});
  JobPage page;
  page.table = t.name;
  for (int i = 0; i < r.rows(); ++i) {
    JobSummary j;
    j.id = r.int64(i, 0);
    j.kind = std::string(r.text(i, 1));
    j.queue = std::string(r.text(i, 2));
    j.state = std::string(r.text(i, 3));
    j.attempt = static_cast<int>(r.int64(i, 4));
    j.max_attempts = static_cast<int>(r.int64(i, 5));
    j.priority = static_cast<int>(r.int64(i, 6));
    j.scheduled_at = std::string(r.text(i, 7));
    j.scheduled_in_seconds = opt_double(r, i, 8).value_or(0);
    j.completed_at = opt_text(r, i, 9);
    j.completed_in_seconds = opt_double(r, i, 10);
    j.error = opt_text(r, i, 11);
    page.jobs.push_back(std::move(j));
  }
  if (static_cast<int>(page.jobs.size()) == filter.limit) page.next_before_id = page.jobs.back().id;
  return page;
}

nlohmann::json to_json(const JobSummary& j) {
  using nlohmann::json;
  auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  return {{"id", j.id},
          {"kind", j.kind},
          {"queue", j.queue},
          {"state", j.state},
          {"attempt", j.attempt},
          {"max_attempts", j.max_attempts},
          {"priority", j.priority},
          {"scheduled_at", j.scheduled_at},
          {"scheduled_in_seconds", j.scheduled_in_seconds},
          {"completed_at", opt(j.completed_at)},
          {"completed_in_seconds", opt(j.completed_in_seconds)},
          {"error", opt(j.error)}};
}

nlohmann::json to_json(const JobPage& page) {
  nlohmann::json jobs = nlohmann::json::array();
  for (const auto& j : page.jobs) jobs.push_back(to_json(j));
  return {{"table", page.table},
          {"jobs", std::move(jobs)},
          {"next_before_id", page.next_before_id ? nlohmann::json(*page.next_before_id) : nlohmann::json(nullptr)}};
}

}  // namespace pgxq::admin
