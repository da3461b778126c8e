// queue/executor: one job, one handler call, one recorded outcome.
#include "queue/executor.hpp"

#include <spdlog/spdlog.h>

#include <optional>

namespace pgxq::queue {

namespace {

// The SQLSTATE of the error a handler's SQL gets once it has ended the job's transaction
// itself: invalid_transaction_termination, what PostgreSQL says to a procedure that commits
// inside a transaction block.
constexpr const char* kEndedTransactionState = "2D000";

class ExecContext final : public JobContext {
public:
  ExecContext(Core& core, const ExecutionTarget& target, const Job& job, const JobRun* run)
      : core_(core), target_(target), job_(job), run_(run) {}

  pg::Result exec(std::string_view sql, std::span<const pg::Param> params) override {
    if (ended_by_) {
      // Outside the job's transaction this statement would commit on its own, whatever the
      // job's outcome: refused, so nothing after the handler's own COMMIT/ROLLBACK lands.
      throw pg::Error("this job's transaction was ended by the handler's own " + *ended_by_ +
                          "; no more SQL runs for this job (let pgxqd commit or roll back the job's transaction: "
                          "return the job's outcome instead)",
                      kEndedTransactionState);
    }
    try {
      if (!tx_) {
        lease_ = core_.handler_pool.acquire();
        tx_.emplace(*lease_);
      }
      pg::Result r = lease_->exec(sql, params);
      note_transaction_end(r);
      return r;
    } catch (const pg::Error& e) {
      if (!sql_error_) sql_error_ = e;
      if (e.connection_lost() && lease_) lease_.discard();
      throw;
    }
  }

  bool should_stop() const noexcept override {
    return core_.cancel.load(std::memory_order_relaxed) || target_.cancel->load(std::memory_order_relaxed) ||
           (run_ && (run_->cancelled.load(std::memory_order_relaxed) || run_->timed_out(*core_.options.clock)));
  }

  void log(LogLevel level, std::string_view message) override {
    core_.log->log(level, "job {} kind={} queue={}: {}", job_.id, job_.kind, job_.queue, message);
  }

  bool has_transaction() const { return tx_.has_value() && tx_->open(); }
  pg::Transaction& transaction() { return *tx_; }
  pg::Lease& lease() { return lease_; }
  const std::optional<pg::Error>& sql_error() const { return sql_error_; }
  // The statement by which the handler ended the job's transaction itself, if it did.
  const std::optional<std::string>& ended_by() const { return ended_by_; }

private:
  // A handler's statement ended the job's transaction when the server leaves the session
  // outside a transaction (COMMIT, ROLLBACK, END, ABORT, PREPARE TRANSACTION) or reports a
  // commit that chained a new one (COMMIT AND CHAIN: the work before it is committed). A
  // ROLLBACK that leaves a transaction open (ROLLBACK TO SAVEPOINT, ROLLBACK AND CHAIN) undid
  // only the handler's own work, and whatever follows still commits with the completion.
  void note_transaction_end(const pg::Result& r) {
    const std::string_view tag = PQcmdStatus(r.get());
    if (PQtransactionStatus(lease_->get()) == PQTRANS_IDLE || tag == "COMMIT")
      ended_by_ = tag.empty() ? std::string("statement") : std::string(tag);
  }

  Core& core_;
  const ExecutionTarget& target_;
  const Job& job_;
  pg::Lease lease_;
  std::optional<pg::Transaction> tx_;
  std::optional<pg::Error> sql_error_;
  std::optional<std::string> ended_by_;
  const JobRun* run_;
};

Outcome call_handler(const Handler& handler, const Job& job, JobContext& ctx) {
  try {
    return handler(job, ctx);
  } catch (const std::exception& e) {
    return Outcome::panic(e.what());
  } catch (...) {
    return Outcome::panic("unknown exception");
  }
}

// The job's transaction (handler work + guarded completion) failed to commit, and the server
// said so: nothing of it is in the database. Certain only when the server answered with an
// error; a connection lost during COMMIT leaves the outcome unknown (see commit_with_job).
bool commit_certainly_failed(const pg::Error& e) { return !e.connection_lost(); }

}  // namespace

void execute_job(Core& core, Completer& completer, const ExecutionTarget& target, const Job& job,
                 JobRun* run) {
  std::optional<std::chrono::microseconds> handler_duration;  // for the observer
  bool panicked = false;
  auto submit = [&](Resolution resolution) {
    completer.submit(CompletionRecord{target.table, target.counters, job.id, job.attempt, job.attempted_at_us,
                                      job.kind, job.queue, std::move(resolution), panicked, handler_duration,
                                      job.snoozes});
  };
  if (job.withheld_args_bytes) {
    // The same args would be too long on every attempt: failed for good, never run.
    submit(Resolution{JobState::failed,
                      "args are " + std::to_string(*job.withheld_args_bytes) + " bytes, more than [worker] "
                          "max_args_bytes = " + std::to_string(core.options.max_args_bytes) +
                          ": the job was not run; make its args smaller (keep large data in a table and pass its "
                          "key) or raise max_args_bytes",
                      std::chrono::milliseconds(0), false});
    return;
  }
  auto it = core.handlers.find(job.kind);
  ExecContext ctx(core, target, job, run);
  const auto handler_start = std::chrono::steady_clock::now();
  if (run && it != core.handlers.end()) run->handler_called(core.options.clock->now());
  Outcome outcome = it == core.handlers.end() ? Outcome::error("no handler for kind '" + job.kind + "'")
                                              : call_handler(it->second, job, ctx);
  if (run) run->handler_returned(*core.options.clock);
  if (it != core.handlers.end())
    handler_duration =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - handler_start);
  panicked = outcome.code == OutcomeCode::panic;

