// app/cli: see cli.hpp.
#include "app/cli.hpp"

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "app/context.hpp"
#include "app/daemon.hpp"
#include "app/enqueue.hpp"
#include "app/errors.hpp"
#include "app/view_cli.hpp"
#include "app/steer_commands.hpp"
#include "config/config.hpp"
#include "plugin/loader.hpp"

namespace pgxq::app {

namespace {

// Options filled by CLI11; the optionals are set from the option counts after parsing.
struct Raw {
  std::string config, database, table, plugins_dir, queue, in, at, kind, args, state, older_than;
  int priority = 0, max_attempts = 0;
  bool allow_root = false, from_stdin = false, offline = false;
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
                "\"max_attempts\":...}, and insert them all in one transaction; prints the count");
  enq->footer("Examples:\n  pgxqd enqueue hello '{\"name\":\"world\"}' --queue default --priority 1 --in 10s\n"
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
  SteerOptions steer;
  std::map<std::string, CLI::App*> steer_cmds;
  auto add_steer_common = [&](CLI::App* cmd, const std::string& name) {
    o[name + ".config"] = cmd->add_option("-c,--config", r.config, "config file (for the database and table)");
    o[name + ".database"] = cmd->add_option("-d,--database", r.database, kDatabaseHelp);
    o[name + ".table"] = cmd->add_option("-t,--table", r.table, "job table, schema.table allowed (default: [worker] table, else pgxq_job)");
    cmd->add_flag("--json", steer.json, "print one JSON object instead of text");
    steer_cmds[name] = cmd;
  };
  auto add_bulk = [&](CLI::App* cmd, const std::string& name, const std::string& states) {
    o[name + ".state"] = cmd->add_option("--state", r.state, states);
    o[name + ".kind"] = cmd->add_option("--kind", r.kind, "only jobs of this kind");
    o[name + ".queue"] = cmd->add_option("-q,--queue", r.queue, "only jobs of this queue");
    cmd->add_flag("--dry-run", steer.dry_run, "change nothing: say how many jobs (and the first ids) it would change");
    cmd->add_option("--batch-size", steer.batch_size, "rows per batch, each its own transaction (default 1000)");
  };

  auto* retry_cmd = app.add_subcommand("retry", "Put failed or discarded jobs back to available, due now, with their attempts again");
  retry_cmd->add_option("ID", steer.ids, "job ids");
  add_bulk(retry_cmd, "retry", "retry every job in this state: failed or discarded (instead of ids)");
  add_steer_common(retry_cmd, "retry");
  retry_cmd->footer("Examples:\n  pgxqd retry 42 43\n  pgxqd retry --state failed --kind send_email --dry-run\n"
                    "A retried job gets attempt 0 (all of its max_attempts again); its last error stays until the next "
                    "attempt. Exit 1 when some ids were not failed or discarded (the others are retried).");

  auto* cancel_cmd = app.add_subcommand("cancel", "Cancel jobs: available ones are discarded now, running ones are told to stop");
  cancel_cmd->add_option("ID", steer.ids, "job ids");
  add_bulk(cancel_cmd, "cancel", "with --kind/--queue: only available or only running jobs (default both)");
  add_steer_common(cancel_cmd, "cancel");
  cancel_cmd->footer("Examples:\n  pgxqd cancel 42\n  pgxqd cancel --kind resize --queue images --dry-run\n"
                     "A running job's handler sees should_stop within a second on whichever pgxqd runs it; the job "
                     "ends discarded ('cancelled by operator') and its transaction is rolled back. Exit 1 when some ids "
                     "were already finished (the others are cancelled).");

  auto* pause_cmd = app.add_subcommand("pause", "Stop every pgxqd on the table from claiming jobs of these queues");
  pause_cmd->add_option("QUEUE", steer.queues, "queue names");
  add_steer_common(pause_cmd, "pause");
  pause_cmd->footer("Example:\n  pgxqd pause emails\nRunning jobs finish; the pause is stored in the database "
                    "(<table>_pause) and survives restarts. Undo with `pgxqd resume emails`.");

  auto* resume_cmd = app.add_subcommand("resume", "Let the daemons claim jobs of paused queues again");
  resume_cmd->add_option("QUEUE", steer.queues, "queue names");
  add_steer_common(resume_cmd, "resume");
  resume_cmd->footer("Example:\n  pgxqd resume emails");

  auto* purge_cmd = app.add_subcommand("purge", "Delete finished jobs older than a duration, in short batches");
  o["purge.state"] = purge_cmd->add_option("--state", r.state, "completed, discarded or failed (required)");
  o["purge.older_than"] = purge_cmd->add_option("--older-than", r.older_than, "finished longer ago than this, e.g. 7d, 12h (required)");
  o["purge.kind"] = purge_cmd->add_option("--kind", r.kind, "only jobs of this kind");
  o["purge.queue"] = purge_cmd->add_option("-q,--queue", r.queue, "only jobs of this queue");
  purge_cmd->add_flag("--dry-run", steer.dry_run, "delete nothing: count (up to 100000) and list the first ids");
  purge_cmd->add_option("--batch-size", steer.batch_size, "rows per DELETE, each its own transaction (default 1000)");
  add_steer_common(purge_cmd, "purge");
  purge_cmd->footer("Example:\n  pgxqd purge --state completed --older-than 7d --dry-run\n"
                    "Deletes through the finished-jobs index in completed_at order; prints each batch and a summary.");

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
      eo.from_stdin = r.from_stdin;
      if (eo.from_stdin && o["enqueue.args"]->count()) throw CommandError(kExitUsage, "--stdin takes no ARGS_JSON");
      return enqueue(eo, std::cin);
    }
    if (check->parsed())
      return check_config({given(o["check.config"], r.config), given(o["check.database"], r.database),
                           given(o["check.plugins_dir"], r.plugins_dir), r.offline, r.allow_root});
    if (version_cmd->parsed()) return version();
    if (auto code = view.run()) return *code;
    for (auto& [name, cmd] : steer_cmds) {
      if (!cmd->parsed()) continue;
      steer.config = given(o[name + ".config"], r.config);
      steer.database = given(o[name + ".database"], r.database);
      steer.table = given(o[name + ".table"], r.table);
      steer.state = given(o[name + ".state"], r.state);
      steer.kind = given(o[name + ".kind"], r.kind);
      steer.queue = given(o[name + ".queue"], r.queue);
      steer.older_than = given(o[name + ".older_than"], r.older_than);
      if (name == "retry") return retry_command(steer);
      if (name == "cancel") return cancel_command(steer);
      if (name == "pause") return pause_command(steer);
      if (name == "resume") return resume_command(steer);
      if (name == "purge") return purge_command(steer);
    }
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
