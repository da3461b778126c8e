// bench/db: the database side of a scenario — a fresh job table per run (created with
// libpq's pgxq_migrate, dropped at scope exit), loading a backlog in one statement, waiting
// for it to drain, the span first claim → last completion read from the table, and the
// verification that every job ended exactly as it must.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "pg/connection.hpp"

namespace pgxq::bench {

// A job table migrated by libpgxq, dropped (with its trigger function and ledger rows) at exit.
class JobTable {
public:
  JobTable(const Env& env, const std::string& prefix);
  ~JobTable();
  JobTable(const JobTable&) = delete;
  JobTable& operator=(const JobTable&) = delete;
  const std::string& name() const { return name_; }

private:
  const Env& env_;
  std::string name_;
};

// A plain table for the testkit `record` kind: (job_id bigint PRIMARY KEY, value text), so a
// job recorded twice fails loudly instead of being counted twice. Dropped at exit.
class RecordTable {
public:
  RecordTable(const Env& env, const std::string& prefix);
  ~RecordTable();
  RecordTable(const RecordTable&) = delete;
  RecordTable& operator=(const RecordTable&) = delete;
  const std::string& name() const { return name_; }

private:
  const Env& env_;
  std::string name_;
};

std::string unique_name(const std::string& prefix);

// One kind of job in a backlog and its args; jobs are spread round-robin over the mix.
struct KindMix {
  std::string kind;
  std::string args = "{}";
  int max_attempts = 5;  // the job table's default
};

// Inserts n jobs in one statement (so they become visible, and notify, at one commit), with
// distinct scheduled_at in id order, then ANALYZEs the table. Returns the server's clock right
// after the commit, as epoch seconds.
double load_backlog(pg::Connection& conn, const std::string& table, int64_t n, const std::vector<KindMix>& mix);

// VACUUM (ANALYZE) of a freshly loaded table: what autovacuum does to a backlog that builds up
// over time, done before the measured work instead of in the middle of it.
void settle(pg::Connection& conn, const std::string& table);

// Polls (cheaply, through the partial indexes) until no job of `kinds` is available or
// running; calls `alive` between polls and gives up when it returns false or `deadline` passes.
// Prints a progress line every few seconds on long waits.
void wait_drained(pg::Connection& conn, const std::string& table, const std::vector<std::string>& kinds,
                  std::chrono::seconds deadline, const std::string& scenario, const std::function<bool()>& alive,
                  int64_t total);

// Seconds from the first attempted_at to the last completed_at of the jobs of `kinds` (or from
// `from_epoch`, when given, to the last completed_at), and how many jobs that covers.
struct Span {
  double seconds = 0;
  int64_t jobs = 0;
};
Span table_span(pg::Connection& conn, const std::string& table, const std::vector<std::string>& kinds,
                std::optional<double> from_epoch = std::nullopt);

// (kind, state, attempt) -> count, for every job in the table.
using Outcomes = std::map<std::tuple<std::string, std::string, int>, int64_t>;
Outcomes outcomes(pg::Connection& conn, const std::string& table);
// Throws VerifyError naming the differences when the table's outcomes are not `expected`.
void verify_outcomes(pg::Connection& conn, const std::string& table, const Outcomes& expected);

int64_t count(pg::Connection& conn, const std::string& sql);
std::string quote_array(const std::vector<std::string>& values);

}  // namespace pgxq::bench
