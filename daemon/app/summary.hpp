// app/summary: the human-readable one-liners: the start-up summary (version, database with the
// password masked, table, queues, kinds with their plugins) and the systemd STATUS= line.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugin/loader.hpp"
#include "queue/engine.hpp"

namespace pgxq::app {

std::string startup_summary(const config::Config& config, const std::string& conninfo,
                            const std::vector<plugin::PluginInfo>& plugins);

std::string status_line(const std::vector<queue::QueueStats>& stats);

}  // namespace pgxq::app
