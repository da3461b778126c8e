// app/cli: see cli.hpp.
#include "app/cli.hpp"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "app/daemon.hpp"
#include "app/enqueue.hpp"
#include "app/errors.hpp"
#include "app/view_cli.hpp"
#include "app/steer_cli.hpp"
#include "config/config.hpp"
#include "isolation/protocol.hpp"
#include "isolation/worker_main.hpp"
#include "plugin/loader.hpp"

namespace pgxq::app {

namespace {

// Options filled by CLI11; the optionals are set from the option counts after parsing.
struct Raw {
  std::string config, database, table, plugins_dir, queue, in, at, kind, args, unique_key;
  int priority = 0, max_attempts = 0;
  bool allow_root = false, from_stdin = false, offline = false, json = false;
};

std::optional<std::string> given(CLI::Option* opt, const std::string& value) {
  if (opt && opt->count() > 0) return value;
  return std::nullopt;
}

const char* kDatabaseHelp =
    "libpq URI or key=value string (default: $PGXQD_DATABASE_URL, else [database] url in the config, else libpq's "
    "PGHOST/PGDATABASE/... defaults)";

}  // namespace

int main_entry(int argc, char** argv) {
  // A plugin worker process (isolation = "process"): pgxqd starts itself this way; not a command.
  if (argc >= 2 && std::strcmp(argv[1], isolation::kWorkerCommand) == 0) return isolation::run_plugin_worker(argc, argv);
  CLI::App app{"pgxqd — a PostgreSQL job-queue worker daemon with handler plugins (go-pgxq compatible)", "pgxqd"};
  app.require_subcommand(1);
  app.footer("Run `pgxqd COMMAND --help` for a command's options and an example.\n"
             "Exit codes: 0 ok, 64 usage, 69 database unreachable, 78 config or plugin error, 1 otherwise.");
  Raw r;
  std::map<std::string, CLI::Option*> o;

  auto* run = app.add_subcommand("run", "Run the worker daemon (the systemd service's command)");
  const std::string config_help =
      std::string("config file (default ") + config::kDefaultConfigPath + " when it exists, else built-in defaults)";
  o["run.config"] = run->add_option("-c,--config", r.config, config_help);
  o["run.database"] = run->add_option("-d,--database", r.database, kDatabaseHelp);
  o["run.plugins_dir"] = run->add_option("--plugins-dir", r.plugins_dir, "load plugins from this directory instead of [plugins] dir");
  run->add_flag("--allow-root", r.allow_root, "run even as root (plugins would run with full privileges)");
  run->footer("Example:\n  pgxqd run --config /etc/pgxqd/pgxqd.toml\n"
              "Signals: SIGTERM/SIGINT stop gracefully (a second one stops at once), SIGHUP reloads the config.");

  auto* migrate_cmd = app.add_subcommand("migrate", "Create or upgrade the job table (idempotent, safe to run on every deploy)");
  o["migrate.config"] = migrate_cmd->add_option("-c,--config", r.config, "config file (for the database and its tables)");
  o["migrate.database"] = migrate_cmd->add_option("-d,--database", r.database, kDatabaseHelp);
  o["migrate.table"] = migrate_cmd->add_option(
      "-t,--table", r.table,
      "migrate this job table only, schema.table allowed (default: [worker] table and every [queues.<name>] table of the "
      "config, else pgxq_job)");
  migrate_cmd->footer("Example:\n  pgxqd migrate --database postgresql://app@db.example/app --table pgxq_job");

  auto* schema_cmd = app.add_subcommand("schema", "Print the SQL that creates the job table (go-pgxq's schema plus additions)");
  o["schema.config"] = schema_cmd->add_option("-c,--config", r.config, "config file (for the table)");
  o["schema.table"] = schema_cmd->add_option("-t,--table", r.table, "job table, schema.table allowed (default pgxq_job)");
  schema_cmd->footer("Example:\n  pgxqd schema --table app.jobs > jobs.sql");

  auto* enq = app.add_subcommand("enqueue", "Insert a job (prints its id), or many from stdin with --stdin");
  o["enqueue.kind"] = enq->add_option("KIND", r.kind, "the job kind, e.g. hello");
  o["enqueue.args"] = enq->add_option("ARGS_JSON", r.args, "the job's arguments, a JSON object (default {})");
  o["enqueue.queue"] = enq->add_option("-q,--queue", r.queue, "queue (default \"default\")");
  o["enqueue.priority"] = enq->add_option("-p,--priority", r.priority, "priority, lower runs first (default 0)");
  o["enqueue.max_attempts"] = enq->add_option("--max-attempts", r.max_attempts, "attempts before the job fails (default 5)");
  o["enqueue.in"] = enq->add_option("--in", r.in, "run after this delay, e.g. 30s, 5m, 1h30m");
  o["enqueue.at"] = enq->add_option("--at", r.at, "run at this time, e.g. '2030-01-31 12:00:00+00'");
  o["enqueue.in"]->excludes(o["enqueue.at"]);
  o["enqueue.config"] = enq->add_option("-c,--config", r.config, "config file (for the database and table)");
  o["enqueue.database"] = enq->add_option("-d,--database", r.database, kDatabaseHelp);
  o["enqueue.table"] = enq->add_option("-t,--table", r.table,
                                        "job table (default: the queue's [queues.<name>] table, else [worker] table, else pgxq_job)");
  enq->add_flag("--stdin", r.from_stdin,
                "read one JSON object per line, {\"kind\":..., \"args\":{...}, \"queue\":..., \"priority\":..., "
                "\"max_attempts\":..., \"unique_key\":...}, and insert them all in one transaction; prints the count");
  o["enqueue.unique_key"] = enq->add_option(
      "--unique-key", r.unique_key,
      "insert only if no unfinished (available or running) job of this kind holds this key; prints the id, new or "
      "existing, and whether it was inserted");
  enq->add_flag("--json", r.json, "print one JSON object ({\"id\":..., \"inserted\":...}) instead of text");
  enq->footer("Examples:\n  pgxqd enqueue hello '{\"name\":\"world\"}' --queue default --priority 1 --in 10s\n"
              "  pgxqd enqueue send_digest '{\"user\":42}' --unique-key digest:user:42:2026-12-02\n"
              "  printf '%s\\n' '{\"kind\":\"hello\",\"args\":{\"name\":\"a\"}}' | pgxqd enqueue --stdin");

  auto* check = app.add_subcommand("check-config", "Validate the config and load the plugins; exit 0 only if `run` would start");
  o["check.config"] = check->add_option("-c,--config", r.config, config_help);
  o["check.database"] = check->add_option("-d,--database", r.database, kDatabaseHelp);
  o["check.plugins_dir"] = check->add_option("--plugins-dir", r.plugins_dir, "load plugins from this directory instead of [plugins] dir");
  check->add_flag("--offline", r.offline, "do not connect to the database (config and plugins only)");
  check->add_flag("--allow-root", r.allow_root, "check as root, as `run --allow-root` would run (without it, root is refused like `run` refuses it)");
  check->footer("Example:\n  pgxqd check-config --config /etc/pgxqd/pgxqd.toml && systemctl reload pgxqd");

  auto* version_cmd = app.add_subcommand("version", "Print the version, the plugin ABI version and build information");
  version_cmd->footer("Example:\n  pgxqd version");

  ViewCli view(app, config_help, kDatabaseHelp);
  SteerCli steer(app, kDatabaseHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  std::string conninfo_for_scrub = r.database;
  if (const char* env = std::getenv("PGXQD_DATABASE_URL")) conninfo_for_scrub = conninfo_for_scrub.empty() ? env : conninfo_for_scrub;
  try {
    if (run->parsed()) {
      return run_daemon({given(o["run.config"], r.config), given(o["run.database"], r.database),
                         given(o["run.plugins_dir"], r.plugins_dir), r.allow_root});
    }
    if (migrate_cmd->parsed())
      return migrate({given(o["migrate.config"], r.config), given(o["migrate.database"], r.database), given(o["migrate.table"], r.table)});
    if (schema_cmd->parsed()) return schema({given(o["schema.config"], r.config), std::nullopt, given(o["schema.table"], r.table)});
    if (enq->parsed()) {
      EnqueueOptions eo;
      eo.config = given(o["enqueue.config"], r.config);
      eo.database = given(o["enqueue.database"], r.database);
      eo.table = given(o["enqueue.table"], r.table);
      eo.kind = r.kind;
      if (o["enqueue.args"]->count()) eo.args = r.args;
      eo.queue = given(o["enqueue.queue"], r.queue);
      if (o["enqueue.priority"]->count()) eo.priority = r.priority;
      if (o["enqueue.max_attempts"]->count()) eo.max_attempts = r.max_attempts;
      eo.in = given(o["enqueue.in"], r.in);
      eo.at = given(o["enqueue.at"], r.at);
      eo.unique_key = given(o["enqueue.unique_key"], r.unique_key);
      eo.from_stdin = r.from_stdin;
      eo.json = r.json;
      if (eo.from_stdin && o["enqueue.args"]->count()) throw CommandError(kExitUsage, "--stdin takes no ARGS_JSON");
      return enqueue(eo, std::cin);
    }
    if (check->parsed())
      return check_config({given(o["check.config"], r.config), given(o["check.database"], r.database),
                           given(o["check.plugins_dir"], r.plugins_dir), r.offline, r.allow_root});
    if (version_cmd->parsed()) return version();
    if (auto code = view.run()) return *code;
    if (auto code = steer.run()) return *code;
  } catch (const CommandError& e) {
    std::cerr << "pgxqd: " << pg::scrub_password(e.what(), conninfo_for_scrub) << "\n";
    return e.code();
  } catch (const config::ConfigError& e) {
    std::cerr << "pgxqd: invalid config:\n" << e.what() << "\n";
    return kExitConfig;
  } catch (const plugin::LoadError& e) {
    std::cerr << "pgxqd: " << e.what() << "\n";
    return kExitConfig;
  } catch (const pg::Error& e) {
    std::cerr << "pgxqd: " << pg::scrub_password(e.what(), conninfo_for_scrub) << "\n";
    return e.unreachable() ? kExitUnavailable : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "pgxqd: " << pg::scrub_password(e.what(), conninfo_for_scrub) << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}

}  // namespace pgxq::app
