// app/view_commands: the read-only admin commands — `pgxqd stats` (per queue and kind, once or
// redrawn with --watch), `pgxqd list` (a page of jobs) and `pgxqd show` (one job) — as text
// for people or JSON for scripts. They change nothing. Each returns the exit code and throws
// CommandError for usage (64), database (69) and other (1) failures.
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace pgxq::app {

struct ViewOptions {
  std::optional<std::string> config, database, table;
  bool json = false;
};

struct StatsOptions : ViewOptions {
  std::optional<std::string> queue;
  std::optional<std::string> watch;  // set: redraw every INTERVAL ("" means the default, 2s)
};

struct ListOptions : ViewOptions {
  std::optional<std::string> state, kind, queue, limit, before_id;
};

struct ShowOptions : ViewOptions {
  std::string id;
};

int stats(const StatsOptions& options, std::ostream& out);
int list(const ListOptions& options, std::ostream& out);
int show(const ShowOptions& options, std::ostream& out);

}  // namespace pgxq::app
