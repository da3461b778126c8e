// queue/completer: batched, guarded, retried outcome writes for transaction-less handlers.
#include "queue/completer.hpp"

#include <spdlog/spdlog.h>

#include <unordered_set>

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

Completer::Completer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

Completer::~Completer() { stop(); }

void Completer::start() { thread_ = std::thread([this] { run(); }); }

void Completer::submit(CompletionRecord record) {
  {
    std::lock_guard lock(mu_);
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
  std::lock_guard lock(mu_);
  stopped_ = true;  // also when the thread never started
}

void Completer::run() {
  std::vector<CompletionRecord> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) {
        stopped_ = true;  // under the lock: a later submit() sees it and does not queue
        return;
      }
      batch.swap(pending_);
    }
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

void Completer::write_table(const TableSql& table, std::vector<CompletionRecord*>& records) {
  std::vector<int64_t> done_ids, done_attempts, other_ids, other_attempts, delays;
  std::vector<std::string> states, errors;
  std::vector<bool> refunds;
  std::vector<CompletionRecord*> done, other;
  for (auto* r : records) {
    if (r->resolution.state == JobState::completed && !r->resolution.error) {
      done.push_back(r);
      done_ids.push_back(r->id);
      done_attempts.push_back(r->attempt);
    } else {
      other.push_back(r);
      other_ids.push_back(r->id);
      other_attempts.push_back(r->attempt);
      states.emplace_back(to_string(r->resolution.state));
      errors.push_back(sanitize_text(r->resolution.error.value_or("")));
      delays.push_back(r->resolution.delay.count());
      refunds.push_back(r->resolution.refund_attempt);
    }
  }

  std::unordered_set<int64_t> applied;
  RetryBackoff backoff;
  for (int attempt = 1;; ++attempt) {
    try {
      if (!conn_) {
        conn_ = std::make_unique<pg::Connection>(core_->options.conninfo);
        core_->prepare_session(*conn_, "completer");
      }
      applied.clear();
      if (!done.empty()) {
        std::string ids = int_array(done_ids), atts = int_array(done_attempts);
        conn_->prepare("complete_many:" + table.table, table.complete_many);
        auto r = conn_->exec_prepared("complete_many:" + table.table, {ids, atts});
        for (int i = 0; i < r.rows(); ++i) applied.insert(r.int64(i, 0));
      }
      if (!other.empty()) {
        std::string ids = int_array(other_ids), atts = int_array(other_attempts), st = text_array(states),
                    dl = int_array(delays), rf = bool_array(refunds);
        // A NULL error keeps the row's previous text (COALESCE): a snooze carries none.
        std::string errs_param = "{";
        for (size_t i = 0; i < other.size(); ++i) {
          if (i) errs_param += ',';
          if (other[i]->resolution.error) {
            std::string one = text_array(std::span<const std::string>(&errors[i], 1));
            errs_param += one.substr(1, one.size() - 2);
          } else {
            errs_param += "NULL";
          }
        }
        errs_param += '}';
        conn_->prepare("resolve_many:" + table.table, table.resolve_many);
        auto r = conn_->exec_prepared("resolve_many:" + table.table, {ids, atts, st, errs_param, dl, rf});
        for (int i = 0; i < r.rows(); ++i) applied.insert(r.int64(i, 0));
      }
      core_->health.ok("completer");
      break;
    } catch (const pg::Error& e) {
      if (e.connection_lost()) {
        conn_.reset();
        core_->health.failed("completer", e.what());
      } else {
        core_->log->error("recording {} job outcome(s) in {} failed: {}", records.size(), table.table, e.what());
      }
      if (attempt >= kWriteAttempts) {
        for (auto* r : records)
          core_->log->error("job {} kind={} queue={}: outcome '{}' could not be recorded; left running for the rescuer",
                            r->id, r->kind, r->queue, to_string(r->resolution.state));
        return;
      }
      std::this_thread::sleep_for(backoff.next());
    }
  }

  for (auto* r : records) {
    if (applied.count(r->id)) {
      count_outcome(*r->counters, r->resolution.state);
      if (r->resolution.state != JobState::completed)
        core_->log->log(r->resolution.state == JobState::available ? spdlog::level::info : spdlog::level::warn,
                        "job {} kind={} queue={}: {} after attempt {}: {}", r->id, r->kind, r->queue,
                        r->resolution.state == JobState::available ? "retry scheduled" : to_string(r->resolution.state),
                        r->attempt, r->resolution.error.value_or(""));
      else
        core_->log->debug("job {} kind={} queue={}: completed", r->id, r->kind, r->queue);
    } else {
      core_->log->warn("job {} kind={} queue={}: outcome '{}' not applied: the job is no longer running attempt {} "
                       "(rescued meanwhile?)",
                       r->id, r->kind, r->queue, to_string(r->resolution.state), r->attempt);
    }
  }
}

}  // namespace pgxq::queue
