// admin/pause: rows in <table>_pause.
#include "admin/pause.hpp"

namespace pgxq::admin {

void validate_queue_name(const std::string& q) {
  if (q.empty()) throw InputError("a queue name must not be empty");
  if (q.size() > 255) throw InputError("queue name too long (" + std::to_string(q.size()) + " bytes, at most 255)");
  for (unsigned char c : q)
    if (c < 0x20 || c == 0x7f)
      throw InputError("queue name contains a control character; give the name as the jobs' queue column holds it");
  if (q.front() == ' ' || q.back() == ' ')
    throw InputError("queue name '" + q + "' begins or ends with a space; give the name as the jobs' queue column holds it");
}

namespace {

bool has_jobs(pg::Connection& conn, const JobTables& t, const std::string& queue) {
  // Both read a partial index (the claim's, the rescuer's): no scan of finished jobs.
  auto r = conn.exec("SELECT EXISTS (SELECT 1 FROM " + t.quoted + " WHERE queue = $1 AND state = 'available') OR EXISTS "
                     "(SELECT 1 FROM " + t.quoted + " WHERE queue = $1 AND state = 'running')",
                     {queue});
  return r.text(0, 0) == "t";
}

// The pause row `r` returned (paused_at::text, paused_by), if it returned one.
void read_pause(const pg::Result& r, PauseChange& c) {
  if (r.rows() != 1) return;
  c.paused_at = std::string(r.text(0, 0));
  c.paused_by = r.is_null(0, 1) ? "" : std::string(r.text(0, 1));
}

}  // namespace

std::vector<PauseChange> pause(pg::Connection& conn, const std::string& table, const std::vector<std::string>& queues) {
  if (queues.empty()) throw InputError("name the queue(s) to pause: pgxqd pause QUEUE...");
  for (const auto& q : queues) validate_queue_name(q);
  const JobTables t(conn, table);
  const std::string by = operator_name(conn);
  std::vector<PauseChange> out;
  pg::Transaction tx(conn);
  for (const auto& q : queues) {
    PauseChange c;
    c.queue = q;
    auto r = conn.exec("INSERT INTO " + t.pause + " (queue, paused_by) VALUES ($1, $2) ON CONFLICT (queue) DO NOTHING"
                       " RETURNING paused_at::text, paused_by",
                       {q, by});
    c.changed = r.rows() == 1;
    if (!c.changed) r = conn.exec("SELECT paused_at::text, paused_by FROM " + t.pause + " WHERE queue = $1", {q});
    read_pause(r, c);
    c.has_jobs = has_jobs(conn, t, q);
    out.push_back(std::move(c));
  }
  tx.commit();
  return out;
}

std::vector<PauseChange> resume(pg::Connection& conn, const std::string& table, const std::vector<std::string>& queues) {
  if (queues.empty()) throw InputError("name the queue(s) to resume: pgxqd resume QUEUE...");
  for (const auto& q : queues) validate_queue_name(q);
  const JobTables t(conn, table);
  std::vector<PauseChange> out;
  pg::Transaction tx(conn);
  for (const auto& q : queues) {
    PauseChange c;
    c.queue = q;
    auto r = conn.exec("DELETE FROM " + t.pause + " WHERE queue = $1 RETURNING paused_at::text, paused_by", {q});
    c.changed = r.rows() == 1;
    read_pause(r, c);
    c.has_jobs = has_jobs(conn, t, q);
    out.push_back(std::move(c));
  }
  tx.commit();
  return out;
}

nlohmann::json to_json(const std::vector<PauseChange>& changes, bool pausing) {
  auto arr = nlohmann::json::array();
  for (const auto& c : changes)
    arr.push_back({{"queue", c.queue},
                   {pausing ? "paused" : "resumed", c.changed},
                   {pausing ? "already_paused" : "was_not_paused", !c.changed},
                   {"paused_at", c.paused_at.empty() ? nlohmann::json() : nlohmann::json(c.paused_at)},
                   {"paused_by", c.paused_by.empty() ? nlohmann::json() : nlohmann::json(c.paused_by)},
                   {"has_jobs", c.has_jobs}});
  return {{"queues", arr}};
}

}  // namespace pgxq::admin
