// The versioned schema migrations of a job table: an ordered list, each entry rendering its SQL
// for one (validated) table name. See migrations.cpp for the rules every entry follows.
#pragma once

#include <span>
#include <string>

#include "internal.hpp"

namespace pgxq::client::detail {

struct Migration {
  int version;
  const char* description;
  std::string (*sql)(const TableName& table);
};

// The ledger of applied versions (job_table, version, applied_at), one per schema, next to the
// job tables it records: job_table holds the table's unqualified name.
inline constexpr const char* migrations_table = "pgxq_schema_migrations";

// All migrations, in the order they must run (versions strictly increasing from 1).
std::span<const Migration> migrations();

// Refuses names whose derived identifiers (index, trigger, function, channel names) would be
// silently truncated by PostgreSQL's 63-byte identifier limit and then collide.
bool check_migratable(const TableName& table, pgxq_error* err);

}  // namespace pgxq::client::detail
