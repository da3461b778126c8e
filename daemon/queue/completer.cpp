// queue/completer: batched, guarded, retried outcome writes for transaction-less handlers.
#include "queue/completer.hpp"

#include <spdlog/spdlog.h>


namespace pgxq::queue {

namespace {
constexpr int kWriteAttempts = 6;  // ~100ms..3.2s of backoff between them
}

void count_outcome(QueueCounters& c, JobState state) {
  switch (state) {
    case JobState::completed: c.completed++; break;
    case JobState::available: c.retried++; break;
    case JobState::discarded: c.discarded++; break;
    case JobState::failed: c.failed++; break;
  }
}

FinishOutcome finish_outcome(const Resolution& resolution, bool panicked) noexcept {
  switch (resolution.state) {
    case JobState::completed: return FinishOutcome::completed;
    case JobState::available: return resolution.refund_attempt ? FinishOutcome::snoozed : FinishOutcome::retried;
    case JobState::discarded: return panicked ? FinishOutcome::panicked : FinishOutcome::discarded;
    case JobState::failed: return FinishOutcome::failed;
  }
  return FinishOutcome::failed;
}

Completer::Completer(std::shared_ptr<Core> core) : core_(std::move(core)), session_(*core_, "completer", "completer") {}

Completer::~Completer() { stop(); }

void Completer::start() { thread_ = std::thread([this] { run(); }); }

bool Completer::stop_requested() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Completer::submit(CompletionRecord record) {
  {
    std::unique_lock lock(mu_);
    if (pending_.size() >= kMaxPendingOutcomes && !stopped_) {
      if (!full_logged_) {
        full_logged_ = true;
        core_->log->warn("completer: {} job outcomes are waiting to be written; workers wait, and claiming pauses "
                         "until they are written (is a job row locked, or the database slow?)",
                         pending_.size());
      }
      space_cv_.wait(lock, [&] { return pending_.size() < kMaxPendingOutcomes || stopped_; });
    }
    if (stopped_) {
      core_->log->warn("job {} kind={} queue={}: outcome '{}' not recorded (engine stopped); left running for the rescuer",
                       record.id, record.kind, record.queue, to_string(record.resolution.state));
      return;
    }
    pending_.push_back(std::move(record));
  }
  cv_.notify_one();
}

void Completer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    stopped_ = true;  // also when the thread never started
  }
  space_cv_.notify_all();
}

void Completer::run() {
  std::vector<CompletionRecord> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) {
        stopped_ = true;  // under the lock: a later submit() sees it and does not queue
        lock.unlock();
        space_cv_.notify_all();
        return;
      }
      batch.swap(pending_);
      if (full_logged_) {
        full_logged_ = false;
        core_->log->info("completer: writing {} waiting job outcomes; claiming resumes", batch.size());
      }
    }
    space_cv_.notify_all();
    write(batch);
    batch.clear();
  }
}

void Completer::write(std::vector<CompletionRecord>& batch) {
  // Group by table; usually there is one.
  std::map<const TableSql*, std::vector<CompletionRecord*>> by_table;
  for (auto& r : batch) by_table[r.table].push_back(&r);
  for (auto& [table, records] : by_table) write_table(*table, records);
}

void Completer::write_table(const TableSql& table, std::span<CompletionRecord* const> records) {
  if (records.empty()) return;
  auto refused = try_write(table, records);
  if (!refused) return;
  if (records.size() > 1) {
    const size_t half = records.size() / 2;
    write_table(table, records.first(half));
    write_table(table, records.subspan(half));
    return;
  }
  // The database refuses this one outcome: record the job as failed, with why.
  CompletionRecord& r = *records[0];
  core_->log->error("job {} kind={} queue={}: outcome '{}' refused by the database: {} (SQLSTATE {}); recording the "
                    "job as failed",
                    r.id, r.kind, r.queue, to_string(r.resolution.state), refused->what(), refused->sqlstate());
  CompletionRecord failed = r;
  failed.resolution = Resolution{JobState::failed,
                                 "outcome '" + std::string(to_string(r.resolution.state)) +
                                     "' could not be recorded: " + refused->what() + " (SQLSTATE " +
                                     refused->sqlstate() + ")",
                                 std::chrono::milliseconds(0), false};
  CompletionRecord* one[] = {&failed};
  if (auto again = try_write(table, one))
    core_->log->error("job {} kind={} queue={}: the failure could not be recorded either: {}; left running for the "
                      "rescuer",
                      r.id, r.kind, r.queue, again->what());
}

