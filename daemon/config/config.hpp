// config/config: the pgxqd TOML file turned into one immutable, validated Config of plain data.
// Every problem found is reported with the file, line, column and key, and what was expected;
// all problems of a file are reported at once. Config knows nothing of the engine, the loader or
// the database: the app supplies the values of keys a file leaves out (the engine's defaults)
// and maps a Config onto the engine's and the loader's options.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace pgxq::config {

inline constexpr const char* kDefaultConfigPath = "/etc/pgxqd/pgxqd.toml";
// Where the install puts the annotated example (the top-level CMakeLists.txt's install rule).
inline constexpr const char* kExampleConfigPath = "/etc/pgxqd/pgxqd.toml.example";

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

// The level's name in the config and in JSON log lines ("warning" for warn; "warn" is read too).
const char* to_string(LogLevel level) noexcept;
const char* to_string(LogFormat format) noexcept;

// The values below are whatever the file says, else the Defaults the loader was given.
// How long pgxqd's own connections and statements may take; zero is "no limit" (for
// keepalives_idle and tcp_user_timeout: the kernel's defaults). A connection string's own
// connect_timeout=, keepalives*= or tcp_user_timeout= wins over these.
struct DatabaseTimeouts {
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds keepalives_idle{0};      // whole seconds
  std::chrono::milliseconds keepalives_interval{0};  // whole seconds
  int keepalives_count = 0;
  std::chrono::milliseconds tcp_user_timeout{0};
  std::chrono::milliseconds statement_timeout{0};  // pgxqd's own statements, not handlers'
  std::chrono::milliseconds lock_timeout{0};       // pgxqd's own statements, not handlers'
  std::chrono::milliseconds acquire_timeout{0};    // a handler's wait for a pooled connection
};

struct DatabaseConfig {
  std::string url;  // empty: PGXQD_DATABASE_URL / libpq defaults (resolved by the app)
  int pool_size = 0;
  DatabaseTimeouts timeouts;
};

struct WorkerConfig {
  std::string table;
  std::chrono::milliseconds poll_interval{0};
  int batch_size = 0;
  int max_workers = 0;
  std::chrono::milliseconds rescue_after{0};
  std::chrono::milliseconds shutdown_timeout{0};
  std::chrono::milliseconds cancel_grace{0};
  std::chrono::milliseconds handler_statement_timeout{0};  // zero: the server's setting
  int max_args_bytes = 0;
  int max_snoozes = 0;  // 0: no bound
  // How long a job's handler may run before should_stop tells it to stop and the attempt counts
  // as failed ("timeout after <job_timeout_text>"); zero: no limit. [kinds.<kind>] overrides it.
  std::chrono::milliseconds job_timeout{0};
  std::string job_timeout_text;  // as written in the file, for the error recorded on the job
};

// The delay between attempts: initial × multiplier^(attempt-1), capped at max, times a random
// factor in [1 - jitter, 1 + jitter].
struct BackoffConfig {
  std::chrono::milliseconds initial{0};
  std::chrono::milliseconds max{0};
  double multiplier = 0;
  double jitter = 0;
};

struct QueueConfig {
  std::string name;
  int max_workers = 0;  // 0: worker.max_workers
  std::string table;    // empty: worker.table
  Position pos;
};

// Where a plugin's handlers run: in the daemon's threads (today's, the default) or in worker
// processes of their own, so that a crash kills one job and not the daemon.
enum class Isolation { thread, process };
const char* to_string(Isolation isolation) noexcept;

struct PluginSettings {
  toml::table table;  // the plugin's own settings: without the host's keys below
  Position pos;
  // The host's keys of [plugins.<name>]; the last three only with isolation = "process".
  Isolation isolation = Isolation::thread;
  int processes = 0;                      // 0: not set (the app's default applies)
  uint64_t memory_limit = 0;              // bytes of resident memory per worker; 0: none
  std::chrono::milliseconds cpu_limit{0};  // CPU time per job; 0: none
};

// The keys of [plugins.<name>] that are the host's, not the plugin's.
inline constexpr const char* kPluginHostKeys[] = {"isolation", "processes", "memory_limit", "cpu_limit"};

// A size as written in the config: an integer (bytes) or a string "<n>B", "<n>KiB", "<n>MiB",
// "<n>GiB" (a space before the unit allowed). Sets `error` and returns 0 when it is not one.
uint64_t parse_size(std::string_view text, std::string& error);

struct PluginsConfig {
  std::string dir;  // absolute, or relative to the config file's directory (resolved at load)
  std::map<std::string, PluginSettings> settings;  // [plugins.<name>]
};

