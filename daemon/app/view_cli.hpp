// app/view_cli: the command-line entries of `stats`, `list` and `show` (app/view_commands),
// added to pgxqd's CLI11 app beside the others, and run when one of them was chosen.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "app/view_commands.hpp"

namespace pgxq::app {

class ViewCli {
public:
  ViewCli(CLI::App& app, const std::string& config_help, const std::string& database_help);
  ViewCli(const ViewCli&) = delete;
  ViewCli& operator=(const ViewCli&) = delete;

  // After parsing: the exit code of the chosen command, nullopt when none of these was chosen.
  std::optional<int> run() const;

private:
  CLI::App* stats_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* show_ = nullptr;
  std::map<std::string, CLI::Option*> opt_;
  std::map<std::string, std::string> value_;  // filled by CLI11
  bool json_ = false;
};

}  // namespace pgxq::app
