// app/steer_cli: the command-line entries of `retry`, `cancel`, `pause`, `resume` and `purge`
// (app/steer_commands), added to pgxqd's CLI11 app beside the others, and run when one of them
// was chosen.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "app/steer_commands.hpp"

namespace pgxq::app {

class SteerCli {
public:
  SteerCli(CLI::App& app, const std::string& database_help);
  SteerCli(const SteerCli&) = delete;
  SteerCli& operator=(const SteerCli&) = delete;

  // After parsing: the exit code of the chosen command, nullopt when none of these was chosen.
  std::optional<int> run() const;

private:
  CLI::Option* option(const std::string& key) const;

  SteerOptions options_;                       // flags and lists, filled by CLI11
  std::map<std::string, CLI::App*> commands_;  // by name
  std::map<std::string, CLI::Option*> opt_;    // "<command>.<key>"
  std::map<std::string, std::string> value_;   // by key, filled by CLI11
};

}  // namespace pgxq::app
