// config/config: the pgxqd TOML file turned into one immutable, validated Config. Every problem
// found is reported with the file, line, column and key, and what was expected; all problems
// of a file are reported at once. Also maps a Config onto the engine's and the loader's options.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "plugin/loader.hpp"
#include "queue/engine.hpp"
#include "queue/retry_policy.hpp"

namespace pgxq::config {

inline constexpr const char* kDefaultConfigPath = "/etc/pgxqd/pgxqd.toml";

// Where something is in the file (1-based; 0 when not from the file, e.g. a default).
struct Position {
  int line = 0;
  int column = 0;
};

// One problem: "<file>:<line>:<column>: <key>: <message>".
struct Problem {
  std::string file;
  Position pos;
  std::string key;  // dotted, e.g. "worker.poll_interval"; empty for file-level problems
  std::string message;
  std::string str() const;
};

class ConfigError : public std::runtime_error {
public:
  explicit ConfigError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const noexcept { return problems_; }

private:
  std::vector<Problem> problems_;
};

enum class LogLevel { trace, debug, info, warn, error, critical };
enum class LogFormat { automatic, text, json };

const char* to_string(LogLevel level) noexcept;
const char* to_string(LogFormat format) noexcept;

// Defaults are the engine's own (go-pgxq's where go-pgxq has the setting): one place to change.
struct DatabaseConfig {
  std::string url;  // empty: PGXQD_DATABASE_URL / libpq defaults (resolved by the app)
  int pool_size = queue::EngineOptions{}.pool_size;
};

struct WorkerConfig {
  std::string table = queue::EngineOptions{}.table;
  std::chrono::milliseconds poll_interval = queue::EngineOptions{}.poll_interval;
  int batch_size = queue::EngineOptions{}.batch_size;
  int max_workers = queue::EngineOptions{}.max_workers;
  std::chrono::milliseconds rescue_after = queue::EngineOptions{}.rescue_after;
  std::chrono::milliseconds shutdown_timeout = queue::EngineOptions{}.shutdown_timeout;
  std::chrono::milliseconds cancel_grace = queue::EngineOptions{}.cancel_grace;
};

struct QueueConfig {
  std::string name;
  int max_workers = 0;  // 0: worker.max_workers
  std::string table;    // empty: worker.table
  Position pos;
};

struct PluginSettings {
  toml::table table;
  Position pos;
};

struct PluginsConfig {
  std::string dir;  // absolute, or relative to the config file's directory (resolved at load)
  std::map<std::string, PluginSettings> settings;  // [plugins.<name>]
};

struct LogConfig {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::automatic;
};

struct Config {
  std::string path;  // the file it came from; empty for built-in defaults
  DatabaseConfig database;
  WorkerConfig worker;
  queue::BackoffPolicy backoff;
  std::vector<QueueConfig> queues;  // never empty after loading: default is one queue "default"
  PluginsConfig plugins;
  LogConfig log;

  // Where a key was set ("worker.poll_interval"), for messages about values that are valid
  // TOML but turn out wrong later (e.g. a plugin settings table for a plugin not loaded).
  std::map<std::string, Position, std::less<>> positions;
  std::string where(std::string_view key) const;  // "<file>:<line>:<col>" or "<file>"
};

// Reads and validates a file. Throws ConfigError (missing or unreadable file included).
std::shared_ptr<const Config> load_file(const std::string& path);
// Validates TOML text; `source` names it in messages. Throws ConfigError.
std::shared_ptr<const Config> load_string(std::string_view text, const std::string& source);
// The built-in defaults (no file): one queue "default", plugin dir PGXQ_DEFAULT_PLUGIN_DIR.
std::shared_ptr<const Config> defaults();

// Engine options for this config with the given connection string.
queue::EngineOptions engine_options(const Config& config, const std::string& conninfo);

// Loader options for this config: its plugin dir and [plugins.<name>] tables.
plugin::LoaderOptions loader_options(const Config& config, std::shared_ptr<spdlog::logger> log);

// The closest candidate within a small edit distance, or "" (for "did you mean").
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace pgxq::config
