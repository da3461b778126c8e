// queue/producer: claim loop, worker threads, release on shutdown.
#include "queue/producer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

#include "queue/claim.hpp"

namespace pgxq::queue {

namespace {
// The claim loop goes round at least this often, so the watchdog sees it alive.
constexpr std::chrono::seconds kAliveEvery{1};
}  // namespace

Producer::Producer(std::shared_ptr<Core> core, std::shared_ptr<Completer> completer, QueueOptions options)
    : core_(std::move(core)),
      completer_(std::move(completer)),
      options_(std::move(options)),
      table_(&core_->tables.at(options_.table)),
      claim_sql_(core_->kinds.empty()
                     ? std::string()
                     : table_->claim(core_->kinds.size(), table_->front_index, core_->options.max_args_bytes)),
      probe_sql_(core_->kinds.empty() ? std::string() : table_->claim_probe(core_->kinds.size())),
      candidate_ids_sql_(core_->kinds.empty() ? std::string() : table_->claim_candidate_ids(core_->kinds.size())),
      clock_(*core_->options.clock),
      front_(core_->kinds, kFullScanEvery, table_->front_index),
      counters_(std::make_shared<QueueCounters>()),
      target_{table_, counters_.get(), &cancel_},
      policy_(core_->options.batch_size, options_.max_workers, core_->options.poll_interval),
      last_loop_(clock_.now()) {}

Producer::~Producer() {
  if (claimer_.joinable()) claimer_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

void Producer::start() {
  auto self = shared_from_this();
  claimer_ = std::thread([self] { self->claim_loop(); });
}

void Producer::wake() {
  {
    std::lock_guard lock(mu_);
    policy_.wake();
  }
  claim_cv_.notify_one();
}

void Producer::set_max_workers(int n) {
  {
    std::lock_guard lock(mu_);
    policy_.set_max_workers(n);
  }
  claim_cv_.notify_one();
}

void Producer::set_poll_interval(std::chrono::milliseconds d) {
  {
    std::lock_guard lock(mu_);
    policy_.set_poll_interval(d);
  }
  claim_cv_.notify_one();
}

Clock::TimePoint Producer::last_loop() const {
  std::lock_guard lock(mu_);
  return last_loop_;
}

QueueStats Producer::stats() const {
  QueueStats s;
  s.name = options_.name;
  {
    std::lock_guard lock(mu_);
    s.max_workers = policy_.max_workers();
    s.running = static_cast<int>(running_.size());
  }
  s.claimed = counters_->claimed;
  s.completed = counters_->completed;
  s.retried = counters_->retried;
  s.discarded = counters_->discarded;
  s.failed = counters_->failed;
  s.rescued = counters_->rescued;
  return s;
}

void Producer::claim_loop() {
  Session session(*core_, "producer", "producer " + options_.name,
                  [](pg::Connection& conn) { conn.exec(kClaimSessionSetup); });
  for (;;) {
    int want = 0;
    std::vector<Job> unstartable;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        const auto now = clock_.now();
        last_loop_ = now;
        if (stopping_) return;
        if (hand_back_) {
          hand_back_ = false;
          if (!ready_.empty()) {
            unstartable.assign(std::make_move_iterator(ready_.begin()), std::make_move_iterator(ready_.end()));
            ready_.clear();
            break;
          }
        }
        if (paused_) {
          claim_cv_.wait_for(lock, kAliveEvery);  // set_paused(false) ends the wait
          continue;
        }
        const auto at = policy_.next_claim(busy_slots_locked());
        if (at <= now) {
          want = policy_.start_claim(busy_slots_locked(), now);
          break;
        }
        // The policy's times are on the engine's clock, which tests may set by hand; waiting
        // takes real time. So the loop sleeps for the time left by the engine's clock, at
        // most kAliveEvery, and then asks again: whatever time the engine's clock shows then
        // decides. A wake-up (or a worker freeing a slot when every one was busy: kNever)
        // ends the sleep early.
        const Clock::Duration left = at == ClaimPolicy::kNever ? kAliveEvery : at - now;
        claim_cv_.wait_for(lock, std::min<Clock::Duration>(left, kAliveEvery));
      }
    }

    if (!unstartable.empty()) {
      release(unstartable);
      // Claimed again at once, the jobs would only be handed back again: a second's pause
      // (the thread limit may have room again by then).
      std::unique_lock lock(mu_);
      claim_cv_.wait_for(lock, kAliveEvery, [&] { return stopping_; });
      continue;
    }

    std::vector<Job> jobs;
    bool more = false;
    try {
      pg::Connection& conn = session.connection();
      bool full_scan = false;
      jobs = claim(conn, want, full_scan);
      more = follow_up_.more_due(want, static_cast<int>(jobs.size()), full_scan, [&] { return any_due(conn); });
      session.ok();
    } catch (const pg::Error& e) {
      front_.reset();
      if (!session.failed(e))
        core_->log->error("queue {}: claiming jobs from {} failed: {}", options_.name, table_->table, e.what());
      std::unique_lock lock(mu_);
      claim_cv_.wait_for(lock, session.next_backoff(), [&] { return stopping_; });
      policy_.wake();
      continue;
    }

    counters_->claimed += jobs.size();
    observe_claimed(jobs);
    bool notify_worker;
    {
      std::lock_guard lock(mu_);
      policy_.claimed(more);
      // Claimed after stop began: stop_claiming() finds them in ready_ and releases them.
      for (auto& j : jobs) ready_.push_back(std::move(j));
      notify_worker = add_worker_locked();
    }
    if (notify_worker) work_cv_.notify_one();
  }
}

