// bench/ceiling: see ceiling.hpp.
#include "ceiling.hpp"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "db.hpp"
#include "pg/connection.hpp"
#include "queue/claim.hpp"
#include "queue/engine.hpp"
#include "queue/scan_front.hpp"
#include "queue/sql.hpp"

namespace pgxq::bench {

namespace {

// Runs `body(conn)` on `connections` threads, each with its own connection; rethrows the
// first failure.
template <typename Body>
void run_connections(const Env& env, int connections, Body body) {
  std::vector<std::unique_ptr<pg::Connection>> conns;
  for (int i = 0; i < connections; ++i) {
    conns.push_back(std::make_unique<pg::Connection>(env.conninfo));
    conns.back()->exec(queue::kClaimSessionSetup);  // as the engine's producer
  }
  std::mutex mu;
  std::exception_ptr failure;
  std::vector<std::thread> threads;
  for (auto& c : conns)
    threads.emplace_back([&, conn = c.get()] {
      try {
        body(*conn);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

// A claim that returned nothing: done only when no handled job is left available (others may
// just hold the remaining candidates locked).
bool anything_left(pg::Connection& conn, const queue::TableSql& sql, const std::string& kinds) {
  return conn.exec("SELECT 1 FROM " + sql.quoted +
                       " WHERE state = 'available' AND queue = 'default' AND kind = ANY($1::text[]) LIMIT 1",
                   {kinds})
             .rows() > 0;
}

}  // namespace

void ceiling_claim_complete(const Env& env, const std::string& table, int connections, int batch) {
  const queue::TableSql sql(table);
  const std::string kinds = quote_array(testkit_kinds());
  const std::string claim = sql.claim(testkit_kinds().size(), /*by_id=*/true, queue::EngineOptions{}.max_args_bytes);  // migrated tables
  run_connections(env, connections, [&](pg::Connection& conn) {
    conn.prepare("claim", claim);
    conn.prepare("complete_many", sql.complete_many);
    // The engine's own scan fronts, so the ceiling's claims cost what the engine's do.
    queue::ScanFront front(testkit_kinds(), queue::kFullScanEvery, /*by_id=*/true);
    for (;;) {
      const queue::Claim c("default", kinds, batch, front.next(Clock::now()));
      auto r = conn.exec_prepared("claim", c.params());
      front.claimed(queue::claimed_jobs(r, "default"), batch);
      if (r.rows() == 0) {
        if (!c.full_scan()) continue;  // look again from the start
        if (!anything_left(conn, sql, kinds)) return;
        continue;
      }
      std::vector<int64_t> ids, attempts, attempted_at;
      for (int i = 0; i < r.rows(); ++i) {
        ids.push_back(r.int64(i, 0));
        attempts.push_back(r.int64(i, 3));
        attempted_at.push_back(r.int64(i, 8));
      }
      auto done = conn.exec_prepared("complete_many",
                                     {queue::int_array(ids), queue::int_array(attempts), queue::int_array(attempted_at)});
      if (done.rows() != r.rows())
        throw VerifyError("ceiling: completed " + std::to_string(done.rows()) + " of " + std::to_string(r.rows()) +
                          " claimed jobs");
    }
  });
}

void ceiling_claim_insert_complete(const Env& env, const std::string& table, const std::string& record_table,
                                   int connections) {
  const queue::TableSql sql(table);
  const std::string kinds = quote_array(testkit_kinds());
  const std::string claim = sql.claim(testkit_kinds().size(), /*by_id=*/true, queue::EngineOptions{}.max_args_bytes);  // migrated tables
  const std::string insert = "INSERT INTO \"" + record_table + "\" (job_id, value) VALUES ($1, $2)";
  run_connections(env, connections, [&](pg::Connection& conn) {
    conn.prepare("claim", claim);
    conn.prepare("complete_one", sql.complete_one);
    conn.prepare("record", insert);
    queue::ScanFront front(testkit_kinds(), queue::kFullScanEvery, /*by_id=*/true);
    for (;;) {
      // Claimed on its own, as the engine claims: a claim held open for the whole job would
      // keep its candidates locked and starve the other connections' SKIP LOCKED claims.
      const queue::Claim c("default", kinds, 1, front.next(Clock::now()));
      auto r = conn.exec_prepared("claim", c.params());
      front.claimed(queue::claimed_jobs(r, "default"), 1);
      if (r.rows() == 0) {
        if (!c.full_scan()) continue;  // look again from the start
        if (!anything_left(conn, sql, kinds)) return;
        continue;
      }
      std::string id(r.text(0, 0)), attempt(r.text(0, 3)), attempted_at(r.text(0, 8));
      pg::Transaction tx(conn);
      conn.exec_prepared("record", {id, "ceiling"});
      auto done = conn.exec_prepared("complete_one", {id, attempt, attempted_at});
      if (done.affected() != 1) throw VerifyError("ceiling: job " + id + " was not completed");
      tx.commit();
    }
  });
}

}  // namespace pgxq::bench
