// isolation/remote_handler: see remote_handler.hpp. Every byte a worker sends is untrusted: it
// is decoded with bounds checks, its text repaired to UTF-8, its numbers range-checked, and
// anything that does not fit the conversation retires the worker and fails the attempt.
#include "isolation/remote_handler.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "isolation/protocol.hpp"
#include "isolation/worker_pool.hpp"
#include "pg/error.hpp"
#include "pg/utf8.hpp"
#include "plugin/host_api.hpp"

namespace pgxq::isolation {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kSlice{20};

// A message from the worker that does not fit the conversation: the worker is broken.
struct Broken {
  std::string why;  // "sent a malformed message (...)"
};

// Rows for the worker, or nullopt when they cannot be sent in one frame.
std::optional<Rows> to_rows(const pg::Result& result) {
  Rows rows;
  const int columns = result.columns();
  rows.row_count = result.rows();
  size_t bytes = 0;
  rows.columns.reserve(static_cast<size_t>(columns));
  for (int c = 0; c < columns; ++c) {
    rows.columns.emplace_back(result.column_name(c));
    bytes += rows.columns.back().size() + 8;
  }
  rows.cells.reserve(static_cast<size_t>(rows.row_count) * static_cast<size_t>(columns));
  for (int r = 0; r < rows.row_count; ++r) {
    for (int c = 0; c < columns; ++c) {
      if (result.is_null(r, c)) {
        rows.cells.emplace_back(std::nullopt);
        bytes += 8;
      } else {
        std::string_view v = result.text(r, c);
        bytes += v.size() + 8;
        if (bytes > kMaxDaemonFrame - 4096) return std::nullopt;
        rows.cells.emplace_back(std::string(v));
      }
    }
  }
  rows.affected = result.affected();
  return rows;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// "worker process died: signal 11 (SIGSEGV)" -> "worker process 1234 died: signal 11 (SIGSEGV)";
// "killed: memory limit 256 MiB" -> "worker process 1234 killed: memory limit 256 MiB".
std::string with_pid(const std::string& cause, pid_t pid) {
  constexpr std::string_view prefix = "worker process ";
  const std::string who = "worker process " + std::to_string(pid) + " ";
  if (cause.compare(0, prefix.size(), prefix) == 0) return who + cause.substr(prefix.size());
  return who + cause;
}

class RemoteCall {
public:
  RemoteCall(WorkerPool& pool, const std::string& name, spdlog::logger& log, const queue::Job& job,
             queue::JobContext& ctx)
      : pool_(pool), name_(name), log_(log), job_(job), ctx_(ctx) {}

  queue::Outcome run() {
    std::optional<WorkerLease> lease;
    try {
      lease = pool_.acquire([this] { return ctx_.should_stop(); });
    } catch (const std::exception& e) {
      return queue::Outcome::error("plugin " + name_ + ": no worker process: " + e.what());
    }
    if (!lease)
      return queue::Outcome::retry("plugin " + name_ + ": stopped while waiting for a free worker process");
    lease_ = &*lease;
    try {
      return converse();
    } catch (const Broken& b) {
      return failed(lease_->retire(b.why));
    } catch (const ProtocolError& e) {
      return failed(lease_->retire(std::string("sent a malformed message (") + e.what() + ")"));
    } catch (const ChannelClosed&) {
      return failed(lease_->retire("closed its channel"));
    } catch (const std::exception& e) {
      // The daemon's own failure while serving the worker (e.g. out of memory): this attempt
      // fails, the worker cannot be trusted to be in step any more.
      lease_->retire("was abandoned by its job");
      return queue::Outcome::error("plugin " + name_ + ": " + e.what());
    }
  }

private:
  queue::Outcome failed(const std::string& cause) {
    try {
      ctx_.log(spdlog::level::warn, "plugin " + name_ + ": " + with_pid(cause, pid_));
    } catch (...) {
    }
    return queue::Outcome::retry(cause);
  }

  // Every slice: the stop flag follows the engine's, and the limits are checked.
  std::optional<std::string> tick() {
    lease_->set_stop(ctx_.should_stop());
    last_tick_ = Clock::now();
    return lease_->check_limits();
  }

  void send(const Frame& frame) {
    std::optional<std::string> over;
    try {
      lease_->channel().send(frame, kSlice, [&] {
        over = tick();
        return !over;
      });
    } catch (const ChannelClosed&) {
      if (over) throw Limit{*over};  // gave up because of the limit, not because it closed
      throw;
    }
  }

  struct Limit {
    std::string cause;
  };

  queue::Outcome converse() {
    pid_ = lease_->pid();
    lease_->start_job();
    JobMessage m;
    m.id = job_.id;
    m.kind = job_.kind;
    m.queue = job_.queue;
    m.args = job_.args;
    m.attempt = job_.attempt;
    m.max_attempts = job_.max_attempts;
    m.priority = job_.priority;
    m.scheduled_at_us = job_.scheduled_at_us;
    m.created_at_us = job_.created_at_us;
    m.snoozes = job_.snoozes;
    try {
      send(encode(m));
      last_tick_ = Clock::now();
      for (;;) {
        std::optional<Frame> frame = lease_->channel().receive(kSlice, kMaxWorkerFrame);
        // A worker that talks without pause still gets its limits checked every slice.
        if (!frame || Clock::now() - last_tick_ >= kSlice) {
          if (auto over = tick()) throw Limit{*over};
        }
        if (!frame) continue;
        if (auto outcome = handle(*frame)) return *outcome;
      }
    } catch (const Limit& l) {
      lease_->retire(l.cause);
      return failed(l.cause);
    }
  }

  // One message of the worker; the job's outcome when it was the last one.
  std::optional<queue::Outcome> handle(const Frame& frame) {
    switch (static_cast<MessageType>(frame.type)) {
      case MessageType::exec:
        serve_exec(decode_exec(frame));
        return std::nullopt;
      case MessageType::job_log: {
        JobLog l = decode_job_log(frame);
        ctx_.log(plugin::log_level(l.level), "plugin " + name_ + ": " + pg::repair_utf8(l.message));
        return std::nullopt;
      }
      case MessageType::plugin_log: {
        PluginLog l = decode_plugin_log(frame);
        log_plugin_line(log_, name_, l);
        return std::nullopt;
      }
      case MessageType::outcome: {
        OutcomeMessage o = decode_outcome(frame);
        if (o.delay_ms && (*o.delay_ms < 0 || *o.delay_ms > plugin::kMaxDelayMs))
          throw Broken{"sent a malformed message (outcome delay " + std::to_string(*o.delay_ms) +
                       " ms out of range)"};
        plugin::HandlerReport report;
        if (o.message) report.message = pg::repair_utf8(*o.message);
        report.delay_ms = o.delay_ms;
        report.sql_error = sql_error_;
        if (auto over = lease_->finish()) return failed(*over);
        return plugin::to_outcome(o.code, report);
      }
      default:
        throw Broken{"sent a malformed message (unexpected " + type_name(frame.type) + " during a job)"};
    }
  }

  void serve_exec(const Exec& e) {
    // The worker's strings reach libpq as C strings: a NUL would cut them short silently.
    bool nul = has_nul(e.sql);
    for (const auto& p : e.params) nul = nul || (p && has_nul(*p));
    if (nul) {
      send(encode(ExecError{PGXQ_PLUGIN_E_INVALID, "exec: the statement or a parameter contains a NUL byte", ""}));
      return;
    }
    std::vector<pg::Param> params;
    params.reserve(e.params.size());
    for (const auto& p : e.params) params.push_back(p ? pg::Param(std::string_view(*p)) : pg::Param());
    pg::Result result;
    try {
      result = ctx_.exec(e.sql, std::span<const pg::Param>(params));
    } catch (const pg::Error& err) {
      // Remembered like the in-process host does: a COMPLETE after it cannot commit.
      if (!sql_error_) sql_error_ = pg::repair_utf8(err.what());
      send(encode(ExecError{PGXQ_PLUGIN_E_SQL, pg::repair_utf8(err.what()), err.sqlstate()}));
      return;
    }
    std::optional<Rows> rows = to_rows(result);
    if (!rows) {
      send(encode(ExecError{PGXQ_PLUGIN_E_INTERNAL,
                            "exec: the result is larger than a worker process can be sent (" +
                                std::to_string(kMaxDaemonFrame >> 20) + " MiB); select fewer rows",
                            ""}));
      return;
    }
    send(encode(*rows));
  }

  WorkerPool& pool_;
  const std::string& name_;
  spdlog::logger& log_;
  const queue::Job& job_;
  queue::JobContext& ctx_;
  WorkerLease* lease_ = nullptr;
  pid_t pid_ = 0;
  Clock::time_point last_tick_{};
  std::optional<std::string> sql_error_;
};

}  // namespace

queue::Handler make_remote_handler(WorkerPool& pool, std::string plugin_name, std::shared_ptr<spdlog::logger> log) {
  if (!log) log = spdlog::default_logger();
  return [&pool, name = std::move(plugin_name), log = std::move(log)](const queue::Job& job,
                                                                      queue::JobContext& ctx) -> queue::Outcome {
    RemoteCall call(pool, name, *log, job, ctx);
    return call.run();
  };
}

}  // namespace pgxq::isolation
