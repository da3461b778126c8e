// The claim must cost O(batch) whatever the backlog: checked with EXPLAIN (ANALYZE, BUFFERS)
// on a 200,000-job backlog with many handled kinds, unhandled kinds piling up in front, and
// several priorities. No Sort may see more than the candidates; buffers stay bounded.
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "queue/claim.hpp"
#include "queue/scan_front.hpp"
#include "queue/sql.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

struct PlanFigures {
  long max_sorted_rows = 0;
  long buffers = 0;
  long claimed = 0;
  std::string text;
};

// `generic`: the plan a prepared statement ends up with after a few runs, made without the
// parameters' values (so without knowing which kinds are asked for).
// `front`: where each kind's scan starts (ScanFront's parameters); by default from the start.
// `by_id`: the claim for tables with migration 4's index (TempTable's are migrated).
PlanFigures explain_claim(pg::Connection& db, const queue::TableSql& sql, const std::string& kinds, size_t kind_count,
                          int n, bool generic, std::optional<queue::ScanFront::Params> front = std::nullopt,
                          bool by_id = true) {
  PlanFigures f;
  if (!front) {
    std::vector<std::string> names;
    for (size_t i = 0; i < kind_count; ++i) names.push_back("k" + std::to_string(i));
    front = queue::ScanFront(names, std::chrono::milliseconds(100), by_id).next(std::chrono::steady_clock::now());
  }
  pg::Transaction tx(db);  // EXPLAIN ANALYZE runs the UPDATE: roll it back
  db.exec("DEALLOCATE ALL");
  if (generic) db.exec("SET LOCAL plan_cache_mode = force_generic_plan");
  db.exec("PREPARE claim_plan(text, text[], int, int, int2[], int8[], int8[]) AS " + sql.claim(kind_count, by_id));
  // The engine's parameters, as literals (none of them holds a quote).
  const queue::Claim claim("default", kinds, n, *front);
  std::string args;
  for (const pg::Param& p : claim.params())
    args += (args.empty() ? "'" : ", '") + std::string(*p) + "'";
  auto r = db.exec("EXPLAIN (ANALYZE, BUFFERS) EXECUTE claim_plan(" + args + ")");
  std::regex rows_re(R"(actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9]+))");
  std::regex buf_re(R"(Buffers: shared( hit=([0-9]+))?( read=([0-9]+))?)");
  bool top_buffers = false;
  for (int i = 0; i < r.rows(); ++i) {
    std::string line(r.text(i, 0));
    f.text += line + "\n";
    std::smatch m;
    if (line.find("Sort") != std::string::npos && line.find("Sort Key") == std::string::npos &&
        line.find("Sort Method") == std::string::npos && std::regex_search(line, m, rows_re))
      f.max_sorted_rows = std::max(f.max_sorted_rows, std::stol(m[1]));
    if (i == 0 && std::regex_search(line, m, rows_re)) f.claimed = std::stol(m[1]);
    if (!top_buffers && std::regex_search(line, m, buf_re)) {
      // The first Buffers line belongs to the top node and includes everything below it.
      f.buffers = (m[2].matched ? std::stol(m[2]) : 0) + (m[4].matched ? std::stol(m[4]) : 0);
      top_buffers = true;
    }
  }
  return f;
}

queue::TableSql sql_for(const TempTable& t) { return queue::TableSql(t.name()); }

}  // namespace

