// app/steer_cli: see steer_cli.hpp.
#include "app/steer_cli.hpp"

namespace pgxq::app {

namespace {

std::optional<std::string> given(CLI::Option* opt, const std::string& value) {
  if (opt && opt->count() > 0) return value;
  return std::nullopt;
}

}  // namespace

SteerCli::SteerCli(CLI::App& app, const std::string& database_help) {
  // One value slot per option; CLI11 keeps references to them, and map nodes never move. The
  // subcommands share them: only one subcommand is ever parsed.
  for (const char* key : {"config", "database", "table", "state", "kind", "queue", "older_than"}) value_[key];
  auto add_steer_common = [&](CLI::App* cmd, const std::string& name) {
    opt_[name + ".config"] = cmd->add_option("-c,--config", value_["config"], "config file (for the database and table)");
    opt_[name + ".database"] = cmd->add_option("-d,--database", value_["database"], database_help);
    opt_[name + ".table"] = cmd->add_option("-t,--table", value_["table"], "job table, schema.table allowed (default: [worker] table, else pgxq_job)");
    cmd->add_flag("--json", options_.json, "print one JSON object instead of text");
    commands_[name] = cmd;
  };
  auto add_bulk = [&](CLI::App* cmd, const std::string& name, const std::string& states) {
    opt_[name + ".state"] = cmd->add_option("--state", value_["state"], states);
    opt_[name + ".kind"] = cmd->add_option("--kind", value_["kind"], "only jobs of this kind");
    opt_[name + ".queue"] = cmd->add_option("-q,--queue", value_["queue"], "only jobs of this queue");
    cmd->add_flag("--dry-run", options_.dry_run, "change nothing: say how many jobs (and the first ids) it would change");
    cmd->add_option("--batch-size", options_.batch_size, "rows per batch, each its own transaction (default 1000)");
  };

  auto* retry_cmd = app.add_subcommand("retry", "Put failed or discarded jobs back to available, due now, with their attempts again");
  retry_cmd->add_option("ID", options_.ids, "job ids");
  add_bulk(retry_cmd, "retry", "retry every job in this state: failed or discarded (instead of ids)");
  add_steer_common(retry_cmd, "retry");
  retry_cmd->footer("Examples:\n  pgxqd retry 42 43\n  pgxqd retry --state failed --kind send_email --dry-run\n"
                    "A retried job gets attempt 0 (all of its max_attempts again); its last error stays until the next "
                    "attempt. Exit 1 when some ids were not failed or discarded (the others are retried).");

  auto* cancel_cmd = app.add_subcommand("cancel", "Cancel jobs: available ones are discarded now, running ones are told to stop");
  cancel_cmd->add_option("ID", options_.ids, "job ids");
  add_bulk(cancel_cmd, "cancel", "with --kind/--queue: only available or only running jobs (default both)");
  add_steer_common(cancel_cmd, "cancel");
  cancel_cmd->footer("Examples:\n  pgxqd cancel 42\n  pgxqd cancel --kind resize --queue images --dry-run\n"
                     "A running job's handler sees should_stop within a second on whichever pgxqd runs it; the job "
                     "ends discarded ('cancelled by operator') and its transaction is rolled back. Exit 1 when some ids "
                     "were already finished (the others are cancelled).");

  auto* pause_cmd = app.add_subcommand("pause", "Stop every pgxqd on the table from claiming jobs of these queues");
  pause_cmd->add_option("QUEUE", options_.queues, "queue names");
  add_steer_common(pause_cmd, "pause");
  pause_cmd->footer("Example:\n  pgxqd pause emails\nRunning jobs finish; the pause is stored in the database "
                    "(<table>_pause) and survives restarts. Undo with `pgxqd resume emails`.");

  auto* resume_cmd = app.add_subcommand("resume", "Let the daemons claim jobs of paused queues again");
  resume_cmd->add_option("QUEUE", options_.queues, "queue names");
  add_steer_common(resume_cmd, "resume");
  resume_cmd->footer("Example:\n  pgxqd resume emails");

  auto* purge_cmd = app.add_subcommand("purge", "Delete finished jobs older than a duration, in short batches");
  opt_["purge.state"] = purge_cmd->add_option("--state", value_["state"], "completed, discarded or failed (required)");
  opt_["purge.older_than"] = purge_cmd->add_option("--older-than", value_["older_than"], "finished longer ago than this, e.g. 7d, 12h (required)");
  opt_["purge.kind"] = purge_cmd->add_option("--kind", value_["kind"], "only jobs of this kind");
  opt_["purge.queue"] = purge_cmd->add_option("-q,--queue", value_["queue"], "only jobs of this queue");
  purge_cmd->add_flag("--dry-run", options_.dry_run, "delete nothing: count (up to 100000) and list the first ids");
  purge_cmd->add_option("--batch-size", options_.batch_size, "rows per DELETE, each its own transaction (default 1000)");
  add_steer_common(purge_cmd, "purge");
  purge_cmd->footer("Example:\n  pgxqd purge --state completed --older-than 7d --dry-run\n"
                    "Deletes through the finished-jobs index in completed_at order; prints each batch and a summary.");
}

CLI::Option* SteerCli::option(const std::string& key) const {
  auto it = opt_.find(key);
  return it == opt_.end() ? nullptr : it->second;
}

std::optional<int> SteerCli::run() const {
  for (const auto& [name, cmd] : commands_) {
    if (!cmd->parsed()) continue;
    SteerOptions o = options_;
    o.config = given(option(name + ".config"), value_.at("config"));
    o.database = given(option(name + ".database"), value_.at("database"));
    o.table = given(option(name + ".table"), value_.at("table"));
    o.state = given(option(name + ".state"), value_.at("state"));
    o.kind = given(option(name + ".kind"), value_.at("kind"));
    o.queue = given(option(name + ".queue"), value_.at("queue"));
    o.older_than = given(option(name + ".older_than"), value_.at("older_than"));
    if (name == "retry") return retry_command(o);
    if (name == "cancel") return cancel_command(o);
    if (name == "pause") return pause_command(o);
    if (name == "resume") return resume_command(o);
    if (name == "purge") return purge_command(o);
  }
  return std::nullopt;
}

}  // namespace pgxq::app
