// app/options: the one place where config values meet the engine and the loader. The engine's
// own defaults become the config's values for keys a file leaves out, and a Config becomes the
// engine's and the loader's options.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugin/loader.hpp"
#include "queue/engine.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::app {

// queue::EngineOptions{}'s values, as the config's defaults.
config::Defaults config_defaults();

// Engine options for this config with the given connection string.
queue::EngineOptions engine_options(const config::Config& config, const std::string& conninfo);

// The config's [[periodic]] entries with their schedules. Throws config::ConfigError naming
// file, line and key for a cron expression or time zone that queue/cron refuses (the config
// reader checks everything else).
std::vector<queue::PeriodicEntry> periodic_entries(const config::Config& config);

// Loader options for this config: its plugin dir and [plugins.<name>] tables, and for the
// plugins with isolation = "process" a starter of their worker pools (of at most
// `max_processes` workers each when > 0: check-config starts one).
plugin::LoaderOptions loader_options(const config::Config& config, std::shared_ptr<spdlog::logger> log,
                                     int max_processes = 0);

}  // namespace pgxq::app