  if (ctx.ended_by()) {
    // Whatever the handler committed before its own COMMIT stays committed; what it did after
    // was refused or is rolled back below. Retrying would repeat that committed work, so the
    // job fails for good with a message that names the cause.
    if (ctx.has_transaction()) ctx.transaction().rollback();
    submit(Resolution{JobState::failed,
                      "handler ended the job's transaction itself (" + *ctx.ended_by() +
                          " through exec): the job's work is no longer exactly-once; let pgxqd commit or roll back "
                          "(return an outcome) instead",
                      std::chrono::milliseconds(0), false});
    return;
  }
  if (run && run->cancelled.load()) {
    // Cancelled by the operator: the job's work does not commit, whatever the handler returned.
    if (ctx.has_transaction()) ctx.transaction().rollback();
    submit(Resolution{JobState::discarded, std::string(kCancelledByOperator), std::chrono::milliseconds(0), false});
    return;
  }
  if (run && run->timed_out(*core.options.clock)) {
    // Returned after its deadline: whatever the handler did and said, its work does not commit
    // and the attempt failed. A panic after the deadline is a timeout too.
    outcome = Outcome::retry(run->timeout().error());
    panicked = false;
  }
  if (outcome.code == OutcomeCode::complete && ctx.sql_error()) {
    // The handler swallowed an SQL error: its transaction is aborted and cannot commit.
    outcome = Outcome::retry(std::string("handler's transaction failed: ") + ctx.sql_error()->what());
  }

  if (ctx.has_transaction()) {
    if (outcome.code == OutcomeCode::complete) {
      try {
        std::string id = std::to_string(job.id), attempt = std::to_string(job.attempt),
                    attempted_at = std::to_string(job.attempted_at_us);
        auto r = ctx.lease()->exec(target.table->complete_one, {id, attempt, attempted_at});
        if (r.affected() == 1) {
          ctx.transaction().commit();
          target.counters->completed++;
          if (auto* observer = core.options.observer.get())
            observer->finished(job.queue, job.kind, FinishOutcome::completed, handler_duration);
          core.log->debug("job {} kind={} queue={}: completed", job.id, job.kind, job.queue);
        } else {
          ctx.transaction().rollback();
          core.log->warn("job {} kind={} queue={}: handler's work rolled back: the job is no longer running attempt {} "
                         "(rescued meanwhile?)",
                         job.id, job.kind, job.queue, job.attempt);
        }
        return;
      } catch (const pg::Error& e) {
        if (!commit_certainly_failed(e)) {
          // Unknown whether COMMIT reached the server: the row says. If it did not, the job is
          // still running and the rescuer will retry it; guessing here could double it.
          ctx.lease().discard();
          core.log->error("job {} kind={} queue={}: completion could not be committed: {}; left for the rescuer if "
                          "not recorded",
                          job.id, job.kind, job.queue, e.what());
          return;
        }
        // The server refused the commit (a serialization failure, a deferred constraint, ...):
        // nothing of the job's transaction was kept, so this was a failed attempt.
        ctx.transaction().rollback();
        outcome = Outcome::retry(std::string("job's transaction could not be committed: ") + e.what());
      }
    } else {
      ctx.transaction().rollback();
    }
  }

  submit(resolve(outcome, job.attempt, job.max_attempts, core.options.backoff, core.random_unit(),
                 SnoozeBound{job.snoozes, core.options.max_snoozes}));
}

}  // namespace pgxq::queue
