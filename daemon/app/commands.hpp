// app/commands: the short admin commands — migrate, schema, check-config, version. Each
// returns its exit code and throws CommandError / ConfigError / LoadError for the CLI to map.
#pragma once

#include <optional>
#include <string>

namespace pgxq::app {

struct TableOptions {
  std::optional<std::string> config, database, table;
};
// --table alone when given, else the worker table and every [queues.<name>] table.
int migrate(const TableOptions& options);
int schema(const TableOptions& options);

struct CheckConfigOptions {
  std::optional<std::string> config, database, plugins_dir;
  bool offline = false;  // skip the database and table check
  bool allow_root = false;  // as for `run`: without it, root is refused as `run` refuses it
};
int check_config(const CheckConfigOptions& options);

int version();

}  // namespace pgxq::app
