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

struct Context {
  std::shared_ptr<const config::Config> config;
  bool config_from_file = false;
  std::string conninfo;  // may hold a password: print only through describe_database()/pg::scrub_password()
  std::string conninfo_source;  // "--database", "PGXQD_DATABASE_URL", "config", "libpq defaults"
};

// Throws config::ConfigError when the chosen file is missing or invalid. `require_file`: a
// missing default file is an error too (check-config).
Context resolve(const std::optional<std::string>& config_flag, const std::optional<std::string>& database_flag,
                bool require_file = false);

// A copy of `config` with the plugin directory replaced.
std::shared_ptr<const config::Config> with_plugin_dir(const config::Config& config, const std::string& dir);

// "<masked conninfo>" or "libpq defaults (PGHOST, PGDATABASE, ...)".
std::string describe_database(const std::string& conninfo);

// The table: --table if given (validated, CommandError 64 when invalid), else the config's.
std::string resolve_table(const std::optional<std::string>& table_flag, const config::Config& config);

// Opens a connection; CommandError 69 (unreachable) with a masked message.
pg::Connection connect(const Context& ctx);

// A plugin loader refusal, prefixed with the config position when it is about one of the
// config's [plugins.<name>] tables ("<file>:<line>:<col>: plugins.<name>: ...").
std::string locate_load_error(const config::Config& config, const std::string& message);

}  // namespace pgxq::app
