// app/commands: see commands.hpp.
#include "app/commands.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

#include <CLI/Version.hpp>
#include <pgxq/client.h>
#include <pgxq/plugin.h>
#include <simdjson.h>
#include <spdlog/logger.h>
#include <spdlog/version.h>
#include <toml++/toml.h>

#include "app/context.hpp"
#include "app/errors.hpp"
#include "app/isolated_plugins.hpp"
#include "app/kind_settings.hpp"
#include "app/logging.hpp"
#include "app/options.hpp"
#include "app/reload.hpp"
#include "config/duration.hpp"
#include "isolation/death_cause.hpp"
#include "plugin/loader.hpp"
#include "queue/periodic.hpp"
#include "queue/table_check.hpp"

namespace pgxq::app {

namespace {

// The tables `migrate` and `enqueue` serve: --table alone when given, else the worker table
// and every table a queue of the config names (the ones `run` works, queue::job_tables).
std::vector<std::string> config_tables(const TableOptions& o, const Context& ctx) {
  if (o.table) return {resolve_table(o.table, *ctx.config)};
  std::vector<std::string> tables{ctx.config->worker.table};
  for (const auto& t : queue::job_tables(engine_options(*ctx.config, ctx.conninfo)))
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
  return tables;
}

pgxq_schema_info schema_status(pg::Connection& conn, const std::string& table) {
  pgxq_schema_info info = PGXQ_SCHEMA_INFO_INIT;
  pgxq_error err{};
  if (pgxq_schema_status(conn.get(), table.c_str(), &info, &err) != 0)
    throw CommandError(pg::unreachable_sqlstate(err.sqlstate) ? kExitUnavailable : kExitFailure,
                       "cannot read the schema version of " + table + ": " + err.message +
                           (err.sqlstate[0] ? std::string(" (SQLSTATE ") + err.sqlstate + ")" : ""));
  return info;
}

// pgxqd does not create schemas: who owns one and who may use it is the DBA's decision.
void require_schema(pg::Connection& conn, const std::string& table, const std::string& where) {
  auto dot = table.find('.');
  if (dot == std::string::npos) return;
  const std::string schema = table.substr(0, dot);
  if (conn.exec("SELECT 1 FROM pg_namespace WHERE nspname = $1", {pg::Param(schema)}).rows() > 0) return;
  throw CommandError(kExitFailure, "cannot migrate " + table + ": schema " + schema + " does not exist in " + where +
                                       "; pgxqd does not create schemas: create it first (CREATE SCHEMA " + schema +
                                       "; then GRANT USAGE ON SCHEMA " + schema +
                                       " to the role pgxqd runs as) and run pgxqd migrate again");
}

// Each [[periodic]] entry and its next three runs, on its own clock and in UTC; times from
// this host's clock (the daemon goes by the database's).
void print_periodic(std::ostream& out, const queue::EngineOptions& engine) {
  if (engine.periodic.empty()) return;
  out << "  periodic:\n";
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  for (size_t i = 0; i < engine.periodic.size(); ++i) {
    const auto& e = engine.periodic[i];
    out << "    " << e.name << ": kind " << e.kind << ", queue " << e.queue << ", table "
        << queue::periodic_table(engine, e) << ", " << e.schedule->describe()
        << (e.catch_up ? ", catch_up" : ", no catch_up") << "\n";
    auto at = e.schedule->next_after(now);
    for (int n = 0; n < 3 && at; ++n, at = e.schedule->next_after(*at)) {
      out << "      next: ";
      if (e.schedule->is_cron() && e.schedule->time_zone_name() != "UTC")
        out << e.schedule->format_local(*at) << " = ";
      out << queue::format_utc(*at) << "\n";
    }
    if (!e.schedule->next_after(now)) out << "      never runs\n";
  }
}

}  // namespace

int migrate(const TableOptions& o) {
  Context ctx = resolve(o.config, o.database);
  const std::vector<std::string> tables = config_tables(o, ctx);
  auto conn = connect(ctx);
  const std::string where = describe_connection(conn, ctx);
  for (const auto& table : tables) {
    require_schema(conn, table, where);
    const pgxq_schema_info before = schema_status(conn, table);
    pgxq_error err{};
    if (pgxq_migrate(conn.get(), table.c_str(), &err) != 0) {
      bool unreachable = pg::unreachable_sqlstate(err.sqlstate);
      throw CommandError(unreachable ? kExitUnavailable : kExitFailure,
                         "cannot migrate " + table + ": " + err.message +
                             (err.sqlstate[0] ? std::string(" (SQLSTATE ") + err.sqlstate + ")" : ""));
    }
    const pgxq_schema_info after = schema_status(conn, table);
    const std::string version = "schema version " + std::to_string(after.applied_version);
    if (!before.table_exists)
      std::cout << "created table " << table << " (" << version << ")";
    else if (before.applied_version != after.applied_version)
      std::cout << "migrated table " << table << " from schema version " << before.applied_version << " to "
                << after.applied_version;
    else
      std::cout << "table " << table << " is already up to date (" << version << ")";
    std::cout << " in " << where << "\n";
  }
  return kExitOk;
}

int schema(const TableOptions& o) {
  Context ctx = resolve(o.config, std::nullopt);
  std::string table = resolve_table(o.table, *ctx.config);
  pgxq_error err{};
  char* sql = pgxq_schema(table.c_str(), &err);
  if (!sql) throw CommandError(kExitUsage, std::string("cannot print the schema: ") + err.message);
  std::cout << sql;
  pgxq_free(sql);
  return kExitOk;
}

namespace {

// "thread", or "process (8 processes, memory_limit 512 MiB, cpu_limit 2s)".
std::string isolation_text(const config::Config& cfg, const std::string& name) {
  auto it = cfg.plugins.settings.find(name);
  if (it == cfg.plugins.settings.end() || it->second.isolation != config::Isolation::process) return "thread";
  const config::PluginSettings& s = it->second;
  const int processes = plugin_processes(cfg, s);
  std::string text = "process (" + std::to_string(processes) + (processes == 1 ? " process" : " processes");
  if (s.processes == 0) text += " by default";
  if (s.memory_limit > 0) text += ", memory_limit " + isolation::size_text(s.memory_limit);
  if (s.cpu_limit.count() > 0) text += ", cpu_limit " + config::format_duration(s.cpu_limit);
  return text + ")";
}

}  // namespace

int check_config(const CheckConfigOptions& o) {
  // The same config, root rule and order as `run`: no config file means built-in defaults.
  Context ctx = resolve(o.config, o.database);
  auto cfg = ctx.config;
  if (o.plugins_dir) cfg = with_plugin_dir(*cfg, *o.plugins_dir);
  refuse_root(o.allow_root);
  auto log = make_logger(resolve_style(cfg->log.format), cfg->log.level);
  plugin::LoadedPlugins plugins;
  try {
    // One worker per isolated plugin is enough to see that it loads and initialises.
    plugins = plugin::load_plugins(loader_options(*cfg, log, 1));
  } catch (const plugin::LoadError& e) {
    throw CommandError(kExitConfig, "plugins in " + cfg->plugins.dir + ": " + locate_load_error(*cfg, e.what()));
  }
  if (plugins.handlers().empty())
    throw CommandError(kExitConfig, "no plugin in " + cfg->plugins.dir + " registered a job kind; `pgxqd run` would refuse to start");

  if (ctx.config_from_file)
    std::cout << "config " << cfg->path << ": OK\n";
  else
    std::cout << "config: none (" << config::kDefaultConfigPath << " not found): built-in defaults, as `pgxqd run` uses\n";
  std::cout << "  database: " << describe_database(ctx.conninfo);
  if (!ctx.conninfo.empty()) std::cout << " (from " << ctx.conninfo_source << ")";
  std::cout << "\n";
  std::cout << "  table:    " << cfg->worker.table << "\n";
  std::cout << "  queues:  ";
  for (const auto& q : cfg->queues) std::cout << " " << q.name << " (max_workers " << effective_max_workers(*cfg, q) << ")";
  std::cout << "\n  plugins:  " << cfg->plugins.dir << "\n";
  for (const auto& p : plugins.plugins()) {
    std::cout << "    " << p.name << " " << p.version << " (needs plugin ABI " << p.abi_major << "." << p.abi_minor << "):";
    for (const auto& k : p.kinds) std::cout << " " << k;
    std::cout << "\n";
    std::cout << "      isolation: " << isolation_text(*cfg, p.name) << "\n";
  }
  print_periodic(std::cout, engine_options(*cfg, ctx.conninfo));
  std::vector<std::string> kinds;
  for (const auto& [kind, handler] : plugins.handlers()) kinds.push_back(kind);
  for (const auto& warning : unregistered_kind_warnings(*cfg, kinds)) std::cout << "  warning: " << warning << "\n";
  if (!o.offline) {
    auto conn = connect(ctx);
    // The very check `pgxqd run` makes at start, on the tables it would work.
    const queue::EngineOptions engine = engine_options(*cfg, ctx.conninfo);
    std::vector<queue::TableCheck> checks;
    try {
      for (const auto& t : queue::job_tables(engine)) checks.push_back(queue::check_table(conn, t));
    } catch (const pg::Error& e) {
      throw CommandError(e.unreachable() ? kExitUnavailable : kExitFailure, pg::scrub_password(e.what(), ctx.conninfo));
    }
    for (const auto& check : checks)
      if (!check.exists) throw CommandError(kExitFailure, check.missing_message() + " (in " + describe_connection(conn, ctx) + ")");
    for (const auto& check : checks)
      if (auto why = check.periodic_problem(queue::periodic_entries_of(engine, check.table)))
        throw CommandError(kExitConfig, *why + " (in " + describe_connection(conn, ctx) + ")");
    std::cout << "  database answered; job table present\n";
    for (const auto& check : checks) {
      std::cout << "  " << check.table << ": schema version " << check.applied_version << " of " << check.latest_version
                << "\n";
      for (const auto& warning : check.warnings(engine.listen, engine.poll_interval))
        std::cout << "  warning: " << warning << "\n";
    }
  } else {
    std::cout << "  database: not checked (--offline)\n";
  }
  plugins.shutdown();
  return kExitOk;
}

int version() {
  int pq = PQlibVersion();
  std::cout << "pgxqd " PGXQ_VERSION "\n"
            << "plugin ABI " << PGXQ_PLUGIN_ABI_MAJOR << "." << PGXQ_PLUGIN_ABI_MINOR << "\n"
            << "libpgxq " << pgxq_version() << "\n"
            << "built with: " <<
#if defined(__clang__)
      "clang " __clang_version__
#elif defined(__GNUC__)
      "gcc " __VERSION__
#else
      "unknown compiler"
#endif
            << ", C++ " << __cplusplus << ", libpq " << pq / 10000 << "." << pq % 10000 << ", toml++ " << TOML_LIB_MAJOR << "."
            << TOML_LIB_MINOR << "." << TOML_LIB_PATCH << ", spdlog " << SPDLOG_VER_MAJOR << "." << SPDLOG_VER_MINOR << "."
            << SPDLOG_VER_PATCH << ", CLI11 " << CLI11_VERSION << ", simdjson " << simdjson::SIMDJSON_VERSION_MAJOR << "."
            << simdjson::SIMDJSON_VERSION_MINOR << "." << simdjson::SIMDJSON_VERSION_REVISION << "\n"
            << "default config: " << config::kDefaultConfigPath << "\n"
            << "example config: " << config::kExampleConfigPath << "\n"
            << "default plugins dir: " << PGXQ_DEFAULT_PLUGIN_DIR << "\n";
  return kExitOk;
}

}  // namespace pgxq::app
