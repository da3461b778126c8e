// metrics/queue_depth: see queue_depth.hpp. The statements read only what the job table's
// partial indexes hold: idx_<table>_fetch (queue, kind, priority, scheduled_at) WHERE
// state = 'available', and idx_<table>_rescue (attempted_at) WHERE state = 'running'.
#include "metrics/queue_depth.hpp"

#include <spdlog/spdlog.h>

#include "queue/sql.hpp"

namespace pgxq::metrics {

std::string depth_sql(const std::string& T) {
  const std::string available = "FROM " + T + " WHERE state = 'available' AND queue = $1 AND kind = $2";
  // One index-only scan of at most $3 entries in claim order: the split between due and later
  // is exact below the cap (a scan per state with its own scheduled_at filter would have to walk
  // every entry of the other state to find none of its own).
  return "SELECT a.due, a.later, "
         " (SELECT count(*) FROM (SELECT 1 FROM " + T + " WHERE state = 'running' AND queue = $1 AND kind = $2"
         "   LIMIT $3) r),"
         // The oldest due job: each priority's first due entry in index order (a loose index scan
         // over the priorities), instead of a min() over every available row.
         " (WITH RECURSIVE prio(p, n) AS ("
         "    SELECT min(priority), 1 " + available +
         "    UNION ALL"
         "    SELECT (SELECT min(priority) " + available + " AND priority > prio.p), n + 1"
         "    FROM prio WHERE prio.p IS NOT NULL AND n < 100)"
         "  SELECT COALESCE(extract(epoch FROM now() - min(o.at))::float8, 0) FROM prio CROSS JOIN LATERAL"
         "   (SELECT scheduled_at AS at " + available + " AND priority = prio.p AND scheduled_at <= now()"
         "    ORDER BY scheduled_at LIMIT 1) o)"
         " FROM (SELECT count(*) FILTER (WHERE at <= now()) AS due, count(*) FILTER (WHERE at > now()) AS later"
         "       FROM (SELECT scheduled_at AS at " + available + " LIMIT $3) capped) a";
}

QueueDepth::QueueDepth(DepthOptions options, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)), log_(std::move(log)) {
  for (const auto& q : options_.queues) sql_.push_back(depth_sql(queue::TableSql(q.table).quoted));
}

QueueDepth::~QueueDepth() { stop(); }

void QueueDepth::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
}

void QueueDepth::stop() {
  stop_.request();
  if (thread_.joinable()) thread_.join();
}

std::vector<DepthSample> QueueDepth::latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

std::vector<DepthSample> QueueDepth::sample(pg::Connection& conn) const {
  std::vector<DepthSample> out;
  const std::string cap = std::to_string(options_.count_cap);
  for (size_t i = 0; i < options_.queues.size(); ++i) {
    const auto& q = options_.queues[i];
    for (const auto& kind : options_.kinds) {
      auto r = conn.exec(sql_[i], {q.name, kind, cap});
      DepthSample s;
      s.queue = q.name;
      s.kind = kind;
      s.available = r.int64(0, 0);
      s.scheduled = r.int64(0, 1);
      s.running = r.int64(0, 2);
      s.oldest_due_age_seconds = std::max(0.0, std::stod(std::string(r.text(0, 3))));
      out.push_back(std::move(s));
    }
  }
  return out;
}

void QueueDepth::loop() {
  std::unique_ptr<pg::Connection> conn;
  bool failing = false;
  do {
    try {
      if (!conn) {
        conn = std::make_unique<pg::Connection>(
            options_.conninfo, queue::connect_options(options_.timeouts, [this] { return stop_.requested(); }));
        // Its own short limits: a sample that cannot finish quickly is skipped, never queued.
        conn->exec("SELECT set_config('application_name', $1, false), set_config('statement_timeout', '5s', false),"
                   " set_config('lock_timeout', '1s', false)",
                   {options_.application_name});
      }
      auto s = sample(*conn);
      {
        std::lock_guard lock(mu_);
        latest_ = std::move(s);
      }
      if (failing) log_->info("metrics: queue depth sampled again");
      failing = false;
    } catch (const std::exception& e) {
      if (!failing)
        log_->warn("metrics: sampling the queue depth failed: {}; pgxqd_queue_jobs and "
                   "pgxqd_oldest_due_job_age_seconds keep their last values until it works again",
                   e.what());
      failing = true;
      conn.reset();
    }
  } while (!stop_.sleep_for(options_.interval));
}

}  // namespace pgxq::metrics