int Producer::busy_slots_locked() const { return static_cast<int>(ready_.size() + running_.size()); }

bool Producer::claim_wanted_locked() const {
  return ClaimPolicy::due(policy_.next_claim(busy_slots_locked()), clock_);
}

std::vector<Job> Producer::claim(pg::Connection& conn, int n, bool& full_scan) {
  if (core_->kinds.empty()) {
    full_scan = true;
    return {};  // nothing to claim for (logged at start)
  }
  const std::string stmt = "claim:" + table_->table;
  conn.prepare(stmt, claim_sql_);
  const Claim c(options_.name, core_->kinds_array, n, front_.next(clock_.now()));
  full_scan = c.full_scan();
  std::vector<Job> jobs;
  try {
    jobs = take_claimed(conn.exec_prepared(stmt, c.params()));
  } catch (const pg::Error& e) {
    if (!row_specific(e)) throw;
    core_->log->error("queue {}: claiming jobs from {} failed: {}; claiming its candidates one at a time",
                      options_.name, table_->table, e.what());
    jobs = claim_isolated(conn, n);
    front_.reset();
    full_scan = false;
  }
  // UPDATE ... RETURNING has no order: restore go-pgxq's (priority, scheduled_at, id).
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return std::tie(a.priority, a.scheduled_at_us, a.id) < std::tie(b.priority, b.scheduled_at_us, b.id);
  });
  front_.claimed(jobs, n);
  return jobs;
}

std::vector<Job> Producer::take_claimed(const pg::Result& r) {
  std::vector<FailedByClaim> failed;
  std::vector<Job> jobs = claimed_jobs(r, options_.name, &failed);
  for (const auto& f : failed) {
    counters_->failed++;
    if (auto* observer = core_->options.observer.get())
      observer->finished(options_.name, f.kind, FinishOutcome::failed, std::nullopt);
    core_->log->warn("job {} kind={} queue={}: {}", f.id, f.kind, options_.name, f.error);
  }
  return jobs;
}

std::vector<Job> Producer::claim_isolated(pg::Connection& conn, int n) {
  const std::string ids_stmt = "claim_candidate_ids:" + table_->table, one_stmt = "claim_ids:" + table_->table;
  conn.prepare(ids_stmt, candidate_ids_sql_);
  conn.prepare(one_stmt, table_->claim_ids(core_->options.max_args_bytes));
  auto candidates = conn.exec_prepared(ids_stmt, {options_.name, core_->kinds_array, std::to_string(claim_candidates(n))});
  std::vector<Job> jobs;
  for (int i = 0; i < candidates.rows() && static_cast<int>(jobs.size()) < n; ++i) {
    const std::string id(candidates.text(i, 0));
    try {
      for (auto& j : take_claimed(conn.exec_prepared(one_stmt, {int_array(std::vector<int64_t>{candidates.int64(i, 0)}),
                                                                options_.name, core_->kinds_array})))
        jobs.push_back(std::move(j));
    } catch (const pg::Error& e) {
      if (!row_specific(e)) {
        if (!jobs.empty()) break;  // keep what was claimed; the next claim meets the error again
        throw;
      }
      fail_unclaimable(conn, id, e);
    }
  }
  return jobs;
}

