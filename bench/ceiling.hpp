// bench/ceiling: PostgreSQL's own ceiling for the daemon's work — the engine's exact claim and
// completion statements (queue/sql.hpp, the claim's parameters bound by queue/claim.hpp),
// prepared per connection as the engine does, issued back to back by N connections with no
// handler and no daemon in between.
#pragma once

#include <string>

#include "bench.hpp"

namespace pgxq::bench {

// Claims up to `batch` jobs (with the engine's scan fronts and parameters, queue::Claim) and
// completes them with one batched, guarded UPDATE; per connection, until nothing handled is
// available.
void ceiling_claim_complete(const Env& env, const std::string& table, int connections, int batch);

// Per job: claim 1 (autocommit, as the engine claims), then one transaction holding the testkit
// `record` handler's INSERT INTO record_table (job_id, value) and the guarded single-job
// completion. The daemon claims in batches, so it saves a round trip per job over this.
void ceiling_claim_insert_complete(const Env& env, const std::string& table, const std::string& record_table,
                                   int connections);

}  // namespace pgxq::bench