TEST_CASE("claim on a 200,000-job backlog: no sort over the backlog, bounded buffers") {
  TempTable t("plan");
  auto db = connect();
  // 50,000 unhandled jobs pile up in front (oldest, best priority), then 150,000 over 10
  // kinds (5 handled) and 3 priorities.
  db.exec("INSERT INTO " + t.name() +
          " (kind, priority, scheduled_at) SELECT 'unhandled_' || (g % 3), 0, now() - interval '2 days'"
          " FROM generate_series(1, 50000) g");
  db.exec("INSERT INTO " + t.name() +
          " (kind, priority, scheduled_at) SELECT 'kind_' || (g % 10), g % 3, now() - interval '1 day' + g * interval '1 ms'"
          " FROM generate_series(1, 150000) g");
  db.exec("ANALYZE " + t.name());
  queue::TableSql sql(t.name());
  const std::string handled = "{kind_0,kind_1,kind_2,kind_3,kind_4}";

  for (bool by_id : {true, false})
    for (bool generic : {false, true})
    for (int n : {1, 10, 100}) {
      CAPTURE(by_id);
      CAPTURE(generic);
      CAPTURE(n);
      auto f = explain_claim(db, sql, handled, 5, n, generic, std::nullopt, by_id);
      INFO(f.text);
      CHECK(f.claimed == n);
      CHECK(f.max_sorted_rows <= queue::claim_candidates(n));  // only the candidates are ever sorted
      // A full scan would touch thousands of pages; the claim touches a few per job.
      CHECK(f.buffers < 200 + 40 * n);
    }

  // And the order is go-pgxq's across all handled kinds: priority, then scheduled_at.
  pg::Transaction tx(db);
  auto from_start = queue::ScanFront({"a", "b", "c", "d", "e"}, std::chrono::milliseconds(100), true)
                        .next(std::chrono::steady_clock::now());
  auto r = db.exec(sql.claim(5, true), queue::Claim("default", handled, 10, from_start).params());
  REQUIRE(r.rows() == 10);
  // Claimed rows are now running, so compare against the ids the claim returned.
  std::set<int64_t> claimed;
  for (int i = 0; i < r.rows(); ++i) claimed.insert(r.int64(i, 0));
  auto expected = db.exec("SELECT id FROM " + t.name() +
                          " WHERE kind = ANY($1::text[]) ORDER BY priority, scheduled_at LIMIT 10",
                          {handled});
  for (int i = 0; i < expected.rows(); ++i) CHECK(claimed.count(expected.int64(i, 0)) == 1);
}

TEST_CASE("claim from the scan fronts skips the dead index entries of the jobs already worked") {
  // ties: every job inserted by one statement, so all share one scheduled_at (as jobs inserted
  // in one transaction do); only migration 4's id in the index lets a front skip within them.
  for (bool ties : {false, true}) {
    CAPTURE(ties);
    TempTable t("front");
    auto db = connect();
    const std::vector<std::string> kinds{"kind_0", "kind_1", "kind_2", "kind_3", "kind_4"};
    const std::string handled = "{kind_0,kind_1,kind_2,kind_3,kind_4}";
    db.exec("INSERT INTO " + t.name() + " (kind, scheduled_at) SELECT 'kind_' || (g % 5), now() - interval '1 day'" +
            (ties ? std::string() : std::string(" + g * interval '1 ms'")) + " FROM generate_series(1, 100000) g");
    db.exec("VACUUM ANALYZE " + t.name());
    // 60,000 jobs worked since the last vacuum: their fetch-index entries are dead, and in front.
    db.exec("UPDATE " + t.name() + " SET state = 'completed', attempt = 1, completed_at = now() WHERE id <= 60000");

    // Fronts as the engine keeps them: the first job of each kind its last claim took (here the
    // last one worked; all before it are dead).
    queue::ScanFront front(kinds, std::chrono::milliseconds(100), true);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(front.next(t0).full);
    auto lasts = db.exec("SELECT DISTINCT ON (kind) id, kind, priority, (extract(epoch FROM scheduled_at) * 1000000)::int8"
                         " FROM " + t.name() + " WHERE state = 'completed' ORDER BY kind, scheduled_at DESC, id DESC");
    std::vector<queue::Job> last_claimed;
    for (int i = 0; i < lasts.rows(); ++i) {
      queue::Job j;
      j.id = lasts.int64(i, 0);
      j.kind = lasts.text(i, 1);
      j.priority = static_cast<int>(lasts.int64(i, 2));
      j.scheduled_at_us = lasts.int64(i, 3);
      last_claimed.push_back(j);
    }
    REQUIRE(last_claimed.size() == kinds.size());
    front.claimed(last_claimed, static_cast<int>(last_claimed.size()));
    auto params = front.next(t0 + std::chrono::milliseconds(1));
    REQUIRE_FALSE(params.full);

    for (bool generic : {false, true}) {
      CAPTURE(generic);
      auto f = explain_claim(db, sql_for(t), handled, kinds.size(), 100, generic, params);
      INFO(f.text);
      CHECK(f.claimed == 100);
      CHECK(f.buffers < 200 + 40 * 100);
    }
    // The same jobs as a scan from the start finds: go-pgxq's order, then id.
    pg::Transaction tx(db);
    auto r = db.exec(sql_for(t).claim(5, true), queue::Claim("default", handled, 10, params).params());
    REQUIRE(r.rows() == 10);
    std::set<int64_t> claimed;
    for (int i = 0; i < r.rows(); ++i) claimed.insert(r.int64(i, 0));
    auto expected = db.exec("SELECT id FROM " + t.name() + " WHERE state = 'available' OR id = ANY($1::int8[])" +
                                " ORDER BY priority, scheduled_at, id LIMIT 10",
                            {queue::int_array(std::vector<int64_t>(claimed.begin(), claimed.end()))});
    for (int i = 0; i < expected.rows(); ++i) CHECK(claimed.count(expected.int64(i, 0)) == 1);
  }
}

