// isolation/worker_host: the host function table inside a worker process. It is the daemon's
// own table (plugin/host_api) with the functions that need the daemon replaced by round trips
// over the channel: exec and the rows it returns, the job's log and plugin_log. Everything else
// is the daemon's code, run here on local data: config_* on the settings of Setup (type errors
// name the setting's file and line from Setup.setting_lines), the job accessors on the Job
// message, set_message / set_delay_ms (sent with the outcome), should_stop on the shared stop
// flag, last_error / last_sqlstate per thread.
//
// A C function pointer carries no context, so the table's functions find the host through one
// pointer per process: a worker process serves exactly one plugin, so there is one WorkerHost.
#pragma once

#include <pgxq/plugin.h>

#include <memory>
#include <mutex>
#include <string>

#include "isolation/protocol.hpp"
#include "plugin/host_api.hpp"

namespace pgxq::isolation {

class WorkerHost {
public:
  // `channel` and `shared` must outlive the host. Messages below `log_level` (PGXQ_LOG_*) are
  // not sent. Only one WorkerHost may exist at a time.
  WorkerHost(Channel& channel, const SharedState* shared, int log_level);
  ~WorkerHost();
  WorkerHost(const WorkerHost&) = delete;
  WorkerHost& operator=(const WorkerHost&) = delete;

  // The table handed to the plugin's init, handlers and shutdown; lives as long as the host.
  const pgxq_plugin_host* table() const noexcept { return &table_; }

  // Sends one frame to the daemon; any thread (the plugin's own threads log at any time), one
  // writer at a time. Throws ChannelClosed.
  void send(const Frame& frame);

  // Sends an Exec and waits for its Rows or ExecError; one exec at a time. Exits the process
  // when the daemon is gone (ChannelClosed: it gave up on this worker) or sends anything else
  // (ProtocolError): nothing the plugin could do would reach the daemon any more.
  Frame exec_round_trip(const Exec& exec);

  // Calls `fn` for `job` on the calling thread, as the daemon's make_handler does, and returns
  // what to send back: the code, set_message and set_delay_ms. An exception escaping the
  // handler becomes a PANIC outcome with its text, like the engine's.
  OutcomeMessage run_job(const JobMessage& job, const pgxq_plugin* plugin, pgxq_plugin_handler_fn fn,
                         void* user_data);

  bool should_stop() const noexcept;
  // Whether a message at `level` (PGXQ_LOG_*, unknown levels count as errors) is sent.
  bool wanted(int level) const noexcept;

private:
  Channel& channel_;
  const SharedState* shared_;
  int log_level_;
  std::mutex write_mutex_;  // one frame at a time on the socket
  std::mutex exec_mutex_;   // one round trip at a time: replies come in request order
  pgxq_plugin_host table_{};
};

// The exit statuses of a worker process besides 0 (Shutdown, EOF): the daemon reports them as
// "worker process exited with status N".
inline constexpr int kExitInitFailed = 78;   // InitFailed was sent
inline constexpr int kExitBroken = 70;       // the daemon sent something this worker cannot use
inline constexpr int kExitOrphaned = 71;     // started by a process that is not its parent any more

}  // namespace pgxq::isolation