struct LogConfig {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::automatic;
};

// The HTTP endpoints (metrics, health, status page); off when listen is empty.
struct HttpConfig {
  std::string listen;  // normalised by parse_listen_address: "127.0.0.1:9187"
};

// [retention]: how long finished jobs are kept, by final state; zero keeps them forever.
struct RetentionConfig {
  std::chrono::milliseconds completed{0};
  std::chrono::milliseconds discarded{0};
  std::chrono::milliseconds failed{0};
  std::chrono::milliseconds interval{0};  // how often the leader looks for expired jobs
  int batch_size = 0;                     // rows per DELETE at most
};

// [maintenance]: the leader election and the leader's health checks.
struct MaintenanceConfig {
  bool enabled = true;                            // false: this daemon never leads
  std::chrono::milliseconds leader_check{0};
  std::chrono::milliseconds health_check{0};      // zero: no health checks
  std::chrono::milliseconds long_transaction{0};  // warn about an xmin holder older than this
  std::chrono::milliseconds reindex{0};           // zero: never
};

// [[periodic]]: a job its table's maintenance leader enqueues on a schedule. The cron
// expression and the time zone are checked by the app (queue/cron, with tzdata), at the
// positions recorded under `key` ("periodic[0].cron").
struct PeriodicConfig {
  std::string name;  // default: kind; unique among entries; [A-Za-z0-9_.:-], 1..100 characters
  std::string kind;
  std::string args = "{}";  // the inline table, as a JSON object
  std::string queue = "default";
  int priority = 0;
  int max_attempts = 5;
  std::string cron;                    // exactly one of cron and every
  std::chrono::milliseconds every{0};  // whole seconds, at least 1s
  std::string timezone = "UTC";        // cron only
  bool catch_up = true;
  std::string key;  // "periodic[<index>]"
  Position pos;
  // The same entry (positions aside): for reload's "needs a restart".
  bool same_as(const PeriodicConfig& o) const {
    return name == o.name && kind == o.kind && args == o.args && queue == o.queue && priority == o.priority &&
           max_attempts == o.max_attempts && cron == o.cron && every == o.every && timezone == o.timezone &&
           catch_up == o.catch_up;
  }
};

// [kinds.<kind>]: settings of one job kind, whichever plugin handles it.
struct KindConfig {
  std::optional<std::chrono::milliseconds> timeout;  // set: overrides worker.job_timeout ("0s": none)
  std::string timeout_text;                          // as written in the file
  Position pos;                                      // of the [kinds.<kind>] header
};

struct Config {
  std::string path;  // the file it came from; empty for built-in defaults
  DatabaseConfig database;
  WorkerConfig worker;
  BackoffConfig backoff;
  std::vector<QueueConfig> queues;  // never empty after loading: default is one queue "default"
  PluginsConfig plugins;
  LogConfig log;
  HttpConfig http;
  RetentionConfig retention;
  MaintenanceConfig maintenance;
  std::vector<PeriodicConfig> periodic;
  std::map<std::string, KindConfig> kinds;  // [kinds.<kind>], by kind

  // Where a key was set ("worker.poll_interval"), for messages about values that are valid
  // TOML but turn out wrong later (e.g. a plugin settings table for a plugin not loaded).
  std::map<std::string, Position, std::less<>> positions;
  std::string where(std::string_view key) const;  // "<file>:<line>:<col>" or "<file>"
};

// The values of the keys a file leaves out. The app fills them from the engine's own defaults
// (go-pgxq's where go-pgxq has the setting), so a default is changed in one place, and checks
// that involve an unset key (backoff.max >= backoff.initial) still see the value in effect.
struct Defaults {
  int pool_size = 0;
  DatabaseTimeouts timeouts;
  WorkerConfig worker;
  BackoffConfig backoff;
  RetentionConfig retention;
  MaintenanceConfig maintenance;
};

// Reads and validates a file. Throws ConfigError (missing or unreadable file included).
std::shared_ptr<const Config> load_file(const std::string& path, const Defaults& defaults);
// Validates TOML text; `source` names it in messages. Throws ConfigError.
std::shared_ptr<const Config> load_string(std::string_view text, const std::string& source, const Defaults& defaults);
// The config without a file: `defaults`, one queue "default", plugin dir PGXQ_DEFAULT_PLUGIN_DIR.
std::shared_ptr<const Config> built_in(const Defaults& defaults);

// The message for a table name libpgxq refused with `libpgxq_message`, naming the table once.
std::string invalid_table_message(const std::string& table, std::string_view libpgxq_message);

// The closest candidate within a small edit distance, or "" (for "did you mean").
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace pgxq::config
