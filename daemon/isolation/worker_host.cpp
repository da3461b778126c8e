// isolation/worker_host: see worker_host.hpp.
#include "isolation/worker_host.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "pg/error.hpp"
#include "pg/utf8.hpp"
#include "queue/job.hpp"

// The rows of one exec in a worker process, handed to the plugin as the ABI's opaque
// pgxq_plugin_rows (a distinct type: the daemon's rows wrap a PGresult). Cast there and back.
namespace {

struct WorkerRows {
  pgxq::isolation::Rows rows;
  struct WorkerContext* owner = nullptr;
};

pgxq::isolation::WorkerHost* g_host = nullptr;  // the one host of this process

using pgxq::plugin::set_last_error;
using pgxq::plugin::set_last_error_internal;

// The job's context in a worker process: should_stop reads the shared flag; log sends a JobLog.
// exec is never called through it (the table's exec is this file's), but must exist.
struct WorkerContext final : pgxq::queue::JobContext {
  explicit WorkerContext(pgxq::isolation::WorkerHost& h) : host(h) {}
  ~WorkerContext() override {
    for (auto* r : open_rows) delete r;
  }

  pgxq::pg::Result exec(std::string_view, std::span<const pgxq::pg::Param>) override {
    throw pgxq::pg::Error("exec is not available through the job context in a worker process");
  }
  bool should_stop() const noexcept override { return host.should_stop(); }
  void log(pgxq::queue::LogLevel level, std::string_view message) override {
    int l = PGXQ_LOG_ERROR;
    switch (level) {
      case spdlog::level::trace: l = PGXQ_LOG_TRACE; break;
      case spdlog::level::debug: l = PGXQ_LOG_DEBUG; break;
      case spdlog::level::info: l = PGXQ_LOG_INFO; break;
      case spdlog::level::warn: l = PGXQ_LOG_WARN; break;
      default: break;
    }
    if (host.wanted(l)) host.send(pgxq::isolation::encode(pgxq::isolation::JobLog{l, std::string(message)}));
  }

