// app/steer_commands: the commands that change the queue — retry, cancel, pause, resume,
// purge — on the table app/context resolves. Parses and checks every argument before the first
// statement; prints a text report or (--json) one JSON object; maps admin errors onto exit codes
// (bad input 64, unreachable database 69, anything else 1 — also when some given ids could not
// be retried or cancelled, after the others were).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pgxq::app {

struct SteerOptions {
  std::optional<std::string> config, database, table;
  bool json = false;
  bool dry_run = false;
  int batch_size = 1000;
  std::vector<std::string> ids;  // as typed (checked here)
  std::optional<std::string> state, kind, queue;
  std::vector<std::string> queues;  // pause / resume
  std::optional<std::string> older_than;  // purge
};

int retry_command(const SteerOptions& options);
int cancel_command(const SteerOptions& options);
int pause_command(const SteerOptions& options);
int resume_command(const SteerOptions& options);
int purge_command(const SteerOptions& options);

}  // namespace pgxq::app
