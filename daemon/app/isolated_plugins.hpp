// app/isolated_plugins: what a plugin with isolation = "process" becomes — the loader's
// starter, mapping its [plugins.<name>] table onto a worker pool (isolation/worker_pool) whose
// kinds are served by remote handlers (isolation/remote_handler).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "isolation/protocol.hpp"
#include "plugin/loader.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::app {

// The default `processes`: min(max_workers, max(16, 4 × cpus)) — a worker per handler thread that
// can use one, up to what keeps handlers that wait on the database or the network busy on a small
// machine (16 workers of ~11 MB each), or 4 per CPU on a larger one.
int default_processes(int max_workers, unsigned cpus);

// The worker processes plugin settings `s` get on this machine: its `processes`, or the default.
int plugin_processes(const config::Config& config, const config::PluginSettings& s);

// The Setup a worker of plugin `name` gets: its settings without the host's keys, the config
// file, where each setting was written, and the log level (levels below it are not sent).
isolation::Setup worker_setup(const config::Config& config, const std::string& name, const std::string& path,
                              const toml::table& settings);

// The loader's starter for this config's isolated plugins. `executable` is what a worker runs
// (pgxqd itself, resolved once at start); `max_processes` > 0 caps each pool (check-config
// starts one worker per plugin).
plugin::StartIsolated isolated_starter(std::shared_ptr<const config::Config> config, std::string executable,
                                       std::shared_ptr<spdlog::logger> log, int max_processes = 0);

// The names of this config's plugins with isolation = "process".
std::vector<std::string> isolated_names(const config::Config& config);

// "/proc/self/exe" resolved to the running pgxqd's path (the link itself when that fails).
std::string own_executable();

}  // namespace pgxq::app
