// app/view_cli: see view_cli.hpp.
#include "app/view_cli.hpp"

#include <iostream>

namespace pgxq::app {

namespace {

const char* kTableHelp = "job table, schema.table allowed (default: [worker] table of the config, else pgxq_job)";

}  // namespace

ViewCli::ViewCli(CLI::App& app, const std::string& config_help, const std::string& database_help) {
  // One value slot per option name; the maps' nodes never move, so CLI11 may keep references.
  auto add = [&](CLI::App* cmd, const std::string& key, const std::string& flags, const std::string& help) {
    opt_[cmd->get_name() + "." + key] = cmd->add_option(flags, value_[cmd->get_name() + "." + key], help);
    return opt_[cmd->get_name() + "." + key];
  };
  auto common = [&](CLI::App* cmd) {
    add(cmd, "config", "-c,--config", config_help);
    add(cmd, "database", "-d,--database", database_help);
    add(cmd, "table", "-t,--table", kTableHelp);
    cmd->add_flag("--json", json_, "print JSON (for scripts) instead of text");
  };

  stats_ = app.add_subcommand("stats", "Show per queue and kind: due, scheduled and running jobs, ages, the last hour's outcomes");
  add(stats_, "queue", "-q,--queue", "only this queue");
  add(stats_, "watch", "-w,--watch", "redraw every INTERVAL (default 2s) until Ctrl-C, like top")->expected(0, 1);
  common(stats_);
  stats_->footer(
      "Examples:\n  pgxqd stats --config /etc/pgxqd/pgxqd.toml\n  pgxqd stats --queue mail --watch 5s\n"
      "Counts read the partial indexes and stop at 1,000,000 (shown as ≥1,000,000); totals of the whole table are "
      "the planner's estimates. With --watch and --json: one JSON object per line and interval.");

  list_ = app.add_subcommand("list", "List jobs, newest first: id, kind, queue, state, attempt, scheduled time, error");
  add(list_, "state", "-s,--state", "only jobs in this state: available, running, completed, failed or discarded");
  add(list_, "kind", "-k,--kind", "only jobs of this kind");
  add(list_, "queue", "-q,--queue", "only jobs of this queue");
  add(list_, "limit", "-n,--limit", "at most this many jobs (default 20, at most 1000)");
  add(list_, "before_id", "--before-id", "only jobs with a smaller id: the next page (list prints the command for it)");
  common(list_);
  list_->footer("Examples:\n  pgxqd list --state failed --limit 50\n  pgxqd list --queue mail --before-id 1200 --json");

  show_ = app.add_subcommand("show", "Show one job: every column, the args pretty-printed, the whole error");
  add(show_, "id", "ID", "the job's id")->required();
  common(show_);
  show_->footer("Example:\n  pgxqd show 1234\nExit status 1 when no job has that id.");
}

std::optional<int> ViewCli::run() const {
  auto given = [&](const CLI::App* cmd, const std::string& key) -> std::optional<std::string> {
    const std::string name = cmd->get_name() + "." + key;
    auto it = opt_.find(name);
    if (it == opt_.end() || it->second->count() == 0) return std::nullopt;
    return value_.at(name);
  };
  auto fill = [&](ViewOptions& v, const CLI::App* cmd) {
    v.config = given(cmd, "config");
    v.database = given(cmd, "database");
    v.table = given(cmd, "table");
    v.json = json_;
  };
  if (stats_->parsed()) {
    StatsOptions o;
    fill(o, stats_);
    o.queue = given(stats_, "queue");
    o.watch = given(stats_, "watch");
    return stats(o, std::cout);
  }
  if (list_->parsed()) {
    ListOptions o;
    fill(o, list_);
    o.state = given(list_, "state");
    o.kind = given(list_, "kind");
    o.queue = given(list_, "queue");
    o.limit = given(list_, "limit");
    o.before_id = given(list_, "before_id");
    return list(o, std::cout);
  }
  if (show_->parsed()) {
    ShowOptions o;
    fill(o, show_);
    o.id = *given(show_, "id");
    return show(o, std::cout);
  }
  return std::nullopt;
}

}  // namespace pgxq::app
