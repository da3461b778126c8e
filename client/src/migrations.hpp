// The versioned schema migrations of a job table: an ordered list, each entry rendering its SQL
// for one (validated) table name. See migrations.cpp for the rules every entry follows.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "internal.hpp"

namespace pgxq::client::detail {

// An index that pgxq_migrate builds with CREATE INDEX CONCURRENTLY, outside a transaction, so
// inserts into a live table go on while it is built.
struct ConcurrentIndex {
  std::string name;        // unquoted; it lives in the table's schema
  std::string definition;  // "ON <table> (...) WHERE ..."
  std::string skip_if;     // "" or a query returning true when an equivalent valid index exists
  bool unique = false;     // CREATE UNIQUE INDEX
};

struct Migration {
  int version;
  const char* description;
  // The migration as SQL text: what pgxq_schema prints, and what pgxq_migrate runs in its
  // transaction unless `index` is set.
  std::string (*sql)(const TableName& table);
  // When set, pgxq_migrate builds this index concurrently instead of running `sql`.
  std::optional<ConcurrentIndex> (*index)(const TableName& table) = nullptr;
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