void Producer::fail_unclaimable(pg::Connection& conn, const std::string& id, const pg::Error& e) {
  const std::string error = sanitize_text(std::string("failed: the job cannot be claimed: ") + e.what() + " (SQLSTATE " +
                                          e.sqlstate() + ")");
  try {
    auto r = conn.exec(table_->fail_unclaimable, {id, error});
    if (r.rows() == 1) {
      counters_->failed++;
      if (auto* observer = core_->options.observer.get())
        observer->finished(options_.name, r.text(0, 0), FinishOutcome::failed, std::nullopt);
      core_->log->error("job {} kind={} queue={}: {}", id, r.text(0, 0), options_.name, error);
    }
  } catch (const pg::Error& e2) {
    if (e2.connection_lost()) throw;
    core_->log->error("job {} queue={}: cannot be claimed ({}) and cannot be marked failed either: {}; it stays "
                      "available, and claims go round it one candidate at a time until the row is fixed or deleted",
                      id, options_.name, e.what(), e2.what());
  }
}

bool Producer::any_due(pg::Connection& conn) {
  if (core_->kinds.empty()) return false;
  const std::string stmt = "claim_probe:" + table_->table;
  conn.prepare(stmt, probe_sql_);
  // As many candidates as a competing claim would lock.
  const std::string candidates = std::to_string(claim_candidates(core_->options.batch_size));
  return conn.exec_prepared(stmt, {options_.name, core_->kinds_array, candidates}).rows() > 0;
}

bool Producer::add_worker_locked() {
  // One worker at a time is brought in, and each one that takes a job while more are ready
  // brings in the next. Short jobs are thus run by the few workers already awake, without a
  // thread switch per job (on two cores those switches cost more than the jobs), while slow
  // ones still fan out to every worker within a few wake-ups.
  if (ready_.empty() || workers_on_the_way_ > 0 || stopping_) return false;
  if (sleeping_workers_ > 0) {
    workers_on_the_way_++;
    return true;
  }
  if (live_workers_ < policy_.max_workers()) {
    // Threads are created on demand, up to max_workers. The new thread waits for mu_, held
    // here, before it looks at the counts.
    auto self = shared_from_this();
    try {
      workers_.reserve(workers_.size() + 1);
      workers_.push_back(core_->options.start_thread([self] { self->worker_loop(); }));
    } catch (const std::system_error& e) {
      worker_start_failed_locked(e);
      return false;
    }
    live_workers_++;
    workers_on_the_way_++;
  }
  return false;
}

void Producer::worker_start_failed_locked(const std::exception& e) {
  // Every worker there is is busy (a sleeping one would have been woken instead): the ready
  // jobs would wait for one to finish while their rows say `running`. They go back as never
  // claimed, and the queue claims no more than its workers can take.
  const int workers = std::max(1, live_workers_);
  policy_.set_max_workers(workers);
  hand_back_ = true;
  claim_cv_.notify_one();
  core_->log->error("queue {}: cannot start a worker thread ({} running): {}; handing back {} claimed job(s) and "
                    "working with max_workers = {} until max_workers is set again (SIGHUP) or pgxqd restarts; raise "
                    "the thread limit (TasksMax=, LimitNPROC=) or lower max_workers",
                    options_.name, live_workers_, e.what(), ready_.size(), workers);
}

void Producer::worker_loop() {
  std::unique_lock lock(mu_);
  if (workers_on_the_way_ > 0) workers_on_the_way_--;  // spawned for the ready jobs: here now (see below)
  for (;;) {
    while (!stopping_ && ready_.empty()) {
      sleeping_workers_++;
      work_cv_.wait(lock);
      sleeping_workers_--;
      // Notifications are sent after unlocking, so a spurious wake-up may take another's
      // place: the count only has to reach zero, never stay above it with nobody coming.
      if (workers_on_the_way_ > 0) workers_on_the_way_--;
    }
    if (stopping_) break;  // on stop, unstarted jobs are released, not run
    const Job job = std::move(ready_.front());
    ready_.pop_front();
    running_.push_back(&job);
    JobRun run(timeout_for(job.kind, core_->options.job_timeout, core_->options.kind_timeouts));
    runs_[job.id] = RunningJob{&job, &run};
    const bool notify_worker = add_worker_locked();
    lock.unlock();
    if (notify_worker) work_cv_.notify_one();

    execute_job(*core_, *completer_, target_, job, &run);

    lock.lock();
    runs_.erase(job.id);
    auto it = std::find(running_.begin(), running_.end(), &job);
    *it = running_.back();
    running_.pop_back();
    if (running_.empty()) idle_cv_.notify_all();
    if (claim_wanted_locked()) {
      // Notified unlocked, so the claim loop does not wake only to wait for this mutex.
      lock.unlock();
      claim_cv_.notify_one();
      lock.lock();
    }
  }
  live_workers_--;
}

