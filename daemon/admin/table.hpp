// admin/table: a job table as the admin commands read it — validated and quoted once, whether
// it exists, its schema version, and which of the later migrations' objects it has (the pause
// table of v5, the finished-jobs index of v6), so each command can degrade with a hint
// instead of failing or scanning the whole table. Also the read-only snapshot they all read in.
#pragma once

#include <chrono>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgxq::admin {

// The five states of the CHECK constraint, in a job's life order.
inline constexpr const char* kStates[] = {"available", "running", "completed", "failed", "discarded"};
bool is_state(const std::string& s) noexcept;
// "available, running, completed, failed, discarded".
std::string state_list();

// A column that may be NULL, as text or as a number.
std::optional<std::string> opt_text(const pg::Result& r, int row, int col);
std::optional<double> opt_double(const pg::Result& r, int row, int col);

// The job table does not exist (or is not visible to this role).
class TableMissing : public std::runtime_error {
public:
  explicit TableMissing(const std::string& table);
  const std::string& table() const noexcept { return table_; }

private:
  std::string table_;
};

struct JobTable {
  std::string name;          // as given, e.g. "pgxq_job" or "app.jobs"
  std::string quoted;        // "app"."jobs"
  std::string pause_quoted;   // "app"."jobs_pause" (schema v5)
  std::string cancel_quoted;  // "app"."jobs_cancel" (schema v5)
  int schema_version = 0;    // libpgxq's ledger: 0 none recorded, -1 unreadable
  int latest_version = 0;
  bool has_pause_table = false;
  bool has_cancel_table = false;
  bool has_done_index = false;  // (state, completed_at) over finished jobs (schema v6)

  // What the table lacks for these commands, each with what to do; empty when nothing.
  std::vector<std::string> hints() const;
};

// Validates and inspects `name`. Throws TableMissing, pg::Error (with SQLSTATE), or
// std::invalid_argument for a name go-pgxq's rules refuse.
JobTable open_job_table(pg::Connection& conn, const std::string& name);

// A READ ONLY, REPEATABLE READ transaction (every figure from one snapshot) whose statements
// give up after `timeout`, so a command can never hold the job table's snapshot for long.
class ReadSnapshot {
public:
  explicit ReadSnapshot(pg::Connection& conn, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  pg::Connection& connection() noexcept { return tx_.connection(); }

private:
  pg::Transaction tx_;
};

}  // namespace pgxq::admin
