// queue/job: what the engine hands a handler — the claimed job, a context giving lazy access to
// the job's transaction, and the outcome a handler returns. The plugin layer adapts the C ABI
// to this; the engine knows nothing about plugins.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <spdlog/common.h>

#include "pg/connection.hpp"

namespace pgxq::queue {

struct Job {
  int64_t id = 0;
  std::string kind;
  std::string queue;
  std::string args;  // JSON text, as stored
  // Set instead of `args` when they are longer than EngineOptions::max_args_bytes: their length.
  std::optional<int64_t> withheld_args_bytes;
  int attempt = 0;   // already incremented by the claim: 1 on the first run
  int max_attempts = 0;
  int priority = 0;
  int64_t scheduled_at_us = 0;  // microseconds since the Unix epoch
  int64_t created_at_us = 0;
  // Set by the claim (clock_timestamp()): unique per claim of the job, so every write of its
  // outcome is guarded by it (see TableSql).
  int64_t attempted_at_us = 0;
  // How often the job was snoozed before this run (schema v7's snoozes column; 0 on a table
  // without it, see TableSql::snoozes_column).
  int snoozes = 0;
};

// Handlers log at spdlog's levels, like every other part of the daemon.
using LogLevel = spdlog::level::level_enum;

// Given to a handler for the duration of one call. Used from the handler's thread only.
class JobContext {
public:
  virtual ~JobContext() = default;
  // Runs parameterised SQL in the job's transaction, opening it (and taking a pooled
  // connection) on first use. Throws pg::Error; after an error the transaction is aborted and
  // the job cannot complete.
  virtual pg::Result exec(std::string_view sql, std::span<const pg::Param> params) = 0;
  // True once the engine wants the handler to stop (shutdown timeout reached).
  virtual bool should_stop() const noexcept = 0;
  // Logs one line with the job's id, kind and queue attached.
  virtual void log(LogLevel level, std::string_view message) = 0;
};

// complete: success. retry: failed, try again (after `delay` or the backoff). discard: give up,
// recorded as "discard: <message>". panic: the handler blew up (C++ exception through the SDK
// wrapper), discarded and recorded as "panic: <message>". snooze: run again after `delay`
// without using up an attempt. error: the host could not make sense of the handler's answer
// (e.g. an unknown outcome code) — handled like retry.
enum class OutcomeCode { complete, retry, discard, panic, snooze, error };

struct Outcome {
  OutcomeCode code = OutcomeCode::complete;
  std::string message;                              // error text for retry / discard / error
  std::optional<std::chrono::milliseconds> delay;   // retry or snooze delay chosen by the handler

  static Outcome complete() { return {}; }
  static Outcome retry(std::string msg, std::optional<std::chrono::milliseconds> d = {}) {
    return {OutcomeCode::retry, std::move(msg), d};
  }
  static Outcome discard(std::string msg) { return {OutcomeCode::discard, std::move(msg), {}}; }
  static Outcome error(std::string msg) { return {OutcomeCode::error, std::move(msg), {}}; }
  static Outcome panic(std::string msg) { return {OutcomeCode::panic, std::move(msg), {}}; }
  static Outcome snooze(std::chrono::milliseconds d) { return {OutcomeCode::snooze, {}, d}; }
};

// A handler is called concurrently from worker threads. It reports failures through the
// outcome; an exception escaping it is treated as a panic (Outcome::panic(what)).
using Handler = std::function<Outcome(const Job&, JobContext&)>;
using HandlerMap = std::map<std::string, Handler, std::less<>>;  // kind -> handler

}  // namespace pgxq::queue
