// app/context: see context.hpp.
#include "app/context.hpp"

#include <unistd.h>

#include <cstdlib>

#include <pgxq/client.h>

#include "app/errors.hpp"
#include "app/options.hpp"

namespace pgxq::app {

Context resolve(const std::optional<std::string>& config_flag, const std::optional<std::string>& database_flag,
                bool require_file) {
  Context ctx;
  if (config_flag) {
    ctx.config = config::load_file(*config_flag, config_defaults());
    ctx.config_from_file = true;
  } else if (require_file || access(config::kDefaultConfigPath, F_OK) == 0) {
    ctx.config = config::load_file(config::kDefaultConfigPath, config_defaults());
    ctx.config_from_file = true;
  } else {
    ctx.config = config::built_in(config_defaults());
  }
  // The cron expressions and time zones of [[periodic]]: errors of the file, reported as such
  // by every command that reads it.
  periodic_entries(*ctx.config);
  const char* env = std::getenv("PGXQD_DATABASE_URL");
  if (database_flag) {
    ctx.conninfo = *database_flag;
    ctx.conninfo_source = "--database";
  } else if (env && *env) {
    ctx.conninfo = env;
    ctx.conninfo_source = "PGXQD_DATABASE_URL";
  } else if (!ctx.config->database.url.empty()) {
    ctx.conninfo = ctx.config->database.url;
    ctx.conninfo_source = "config";
  } else {
    ctx.conninfo_source = kEnvironmentSource;
  }
  return ctx;
}

std::shared_ptr<const config::Config> with_plugin_dir(const config::Config& config, const std::string& dir) {
  auto copy = std::make_shared<config::Config>(config);
  copy->plugins.dir = dir;
  return copy;
}

std::string describe_database(const std::string& conninfo) {
  if (conninfo.empty()) return std::string("from ") + kEnvironmentSource;
  return pg::mask_conninfo(conninfo);
}

std::string describe_connection(const pg::Connection& conn, const Context& ctx) {
  if (!ctx.conninfo.empty()) return pg::mask_conninfo(ctx.conninfo);
  const char* db = PQdb(conn.get());
  const char* host = PQhost(conn.get());
  const char* port = PQport(conn.get());
  return std::string("database ") + (db ? db : "?") + " on " + (host ? host : "?") + ":" + (port ? port : "?") + ", from " +
         kEnvironmentSource;
}

std::string resolve_table(const std::optional<std::string>& table_flag, const config::Config& config) {
  if (!table_flag) return config.worker.table;
  pgxq_error err{};
  if (pgxq_validate_table_name(table_flag->c_str(), &err) != 0)
    throw CommandError(kExitUsage, "--table: " + config::invalid_table_message(*table_flag, err.message));
  return *table_flag;
}

std::string locate_load_error(const config::Config& config, const std::string& message) {
  for (const auto& [name, settings] : config.plugins.settings) {
    const std::string table = "[plugins." + name + "]";
    auto at = message.find(table);
    if (at == std::string::npos) continue;
    std::string key = "plugins." + name;
    // `[plugins.<name>] setting "<key>" ...` (the host's config errors): the setting's own line.
    const std::string setting = table + " setting \"";
    if (message.compare(at, setting.size(), setting) == 0) {
      auto from = at + setting.size(), to = message.find('"', from);
      if (to != std::string::npos && config.positions.count(key + "." + message.substr(from, to - from)))
        key += "." + message.substr(from, to - from);
    }
    return config.where(key) + ": " + key + ": " + message;
  }
  return message;
}

void refuse_root(bool allow_root) {
  if (geteuid() == 0 && !allow_root)
    throw CommandError(kExitFailure,
                       "refusing to run as root: plugins are native code loaded into this process and run every job, "
                       "so a bug or a hostile plugin would own the whole machine. Run pgxqd as an unprivileged user "
                       "(the systemd unit uses the user 'pgxqd'), or pass --allow-root if you accept that risk "
                       "(e.g. inside a throwaway container)");
}

pg::Connection connect(const Context& ctx) {
  try {
    return pg::Connection(ctx.conninfo);
  } catch (const pg::Error& e) {
    throw CommandError(kExitUnavailable, pg::scrub_password(e.what(), ctx.conninfo) +
                                             "\n(the database comes from --database, else PGXQD_DATABASE_URL, else [database] "
                                             "url in the config, else libpq's PGHOST/PGDATABASE/...; used: " +
                                             ctx.conninfo_source + ")");
  }
}

}  // namespace pgxq::app
