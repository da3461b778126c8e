// isolation/remote_handler: the queue::Handler of a kind whose plugin runs in worker processes.
// On the engine's handler thread it borrows a worker, sends it the job, serves what the
// plugin's handler asks of the host (SQL in the job's transaction through the job's context,
// logging) until the worker sends the outcome, propagates should-stop through the shared flag
// and checks the worker's limits. A worker that dies or misbehaves makes the job a failed
// attempt with the cause; nothing it sends can make the daemon fail.
#pragma once

#include <memory>
#include <string>

#include "queue/job.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::isolation {

class WorkerPool;

// `plugin_name` for log lines ("plugin <name>: ..."). The pool must outlive the handler.
// `log` gets what the plugin logs with plugin_log while the job runs (the daemon's logger, as
// for an in-process plugin); null: spdlog's default logger.
queue::Handler make_remote_handler(WorkerPool& pool, std::string plugin_name,
                                   std::shared_ptr<spdlog::logger> log = nullptr);

}  // namespace pgxq::isolation
