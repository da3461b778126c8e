// app/logging: see logging.hpp.
#include "app/logging.hpp"

#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "pg/one_line.hpp"
#include "pg/utf8.hpp"

namespace pgxq::app {

namespace {

// Every log level, once: the config's (and the operator's) name for it, spdlog's level, which
// every part logs at (the plugin ABI's PGXQ_LOG_* are mapped onto spdlog's in plugin/host_api),
// and the syslog(3) priority journald reads from a "<N>" line prefix (sd-daemon(3)).
struct LevelRow {
  config::LogLevel config;
  spdlog::level::level_enum runtime;
  int syslog_priority;
};
constexpr LevelRow kLevels[] = {
    {config::LogLevel::trace, spdlog::level::trace, 7}, {config::LogLevel::debug, spdlog::level::debug, 7},
    {config::LogLevel::info, spdlog::level::info, 6},   {config::LogLevel::warn, spdlog::level::warn, 4},
    {config::LogLevel::error, spdlog::level::err, 3},   {config::LogLevel::critical, spdlog::level::critical, 2},
};
constexpr const LevelRow& kInfo = kLevels[2];

const LevelRow& row_of(config::LogLevel level) {
  for (const auto& r : kLevels)
    if (r.config == level) return r;
  return kInfo;
}

const LevelRow& row_of(spdlog::level::level_enum level) {
  for (const auto& r : kLevels)
    if (r.runtime == level) return r;
  return kInfo;
}

int syslog_priority(spdlog::level::level_enum level) { return row_of(level).syslog_priority; }

class PriorityFlag : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    char buf[4] = {'<', static_cast<char>('0' + syslog_priority(msg.level)), '>', 0};
    dest.append(buf, buf + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PriorityFlag>(); }
};

const char* level_name(spdlog::level::level_enum level) { return config::to_string(row_of(level).config); }

// Appends `s` as the inside of a JSON string. Bytes that are not well-formed UTF-8 (by pg/utf8's
// rules, the ones PostgreSQL applies) become U+FFFD, so every line stays valid JSON whatever a
// handler put into an error message.
void append_json_escaped(spdlog::memory_buf_t& dest, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            dest.append(u, u + 6);
          } else {
            dest.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t len = pg::utf8_sequence_length(s, i);
    if (len != 0) {
      dest.append(s.data() + i, s.data() + i + len);
      i += len;
    } else {
      dest.append(std::string_view("\xef\xbf\xbd"));
      ++i;
    }
  }
}

// One JSON object per line: {"time":"...Z","level":"info","msg":"..."}.
class JsonFormatter : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto t = std::chrono::system_clock::to_time_t(msg.time);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[40];
    size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms));
    dest.append(std::string_view("{\"time\":\""));
    dest.append(std::string_view(ts));
    dest.append(std::string_view("\",\"level\":\""));
    dest.append(std::string_view(level_name(msg.level)));
    dest.append(std::string_view("\",\"msg\":\""));
    append_json_escaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(std::string_view("\"}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// Formats with `inner` after making the message one line (pg/one_line): a job's args, a
// handler's message or a server error can hold CR/LF, and the line after one would be taken
// for a line of pgxqd's own, or, under journald, for one with the "<N>" priority it starts with.
class OneLineFormatter : public spdlog::formatter {
public:
  explicit OneLineFormatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!pg::needs_one_line(payload)) return inner_->format(msg, dest);
    const std::string safe = pg::one_line(payload);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(safe.data(), safe.size());
    inner_->format(copy, dest);
    // The colour sink reads the range the pattern marked (%^...%$) from the message it passed.
    msg.color_range_start = copy.color_range_start;
    msg.color_range_end = copy.color_range_end;
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<OneLineFormatter>(inner_->clone());
  }

private:
  std::unique_ptr<spdlog::formatter> inner_;
};

std::unique_ptr<spdlog::formatter> one_line_pattern(const std::string& pattern) {
  return std::make_unique<OneLineFormatter>(std::make_unique<spdlog::pattern_formatter>(pattern));
}

}  // namespace

LogStyle resolve_style(config::LogFormat format) {
  switch (format) {
    case config::LogFormat::json: return LogStyle::json;
    case config::LogFormat::text: return isatty(STDERR_FILENO) ? LogStyle::terminal : LogStyle::plain;
    case config::LogFormat::automatic: break;
  }
  const char* js = std::getenv("JOURNAL_STREAM");
  bool tty = isatty(STDERR_FILENO) != 0;
  if (js && *js && !tty) return LogStyle::journal;
  return tty ? LogStyle::terminal : LogStyle::plain;
}

std::shared_ptr<spdlog::logger> make_logger(LogStyle style, config::LogLevel level) {
  std::shared_ptr<spdlog::logger> log;
  if (style == LogStyle::terminal) {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::always);
    log = std::make_shared<spdlog::logger>("pgxqd", std::move(sink));
    log->set_formatter(one_line_pattern("%Y-%m-%d %H:%M:%S.%e %^%-8l%$ %v"));
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    log = std::make_shared<spdlog::logger>("pgxqd", std::move(sink));
    if (style == LogStyle::json) {
      log->set_formatter(std::make_unique<JsonFormatter>());
    } else if (style == LogStyle::journal) {
      // journald adds its own timestamps; the priority prefix sets the entry's level.
      auto f = std::make_unique<spdlog::pattern_formatter>();
      f->add_flag<PriorityFlag>('*').set_pattern("%*%v");
      log->set_formatter(std::make_unique<OneLineFormatter>(std::move(f)));
    } else {
      log->set_formatter(one_line_pattern("%Y-%m-%d %H:%M:%S.%e %-8l %v"));
    }
  }
  set_level(*log, level);
  // Warnings and errors reach the file or journal at once, even if the process dies right after.
  log->flush_on(spdlog::level::trace);
  return log;
}

void set_level(spdlog::logger& log, config::LogLevel level) { log.set_level(row_of(level).runtime); }

}  // namespace pgxq::app