TEST_CASE("completions look jobs up by primary key, not through the rescue index") {
  TempTable t("cplan");
  auto db = connect();
  // Statistics taken when nothing was running, then a batch running: the situation in which a
  // plain `state = 'running'` guard makes the planner walk the partial rescue index.
  db.exec("INSERT INTO " + t.name() + " (kind, state, attempt, attempted_at, completed_at)"
          " SELECT 'noop', 'completed', 1, now(), now() FROM generate_series(1, 50000)");
  db.exec("ANALYZE " + t.name());
  db.exec("UPDATE " + t.name() + " SET state = 'running', completed_at = NULL WHERE id <= 100");
  queue::TableSql sql(t.name());
  std::vector<int64_t> ids, attempts;
  for (int64_t i = 1; i <= 100; ++i) {
    ids.push_back(i);
    attempts.push_back(1);
  }
  // Each row's attempted_at, as the claim returns it: every write is guarded by it.
  auto at = db.exec("SELECT string_agg((extract(epoch FROM attempted_at) * 1000000)::int8::text, ',' ORDER BY id) FROM " +
                    t.name() + " WHERE id <= 100");
  const std::string id_arr = queue::int_array(ids), att_arr = queue::int_array(attempts),
                    at_arr = "{" + std::string(at.text(0, 0)) + "}";
  for (const auto* stmt : {&sql.complete_many, &sql.release_many}) {
    pg::Transaction tx(db);
    db.exec("DEALLOCATE ALL");
    db.exec("SET LOCAL plan_cache_mode = force_generic_plan");  // what a prepared statement ends up with
    db.exec("PREPARE done(int8[], int4[], int8[]) AS " + *stmt);
    auto r = db.exec("EXPLAIN (ANALYZE, BUFFERS) EXECUTE done('" + id_arr + "', '" + att_arr + "', '" + at_arr + "')");
    std::string plan;
    for (int i = 0; i < r.rows(); ++i) plan += std::string(r.text(i, 0)) + "\n";
    INFO(plan);
    CHECK(plan.find("_pkey") != std::string::npos);
    CHECK(plan.find("_rescue") == std::string::npos);
    CHECK(plan.find("rows=100 loops=1") != std::string::npos);  // all 100 guarded rows updated
  }
  db.exec("DEALLOCATE ALL");
}
