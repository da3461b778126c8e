// queue/table_check: where a job table stands before the engine works it — whether it exists,
// and which of libpgxq's migrations it has, read from libpgxq's version ledger
// (pgxq_schema_status) — and what that means for the engine. `pgxqd run` and `pgxqd
// check-config` both ask here, so check-config passes only where run would start.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgxq::queue {

// The libpgxq migrations the engine adapts to (client/src/migrations.cpp numbers them).
inline constexpr int kNotifyTriggerMigration = 2;  // the NOTIFY trigger LISTEN wake-ups rely on
inline constexpr int kFrontIndexMigration = 4;     // idx_<table>_front, for scan fronts by id

struct TableCheck {
  std::string table;
  bool exists = false;
  // 0: no recorded migration (created by go-pgxq, or by hand); -1: unknown, this role may not
  // read the ledger (then the engine assumes none).
  int applied_version = 0;
  int latest_version = 0;   // the last migration this pgxqd's libpgxq knows

  bool version_known() const noexcept { return applied_version >= 0; }
  bool has_notify_trigger() const noexcept { return applied_version >= kNotifyTriggerMigration; }
  bool has_front_index() const noexcept { return applied_version >= kFrontIndexMigration; }

  // "job table T does not exist: run `pgxqd migrate --table T` first".
  std::string missing_message() const;
  // What a table behind on its migrations costs, each with what to do; empty when up to date.
  // `listen`: whether the engine would LISTEN for new jobs (else a missing trigger costs
  // nothing); `poll_interval` is how often it polls instead.
  std::vector<std::string> warnings(bool listen, std::chrono::milliseconds poll_interval) const;
  // Why `periodic_entries` periodic entries cannot run on this table (it is below migration 8,
  // which periodic jobs need), naming `pgxqd migrate`; nullopt when they can, or when none.
  std::optional<std::string> periodic_problem(size_t periodic_entries) const;
};

// The engine refuses to start because a table lacks a migration the configuration needs (a
// configuration problem: the daemon exits 78).
class SchemaTooOld : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Whether the job table (`quoted`, as the statements name it) has `column`: from the catalog,
// not the ledger, so a table this role cannot read the version of, or one made by hand, says by
// its columns what a statement may name.
bool has_column(pg::Connection& conn, const std::string& quoted, const std::string& column);

// Reads the table's state; throws pg::Error when the database cannot be asked.
TableCheck check_table(pg::Connection& conn, const std::string& table);

}  // namespace pgxq::queue
