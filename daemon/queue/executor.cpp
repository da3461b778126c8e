// queue/executor: one job, one handler call, one recorded outcome.
#include "queue/executor.hpp"

#include <spdlog/spdlog.h>

#include <optional>

namespace pgxq::queue {

namespace {

class ExecContext final : public JobContext {
public:
  ExecContext(Core& core, const ExecutionTarget& target, const Job& job) : core_(core), target_(target), job_(job) {}

  pg::Result exec(std::string_view sql, std::span<const pg::Param> params) override {
    try {
      if (!tx_) {
        lease_ = core_.handler_pool.acquire();
        tx_.emplace(*lease_);
      }
      return lease_->exec(sql, params);
    } catch (const pg::Error& e) {
      if (!sql_error_) sql_error_ = e;
      if (e.connection_lost() && lease_) lease_.discard();
      throw;
    }
  }

  bool should_stop() const noexcept override {
    return core_.cancel.load(std::memory_order_relaxed) || target_.cancel->load(std::memory_order_relaxed);
  }

  void log(LogLevel level, std::string_view message) override {
    core_.log->log(level, "job {} kind={} queue={}: {}", job_.id, job_.kind, job_.queue, message);
  }

  bool has_transaction() const { return tx_.has_value() && tx_->open(); }
  pg::Transaction& transaction() { return *tx_; }
  pg::Lease& lease() { return lease_; }
  const std::optional<pg::Error>& sql_error() const { return sql_error_; }

private:
  Core& core_;
  const ExecutionTarget& target_;
  const Job& job_;
  pg::Lease lease_;
  std::optional<pg::Transaction> tx_;
  std::optional<pg::Error> sql_error_;
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

}  // namespace

void execute_job(Core& core, Completer& completer, const ExecutionTarget& target, const Job& job) {
  auto it = core.handlers.find(job.kind);
  ExecContext ctx(core, target, job);
  Outcome outcome = it == core.handlers.end() ? Outcome::error("no handler for kind '" + job.kind + "'")
                                              : call_handler(it->second, job, ctx);
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
          core.log->debug("job {} kind={} queue={}: completed", job.id, job.kind, job.queue);
        } else {
          ctx.transaction().rollback();
          core.log->warn("job {} kind={} queue={}: handler's work rolled back: the job is no longer running attempt {} "
                         "(rescued meanwhile?)",
                         job.id, job.kind, job.queue, job.attempt);
        }
      } catch (const pg::Error& e) {
        // Unknown whether COMMIT reached the server: the row says. If it did not, the job is
        // still running and the rescuer will retry it; guessing here could double it.
        if (e.connection_lost()) ctx.lease().discard();
        core.log->error("job {} kind={} queue={}: completion could not be committed: {}; left for the rescuer if "
                        "not recorded",
                        job.id, job.kind, job.queue, e.what());
      }
      return;
    }
    ctx.transaction().rollback();
  }

  Resolution resolution = resolve(outcome, job.attempt, job.max_attempts, core.options.backoff, core.random_unit());
  completer.submit(CompletionRecord{target.table, target.counters, job.id, job.attempt, job.attempted_at_us, job.kind,
                                    job.queue, std::move(resolution)});
}

}  // namespace pgxq::queue