  pgxq::isolation::WorkerHost& host;
  std::vector<WorkerRows*> open_rows;  // freed at the end of the call if the plugin did not
};

WorkerContext* context_of(pgxq_plugin_job* j) noexcept { return j ? dynamic_cast<WorkerContext*>(&j->ctx) : nullptr; }

WorkerRows* rows_of(pgxq_plugin_rows* r) noexcept { return reinterpret_cast<WorkerRows*>(r); }
const WorkerRows* rows_of(const pgxq_plugin_rows* r) noexcept { return reinterpret_cast<const WorkerRows*>(r); }

int normal_level(int level) noexcept { return level >= PGXQ_LOG_TRACE && level <= PGXQ_LOG_ERROR ? level : PGXQ_LOG_ERROR; }

std::string text_or_none(const char* message) {
  return message ? pgxq::pg::repair_utf8(message) : std::string(pgxq::plugin::kNoMessage);
}

// ---- the functions that differ from the daemon's table ----

void worker_plugin_log(pgxq_plugin* plugin, int level, const char* message) noexcept {
  try {
    if (!plugin || !g_host) return;
    level = normal_level(level);
    if (!g_host->wanted(level)) return;
    g_host->send(pgxq::isolation::encode(pgxq::isolation::PluginLog{level, text_or_none(message)}));
  } catch (...) {
    // The daemon is gone (the main thread sees it too) or memory ran out: a log line is lost.
  }
}

void worker_log(pgxq_plugin_job* j, int level, const char* message) noexcept {
  try {
    auto* ctx = context_of(j);
    if (!ctx) return;
    level = normal_level(level);
    if (!ctx->host.wanted(level)) return;
    ctx->host.send(pgxq::isolation::encode(pgxq::isolation::JobLog{level, text_or_none(message)}));
  } catch (...) {
  }
}

int worker_exec(pgxq_plugin_job* j, const char* sql, int nparams, const char* const* params, pgxq_plugin_rows** out) noexcept {
  if (out) *out = nullptr;
  try {
    auto* ctx = context_of(j);
    if (!ctx || !sql) return set_last_error(PGXQ_PLUGIN_E_INVALID, "exec: job and sql must not be NULL");
    if (nparams < 0 || (nparams > 0 && !params))
      return set_last_error(PGXQ_PLUGIN_E_INVALID, "exec: nparams must be >= 0, and params not NULL when nparams > 0");
    pgxq::isolation::Exec request;
    request.sql = sql;
    request.params.reserve(static_cast<size_t>(nparams));
    for (int i = 0; i < nparams; ++i)
      request.params.push_back(params[i] ? std::optional<std::string>(params[i]) : std::nullopt);
    pgxq::isolation::Frame reply = ctx->host.exec_round_trip(request);
    if (reply.type == static_cast<uint16_t>(pgxq::isolation::MessageType::exec_error)) {
      auto e = pgxq::isolation::decode_exec_error(reply);
      int code = e.code;
      if (code >= 0 || code < PGXQ_PLUGIN_E_INTERNAL) code = PGXQ_PLUGIN_E_INTERNAL;
      return set_last_error(code, e.message, e.sqlstate);
    }
    auto rows = std::make_unique<WorkerRows>();
    rows->rows = pgxq::isolation::decode_rows(reply);
    const size_t columns = rows->rows.columns.size();
    if (rows->rows.row_count < 0 || rows->rows.cells.size() != columns * static_cast<size_t>(rows->rows.row_count))
      throw pgxq::isolation::ProtocolError("rows: " + std::to_string(rows->rows.cells.size()) + " cells for " +
                                           std::to_string(rows->rows.row_count) + " rows of " +
                                           std::to_string(columns) + " columns");
    if (out) {
      rows->owner = ctx;
      ctx->open_rows.push_back(rows.get());
      *out = reinterpret_cast<pgxq_plugin_rows*>(rows.release());
    }
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return set_last_error_internal("exec");
  }
}

bool in_range(const WorkerRows* r, int row, int col) noexcept {
  return r && row >= 0 && col >= 0 && row < r->rows.row_count && static_cast<size_t>(col) < r->rows.columns.size();
}

const std::optional<std::string>& cell(const WorkerRows* r, int row, int col) noexcept {
  return r->rows.cells[static_cast<size_t>(row) * r->rows.columns.size() + static_cast<size_t>(col)];
}

int worker_rows_count(const pgxq_plugin_rows* r) noexcept { return r ? rows_of(r)->rows.row_count : 0; }
int worker_rows_columns(const pgxq_plugin_rows* r) noexcept { return r ? static_cast<int>(rows_of(r)->rows.columns.size()) : 0; }
const char* worker_rows_value(const pgxq_plugin_rows* r, int row, int col) noexcept {
  const WorkerRows* w = rows_of(r);
  if (!in_range(w, row, col)) {
    set_last_error(PGXQ_PLUGIN_E_INVALID, "rows_value: row or column out of range");
    return nullptr;
  }
  const auto& c = cell(w, row, col);
  return c ? c->c_str() : "";
}
size_t worker_rows_length(const pgxq_plugin_rows* r, int row, int col) noexcept {
  const WorkerRows* w = rows_of(r);
  if (!in_range(w, row, col)) return 0;
  const auto& c = cell(w, row, col);
  return c ? c->size() : 0;
}
int worker_rows_is_null(const pgxq_plugin_rows* r, int row, int col) noexcept {
  const WorkerRows* w = rows_of(r);
  return in_range(w, row, col) ? (cell(w, row, col) ? 0 : 1) : -1;
}
const char* worker_rows_column_name(const pgxq_plugin_rows* r, int col) noexcept {
  const WorkerRows* w = rows_of(r);
  if (!w || col < 0 || static_cast<size_t>(col) >= w->rows.columns.size()) return nullptr;
  return w->rows.columns[static_cast<size_t>(col)].c_str();
}
int64_t worker_rows_affected(const pgxq_plugin_rows* r) noexcept { return r ? rows_of(r)->rows.affected : 0; }
void worker_rows_free(pgxq_plugin_rows* r) noexcept {
  WorkerRows* w = rows_of(r);
  if (!w) return;
  if (auto* owner = w->owner) {
    auto& open = owner->open_rows;
    open.erase(std::remove(open.begin(), open.end(), w), open.end());
  }
  delete w;
}

[[noreturn]] void give_up(const char* why) noexcept {
  // The daemon has retired this worker (EOF) or spoke nonsense: nothing more can reach it.
  if (why) std::fprintf(stderr, "pgxqd plugin worker %d: %s\n", static_cast<int>(::getpid()), why);
  ::_exit(why ? pgxq::isolation::kExitBroken : 0);
}

}  // namespace

