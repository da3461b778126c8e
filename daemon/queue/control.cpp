// queue/control: paused queues and cancellation requests, read and obeyed by every daemon.
#include "queue/control.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "queue/executor.hpp"

namespace pgxq::queue {

namespace {

// An SQL string literal of a fixed text without quotes or backslashes.
std::string literal(const std::string& text) { return "'" + text + "'"; }

}  // namespace

ControlSql::ControlSql(const TableSql& t)
    : pause_table(sibling_table(t.quoted, "_pause")), cancel_table(sibling_table(t.quoted, "_cancel")) {
  // $1, $2: pause_table, cancel_table, as spelled in the statements.
  control_tables_exist = "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL";
  paused_queues = "SELECT queue FROM " + pause_table;
  cancel_requests = "SELECT job_id FROM " + cancel_table + " LIMIT 10000";  // a handful, in practice
  // Ids as arrays: primary-key lookups, whatever the planner guesses about the small tables.
  requested_jobs = "SELECT id, state FROM " + t.quoted + " WHERE id = ANY ($1::int8[]) AND state IN ('available', 'running')";
  discard_requested = "UPDATE " + t.quoted + " j SET state = 'discarded', completed_at = now(), error = " +
                      literal(kCancelledByOperator) +
                      " WHERE j.id = ANY ($1::int8[]) AND j.state = 'available' RETURNING j.id, j.kind, j.queue";
  forget = "DELETE FROM " + cancel_table + " WHERE job_id = ANY ($1::int8[])";
}

std::optional<std::set<std::string>> read_paused_queues(pg::Connection& conn, const TableSql& table) {
  const ControlSql sql(table);
  auto exists = conn.exec(sql.control_tables_exist, {sql.pause_table, sql.cancel_table});
  if (exists.rows() != 1 || exists.text(0, 0) != "t") return std::nullopt;
  std::set<std::string> paused;
  auto r = conn.exec(sql.paused_queues);
  for (int i = 0; i < r.rows(); ++i) paused.insert(std::string(r.text(i, 0)));
  return paused;
}

Control::Control(std::shared_ptr<Core> core, std::vector<std::shared_ptr<Producer>> producers)
    : core_(std::move(core)), producers_(std::move(producers)), session_(*core_, "control", "control") {
  set_poll_interval(core_->options.poll_interval);
}

void Control::set_poll_interval(std::chrono::milliseconds interval) {
  // "Within a second" for a cancel, "within a poll interval" for a pause.
  every_ms_ = std::min<int64_t>(interval.count(), 1000);
}

Control::~Control() { stop(); }

void Control::start() {
  thread_ = std::thread([this] { loop(); });
}

void Control::stop() {
  stop_.request();
  if (thread_.joinable()) thread_.join();
}

void Control::loop() {
  do {
    run_once();
  } while (!stop_.sleep_for(std::chrono::milliseconds(every_ms_.load())));
}

void Control::run_once() {
  // Handlers past their timeout: a look at this daemon's own running jobs, no database.
  for (auto& p : producers_) p->warn_overdue();
  try {
    pg::Connection& conn = session_.connection();
    for (const auto& [name, table] : core_->tables) control_table(conn, table);
    session_.ok();
  } catch (const pg::Error& e) {
    if (!session_.failed(e)) core_->log->error("control: reading paused queues and cancellations failed: {}", e.what());
  }
}

void Control::control_table(pg::Connection& conn, const TableSql& table) {
  auto paused = read_paused_queues(conn, table);
  if (!paused) {
    if (without_control_tables_.insert(table.table).second)
      core_->log->warn("table {} has no pause and cancel tables (schema version below 5): pgxqd pause and pgxqd cancel "
                       "are not obeyed on it; run `pgxqd migrate` to add them",
                       table.table);
    return;
  }
  for (auto& p : producers_)
    if (&p->table() == &table) p->set_paused(paused->count(p->name()) > 0);

  const ControlSql sql(table);
  auto requests = conn.exec(sql.cancel_requests);
  if (requests.rows() == 0) return;
  std::vector<int64_t> requested;
  for (int i = 0; i < requests.rows(); ++i) {
    requested.push_back(requests.int64(i, 0));
    for (auto& p : producers_)
      if (&p->table() == &table) p->cancel_job(requested.back());
  }
  // A request outlives its job's run only when the job did not end by the cancel: it went back
  // to available (a retry, a rescue after its daemon died) and must not run again. Once the job
  // is finished (or deleted) the request is forgotten.
  auto live = conn.exec(sql.requested_jobs, {int_array(requested)});
  std::vector<int64_t> available, finished = requested;
  for (int i = 0; i < live.rows(); ++i) {
    const int64_t id = live.int64(i, 0);
    finished.erase(std::remove(finished.begin(), finished.end(), id), finished.end());
    if (live.text(i, 1) == "available") available.push_back(id);
  }
  if (!available.empty()) {
    auto discarded = conn.exec(sql.discard_requested, {int_array(available)});
    for (int i = 0; i < discarded.rows(); ++i)
      core_->log->info("job {} kind={} queue={}: cancelled by the operator while not running: discarded",
                       discarded.text(i, 0), discarded.text(i, 1), discarded.text(i, 2));
  }
  if (!finished.empty()) conn.exec(sql.forget, {int_array(finished)});
}

}  // namespace pgxq::queue
