// app/context: what every command resolves the same way — the config (--config, else the
// default file when it exists, else built-in defaults), the database (--database, else
// PGXQD_DATABASE_URL, else the config, else libpq defaults) and the table. Text that may
// contain the connection string goes through pg::scrub_password before it is printed.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "pg/connection.hpp"
#include "pg/scrub.hpp"

namespace pgxq::app {

// Where the connection comes from when no conninfo is given anywhere.
inline constexpr const char* kEnvironmentSource = "the environment (PGHOST, PGDATABASE, PGUSER, PGSERVICE) or libpq's defaults";

struct Context {
  std::shared_ptr<const config::Config> config;
  bool config_from_file = false;
  std::string conninfo;  // may hold a password: print only through describe_database()/pg::scrub_password()
  std::string conninfo_source;  // "--database", "PGXQD_DATABASE_URL", "config" or kEnvironmentSource
};

// Throws config::ConfigError when the chosen file is missing or invalid. `require_file`: a
// missing default file is an error too (check-config).
Context resolve(const std::optional<std::string>& config_flag, const std::optional<std::string>& database_flag,
                bool require_file = false);

// A copy of `config` with the plugin directory replaced.
std::shared_ptr<const config::Config> with_plugin_dir(const config::Config& config, const std::string& dir);

// "<masked conninfo>" or "from the environment (PGHOST, ...) or libpq's defaults".
std::string describe_database(const std::string& conninfo);

// The database `conn` reached: the masked conninfo, or, when none was given, the database,
// host and port libpq picked, and where from.
std::string describe_connection(const pg::Connection& conn, const Context& ctx);

// The table: --table if given (validated, CommandError 64 when invalid), else the config's.
std::string resolve_table(const std::optional<std::string>& table_flag, const config::Config& config);

// `run` and `check-config` load plugins, native code that runs every job: as root, both refuse
// (CommandError 1) unless `allow_root`.
void refuse_root(bool allow_root);

// Opens a connection; CommandError 69 (unreachable) with a masked message.
pg::Connection connect(const Context& ctx);

// A plugin loader refusal, prefixed with the config position when it is about one of the
// config's [plugins.<name>] tables ("<file>:<line>:<col>: plugins.<name>: ...").
std::string locate_load_error(const config::Config& config, const std::string& message);

}  // namespace pgxq::app
