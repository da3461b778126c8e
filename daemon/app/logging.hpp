// app/logging: builds the one logger the daemon passes to every part (engine, loader): human
// text on a terminal, journald-style lines ("<N>" priority prefix, no timestamp) under systemd,
// or JSON lines on request. Every message stays on its one line, whatever text from jobs,
// handlers or the server it holds (line breaks and control bytes are escaped visibly, see
// pg/one_line). Nothing here touches spdlog's global default logger.
#pragma once

#include <memory>

#include "config/config.hpp"

namespace spdlog {
class logger;
}

namespace pgxq::app {

enum class LogStyle { terminal, plain, journal, json };

// The style "auto" resolves to for this process: journal when JOURNAL_STREAM is set and stderr
// is not a terminal, terminal (colours) on a tty, plain text otherwise.
LogStyle resolve_style(config::LogFormat format);

// A logger writing to stderr in `style` at `level`.
std::shared_ptr<spdlog::logger> make_logger(LogStyle style, config::LogLevel level);

void set_level(spdlog::logger& log, config::LogLevel level);

}  // namespace pgxq::app
