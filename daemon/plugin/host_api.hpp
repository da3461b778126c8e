// plugin/host_api: the host side of the plugin ABI — the constant function table handed to
// every plugin, the host's definitions of the opaque handles (one loaded plugin, one job being
// handled, one rows object), and the adapter that turns a registered C handler into a
// queue::Handler. No C++ exception crosses into a plugin: every table function catches at the
// boundary and reports through its return code and the calling thread's last_error().
#pragma once

#include <pgxq/plugin.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "queue/job.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::plugin {
class Registry;
}

// One loaded plugin (the ABI's opaque pgxq_plugin). Owned by LoadedPlugins; stable address.
struct pgxq_plugin {
  std::string name;
  std::string version;
  std::string path;
  const pgxq_plugin_descriptor* descriptor = nullptr;
  toml::table settings;  // its [plugins.<name>] table; never changes after load
  // Set when `settings` was re-read from text (a worker process: isolation/worker_main), whose
  // nodes no longer know where they were written: type errors then name settings_file and the
  // key's line from setting_lines ("key.path" -> line), or no place when the key is not there.
  bool settings_reread = false;
  std::string settings_file;
  std::map<std::string, uint32_t, std::less<>> setting_lines;
  std::shared_ptr<spdlog::logger> log;
  pgxq::plugin::Registry* registry = nullptr;  // only while init runs

  bool initialising = false;               // register_handler / set_init_error allowed
  std::optional<std::string> init_error;   // from set_init_error
  std::vector<std::string> kinds;          // registered by this plugin, in order
  std::vector<std::string> conflicts;      // kinds another plugin already owned: messages
};

// One job being handled (the ABI's opaque pgxq_plugin_job). Lives on the worker's stack for
// the duration of one handler call.
struct pgxq_plugin_job {
  pgxq_plugin_job(const pgxq::queue::Job& j, pgxq::queue::JobContext& c, const pgxq_plugin* p) noexcept
      : job(j), ctx(c), plugin(p) {}
  ~pgxq_plugin_job();

  const pgxq::queue::Job& job;
  pgxq::queue::JobContext& ctx;
  const pgxq_plugin* plugin;
  std::optional<std::string> message;      // set_message, already UTF-8-repaired
  std::optional<int64_t> delay_ms;         // set_delay_ms
  std::optional<std::string> sql_error;    // first failed exec: the transaction is aborted
  std::vector<pgxq_plugin_rows*> open_rows;  // freed at the end of the call if the plugin did not
};

namespace pgxq::plugin {

// The table handed to init, shutdown and handlers; constant, lives as long as the process.
const pgxq_plugin_host* host_table() noexcept;

// A queue::Handler calling `fn` for `plugin`; safe to call concurrently.
queue::Handler make_handler(const pgxq_plugin* plugin, pgxq_plugin_handler_fn fn, void* user_data);

// What a handler left besides its return code: set on its job in this process, or sent with
// the outcome by a worker process (isolation/remote_handler).
struct HandlerReport {
  std::optional<std::string> message;    // set_message, valid UTF-8
  std::optional<int64_t> delay_ms;       // set_delay_ms, 0 .. kMaxDelayMs
  std::optional<std::string> sql_error;  // the first failed exec: the transaction is aborted
};

// Maps what a C handler returned (and what it set on `job`) to an engine outcome.
queue::Outcome to_outcome(int code, const HandlerReport& report);
queue::Outcome to_outcome(int code, const pgxq_plugin_job& job);

// ---- for host tables built on host_table() (a worker process's: isolation/worker_host) ----

// What a missing message is logged and recorded as.
inline constexpr std::string_view kNoMessage = "(no message)";
// The longest delay set_delay_ms accepts: 31 days.
inline constexpr int64_t kMaxDelayMs = int64_t{31} * 24 * 3600 * 1000;

// Records the calling thread's last error (last_error / last_sqlstate; the message is
// UTF-8-repaired) and returns `code`.
int set_last_error(int code, std::string_view message, std::string_view sqlstate = {}) noexcept;
// Inside a catch block: records the exception being handled as E_INTERNAL from `where`.
int set_last_error_internal(const char* where) noexcept;

// The plugin ABI's PGXQ_LOG_* as the daemon's levels (an unknown level is an error).
spdlog::level::level_enum log_level(int pgxq_log_level) noexcept;

}  // namespace pgxq::plugin
