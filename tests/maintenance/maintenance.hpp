// Maintenance test helpers: a daemon config with short maintenance intervals, who leads a table
// as PostgreSQL shows it (the daemon's process id, read from the leader session's name), and
// what a daemon's log says about its leadership.
#pragma once

#include <optional>
#include <string>

#include "queue/leader.hpp"
#include "reliability.hpp"

namespace pgxq::test::maint {

// [maintenance] and [retention] as TOML, short intervals unless `extra` overrides a section.
std::string maintenance_toml(const std::string& leader_check = "200ms", const std::string& retention = "",
                             const std::string& maintenance_extra = "");

// The leader of `table` now, if any.
std::optional<queue::LeaderInfo> leader_of(const std::string& table);
// The process id of the daemon leading `table` (from "pgxqd leader <host>:<pid>"), or 0.
int leader_daemon_pid(const std::string& table);

// Rows of `table` matching `where`.
int64_t count_jobs_where(const std::string& table, const std::string& where);

// Whether a daemon's log says it leads now: its last "became leader" comes after its last
// "lost leadership" (or resignation).
bool log_says_leader(const std::string& log);

}  // namespace pgxq::test::maint