std::optional<pg::Error> Completer::try_write(const TableSql& table, std::span<CompletionRecord* const> records) {
  std::vector<int64_t> done_ids, done_attempts, done_at, other_ids, other_attempts, other_at, delays;
  std::vector<std::string> states;
  std::vector<std::optional<std::string>> errors;  // nullopt keeps the row's previous text
  std::vector<bool> refunds;
  bool any_done = false, any_other = false;
  for (auto* r : records) {
    if (r->resolution.state == JobState::completed && !r->resolution.error) {
      any_done = true;
      done_ids.push_back(r->id);
      done_attempts.push_back(r->attempt);
      done_at.push_back(r->attempted_at_us);
    } else {
      any_other = true;
      other_ids.push_back(r->id);
      other_attempts.push_back(r->attempt);
      other_at.push_back(r->attempted_at_us);
      states.emplace_back(to_string(r->resolution.state));
      errors.push_back(r->resolution.error ? std::optional(sanitize_text(*r->resolution.error)) : std::nullopt);
      delays.push_back(r->resolution.delay.count());
      refunds.push_back(r->resolution.refund_attempt);
    }
  }

  // The parameters, built once: a retried write sends the same batch again.
  const std::string done_ids_param = int_array(done_ids), done_attempts_param = int_array(done_attempts),
                    done_at_param = int_array(done_at);
  // A NULL error keeps the row's previous text (COALESCE): a snooze carries none.
  const std::string ids_param = int_array(other_ids), attempts_param = int_array(other_attempts),
                    states_param = text_array(states), errors_param = text_array(errors),
                    delays_param = int_array(delays), refunds_param = bool_array(refunds),
                    at_param = int_array(other_at);
  const std::string complete_stmt = "complete_many:" + table.table, resolve_stmt = "resolve_many:" + table.table;

  std::unordered_set<int64_t> applied;
  session_.reset_backoff();  // each batch has kWriteAttempts of its own
  for (int attempt = 1;; ++attempt) {
    try {
      pg::Connection& conn = session_.connection();
      applied.clear();
      // Both statements in one transaction, so a refused one undoes the other: the halves
      // are written again from scratch. (Most batches need only one.)
      std::optional<pg::Transaction> tx;
      if (any_done && any_other) tx.emplace(conn);
      if (any_done) {
        conn.prepare(complete_stmt, table.complete_many);
        auto r = conn.exec_prepared(complete_stmt, {done_ids_param, done_attempts_param, done_at_param});
        for (int i = 0; i < r.rows(); ++i) applied.insert(r.int64(i, 0));
      }
      if (any_other) {
        conn.prepare(resolve_stmt, table.resolve_many);
        auto r = conn.exec_prepared(resolve_stmt, {ids_param, attempts_param, states_param, errors_param, delays_param,
                                                   refunds_param, at_param});
        for (int i = 0; i < r.rows(); ++i) applied.insert(r.int64(i, 0));
      }
      if (tx) tx->commit();
      session_.ok();
      break;
    } catch (const pg::Error& e) {
      const bool lost = session_.failed(e);  // the write may or may not have landed; the guard
                                             // makes writing it again safe
      if (!lost && row_specific(e)) return e;
      // While running, a failure that passes by itself is waited out (the outcomes wait,
      // claiming pauses at the bound, and no finished job goes to the rescuer to run again);
      // on stop, and for other errors, kWriteAttempts bound it.
      const bool wait_out = (lost || passes_by_itself(e)) && !stop_requested();
      if (!lost)
        core_->log->error("recording {} job outcome(s) in {} failed: {}{}", records.size(), table.table, e.what(),
                          wait_out ? "; retrying until it can be written" : "");
      if (!wait_out && attempt >= kWriteAttempts) {
        for (auto* r : records)
          core_->log->error("job {} kind={} queue={}: outcome '{}' could not be recorded; left running for the rescuer",
                            r->id, r->kind, r->queue, to_string(r->resolution.state));
        return std::nullopt;
      }
      std::this_thread::sleep_for(session_.next_backoff());
    }
  }
  report(table, records, applied);
  return std::nullopt;
}

void Completer::log_snooze(const CompletionRecord& r, const TableSql& table) {
  if (table.snoozes_column)
    core_->log->info("job {} kind={} queue={}: snoozed for {}ms (snooze {}{}), attempt {} given back", r.id, r.kind,
                     r.queue, r.resolution.delay.count(), r.snoozes + 1,
                     core_->options.max_snoozes > 0 ? " of at most " + std::to_string(core_->options.max_snoozes)
                                                    : std::string(", no limit"),
                     r.attempt);
  else
    core_->log->info("job {} kind={} queue={}: snoozed for {}ms (not counted: table {} has no snoozes column), "
                     "attempt {} given back",
                     r.id, r.kind, r.queue, r.resolution.delay.count(), table.table, r.attempt);
}

void Completer::report(const TableSql& table, std::span<CompletionRecord* const> records,
                       const std::unordered_set<int64_t>& applied) {
  for (auto* r : records) {
    if (applied.count(r->id)) {
      count_outcome(*r->counters, r->resolution.state);
      if (auto* observer = core_->options.observer.get())
        observer->finished(r->queue, r->kind, finish_outcome(r->resolution, r->panicked), r->handler_duration);
      if (r->resolution.refund_attempt)
        log_snooze(*r, table);
      else if (r->resolution.state != JobState::completed)
        core_->log->log(r->resolution.state == JobState::available ? spdlog::level::info : spdlog::level::warn,
                        "job {} kind={} queue={}: {} after attempt {}: {}", r->id, r->kind, r->queue,
                        r->resolution.state == JobState::available ? "retry scheduled" : to_string(r->resolution.state),
                        r->attempt, r->resolution.error.value_or(""));
      else
        core_->log->debug("job {} kind={} queue={}: completed", r->id, r->kind, r->queue);
    } else {
      core_->log->warn("job {} kind={} queue={}: outcome '{}' not applied: the job is no longer running its claim of "
                       "attempt {} (rescued meanwhile?)",
                       r->id, r->kind, r->queue, to_string(r->resolution.state), r->attempt);
    }
  }
}

size_t Completer::backlog() {
  std::lock_guard lock(mu_);
  return pending_.size();
}

}  // namespace pgxq::queue