namespace pgxq::isolation {

WorkerHost::WorkerHost(Channel& channel, const SharedState* shared, int log_level)
    : channel_(channel), shared_(shared), log_level_(log_level) {
  if (g_host) throw std::logic_error("a worker process has one WorkerHost");
  table_ = *plugin::host_table();
  table_.plugin_log = worker_plugin_log;
  table_.exec = worker_exec;
  table_.rows_count = worker_rows_count;
  table_.rows_columns = worker_rows_columns;
  table_.rows_value = worker_rows_value;
  table_.rows_length = worker_rows_length;
  table_.rows_is_null = worker_rows_is_null;
  table_.rows_column_name = worker_rows_column_name;
  table_.rows_affected = worker_rows_affected;
  table_.rows_free = worker_rows_free;
  table_.log = worker_log;
  g_host = this;
}

WorkerHost::~WorkerHost() { g_host = nullptr; }

void WorkerHost::send(const Frame& frame) {
  std::lock_guard lock(write_mutex_);
  channel_.send(frame);
}

bool WorkerHost::should_stop() const noexcept {
  return shared_ && shared_->stop.load(std::memory_order_relaxed) != 0;
}

bool WorkerHost::wanted(int level) const noexcept { return normal_level(level) >= log_level_; }

Frame WorkerHost::exec_round_trip(const Exec& exec) {
  std::lock_guard lock(exec_mutex_);
  try {
    send(encode(exec));
    for (;;) {
      std::optional<Frame> reply = channel_.receive(std::chrono::milliseconds(-1), kMaxDaemonFrame);
      if (!reply) continue;
      if (reply->type == static_cast<uint16_t>(MessageType::rows) ||
          reply->type == static_cast<uint16_t>(MessageType::exec_error))
        return std::move(*reply);
      give_up(("the daemon answered an exec with " + type_name(reply->type)).c_str());
    }
  } catch (const ChannelClosed&) {
    give_up(nullptr);
  } catch (const ProtocolError& e) {
    give_up((std::string("the daemon sent a malformed message: ") + e.what()).c_str());
  }
}

OutcomeMessage WorkerHost::run_job(const JobMessage& m, const pgxq_plugin* plugin, pgxq_plugin_handler_fn fn,
                                   void* user_data) {
  queue::Job job;
  job.id = m.id;
  job.kind = m.kind;
  job.queue = m.queue;
  job.args = m.args;
  job.attempt = m.attempt;
  job.max_attempts = m.max_attempts;
  job.priority = m.priority;
  job.scheduled_at_us = m.scheduled_at_us;
  job.created_at_us = m.created_at_us;
  job.snoozes = m.snoozes;
  WorkerContext ctx(*this);
  OutcomeMessage out;
  {
    pgxq_plugin_job cjob(job, ctx, plugin);
    try {
      out.code = fn(&table_, &cjob, user_data);
      out.message = cjob.message;
      out.delay_ms = cjob.delay_ms;
    } catch (const std::exception& e) {
      out = {PGXQ_OUTCOME_PANIC, pg::repair_utf8(e.what()), std::nullopt};
    } catch (...) {
      out = {PGXQ_OUTCOME_PANIC, std::string("unknown exception"), std::nullopt};
    }
  }
  return out;
}

}  // namespace pgxq::isolation