void Producer::stop_claiming() {
  std::vector<Job> unstarted;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    unstarted.assign(std::make_move_iterator(ready_.begin()), std::make_move_iterator(ready_.end()));
    ready_.clear();
  }
  claim_cv_.notify_all();
  work_cv_.notify_all();
  if (claimer_.joinable()) claimer_.join();
  {
    // The claim loop may have added a last batch before it saw the stop.
    std::lock_guard lock(mu_);
    for (auto& j : ready_) unstarted.push_back(std::move(j));
    ready_.clear();
  }
  if (!unstarted.empty()) release(unstarted);
}

void Producer::release(const std::vector<Job>& jobs) {
  std::vector<int64_t> ids, attempts, attempted_at;
  for (auto& j : jobs) {
    ids.push_back(j.id);
    attempts.push_back(j.attempt);
    attempted_at.push_back(j.attempted_at_us);
  }
  ReconnectBackoff backoff;
  for (int attempt = 1; attempt <= 5; ++attempt) {
    try {
      pg::Connection conn(core_->options.conninfo);
      core_->prepare_session(conn, "release");
      std::string id_arr = int_array(ids), att_arr = int_array(attempts), at_arr = int_array(attempted_at);
      auto r = conn.exec(table_->release_many, {id_arr, att_arr, at_arr});
      core_->log->info("queue {}: released {} claimed job(s) that had not started", options_.name, r.rows());
      return;
    } catch (const pg::Error& e) {
      core_->log->warn("queue {}: releasing {} unstarted job(s) failed: {}", options_.name, jobs.size(), e.what());
      std::this_thread::sleep_for(backoff.next());
    }
  }
  for (auto& j : jobs)
    core_->log->error("job {} kind={} queue={}: claimed but not started and could not be released; left for the rescuer",
                      j.id, j.kind, j.queue);
}

bool Producer::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] { return running_.empty(); });
}

std::vector<Job> Producer::running_jobs() const {
  std::lock_guard lock(mu_);
  std::vector<Job> out;
  for (const Job* j : running_) out.push_back(*j);
  return out;
}

void Producer::finish_workers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  bool stuck;
  {
    std::lock_guard lock(mu_);
    stuck = !running_.empty();
  }
  for (auto& w : workers_) {
    if (!w.joinable()) continue;
    if (stuck) w.detach();  // may be the one in a handler that never returns; it holds `self`
    else w.join();
  }
  workers_.clear();
}

void Producer::observe_claimed(const std::vector<Job>& jobs) const {
  auto* observer = core_->options.observer.get();
  if (!observer) return;
  for (const auto& j : jobs) {
    const int64_t due_us = std::max(j.scheduled_at_us, j.created_at_us);
    observer->claimed(options_.name, j.kind, std::chrono::microseconds(std::max<int64_t>(0, j.attempted_at_us - due_us)));
  }
}

void Producer::set_paused(bool paused) {
  {
    std::lock_guard lock(mu_);
    if (paused_ == paused) return;
    paused_ = paused;
    if (!paused) policy_.wake();
  }
  if (paused)
    core_->log->info("queue {} on {}: paused by the operator: no jobs are claimed from it (running jobs go on) until "
                     "`pgxqd resume {}`",
                     options_.name, table_->table, options_.name);
  else
    core_->log->info("queue {} on {}: resumed: claiming again", options_.name, table_->table);
  claim_cv_.notify_one();
}

bool Producer::paused() const {
  std::lock_guard lock(mu_);
  return paused_;
}

bool Producer::cancel_job(int64_t id) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.run->cancelled.exchange(true)) return false;
  for (const Job* j : running_)
    if (j->id == id)
      core_->log->info("job {} kind={} queue={}: cancelled by the operator: telling its handler to stop; the job "
                       "will be discarded and its transaction rolled back",
                       j->id, j->kind, j->queue);
  return true;
}

void Producer::warn_overdue() {
  const Clock& clock = *core_->options.clock;
  std::lock_guard lock(mu_);
  for (auto& [id, running] : runs_) {
    JobRun& run = *running.run;
    // A handler that honours should_stop returns within moments of its deadline; the operator's
    // cancel decides the outcome of a cancelled job and has said so already.
    if (run.overdue_logged || !run.still_in_handler() || run.cancelled.load() || run.overdue(clock) < kOverdueGrace)
      continue;
    run.overdue_logged = true;
    const Job& job = *running.job;
    core_->log->warn("job {} kind={} queue={}: still running past its timeout of {}: should_stop is set but the "
                     "handler has not returned; it keeps its worker until it returns, then its work is rolled back and "
                     "the attempt recorded as failed with \"{}\". If it still runs [worker] rescue_after ({}) after "
                     "it was claimed, the job is rescued and run again while this run goes on",
                     job.id, job.kind, job.queue, run.timeout().written(), run.timeout().error(),
                     describe_duration(core_->options.rescue_after));
  }
}

}  // namespace pgxq::queue
