// bench/scenario_enqueue: libpgxq's insert-one (one transaction per job) and insert-many (COPY
// in batches) against the same work without libpgxq: the same INSERT through plain
// PQexecParams, and a raw COPY of the same rows. Each run on a fresh table; rounds alternate
// the library and its ceiling and the best of each is kept, so a noisy moment on a shared
// machine does not decide the ratio. Also insert-many with a unique key per job (one INSERT ...
// ON CONFLICT DO NOTHING over arrays per batch, as libpgxq sends it) against the same
// insert-many without keys (COPY), in the same rounds: what unique keys cost a bulk insert.
#include <pgxq/client.h>

#include <algorithm>

#include "scenarios.hpp"

namespace pgxq::bench {

namespace {

// libpgxq's own statement (client/src/insert.cpp), so the ceiling inserts the same columns.
std::string insert_sql(const std::string& table) {
  return "INSERT INTO \"" + table +
         "\" (kind, args, queue, priority, max_attempts, scheduled_at)"
         " VALUES ($1, $2::jsonb, $3, $4::smallint, $5::smallint,"
         " coalesce('epoch'::timestamptz + $6::bigint * interval '1 microsecond',"
         " now() + $7::float8 * interval '1 second', now()))"
         " RETURNING id";
}

std::string args_for(int64_t i) { return "{\"i\":" + std::to_string(i) + "}"; }

void check_count(pg::Connection& conn, const std::string& table, int64_t n) {
  verify_outcomes(conn, table, {{{"noop", "available", 0}, n}});
}

double run_insert_one(const Env& env, int64_t n, bool library) {
  JobTable table(env, "enqueue");
  pg::Connection conn(env.conninfo);
  pgxq_insert_opts opts = PGXQ_INSERT_OPTS_INIT;
  opts.table = table.name().c_str();
  const std::string sql = insert_sql(table.name());
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    std::string args = args_for(i);
    if (library) {
      pgxq_error err{};
      if (pgxq_insert(conn.get(), "noop", args.c_str(), &opts, &err) < 0)
        throw std::runtime_error(std::string("pgxq_insert: ") + err.message);
    } else {
      const char* values[7] = {"noop", args.c_str(), "default", "0", "5", nullptr, nullptr};
      pg::Result r(PQexecParams(conn.get(), sql.c_str(), 7, nullptr, values, nullptr, nullptr, 0));
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw pg::make_error(conn.get(), r.get(), "single-row INSERT");
    }
  }
  double seconds = seconds_since(start);
  check_count(conn, table.name(), n);
  return static_cast<double>(n) / seconds;
}

void raw_copy(PGconn* conn, const std::string& table, int64_t from, int64_t count) {
  const std::string copy = "COPY \"" + table + "\" (kind, args, queue, priority, max_attempts, scheduled_at) FROM STDIN";
  pg::Result started(PQexec(conn, copy.c_str()));
  if (PQresultStatus(started.get()) != PGRES_COPY_IN) throw pg::make_error(conn, started.get(), "COPY");
  std::string buf;
  for (int64_t i = from; i < from + count; ++i) {
    buf += "noop\t";
    buf += args_for(i);
    buf += "\tdefault\t0\t5\tnow\n";
  }
  if (PQputCopyData(conn, buf.data(), static_cast<int>(buf.size())) != 1 || PQputCopyEnd(conn, nullptr) != 1)
    throw pg::make_error(conn, nullptr, "COPY data");
  pg::Result done(PQgetResult(conn));
  if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) throw pg::make_error(conn, done.get(), "COPY end");
  while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
}

// `keyed`: every job has its own unique key ("noop:<i>"), so all are inserted, through libpgxq's
// ON CONFLICT path instead of COPY.
double run_insert_many(const Env& env, int64_t n, int batch, bool library, bool keyed = false) {
  JobTable table(env, "enqueue");
  pg::Connection conn(env.conninfo);
  std::vector<std::string> args, keys;
  std::vector<pgxq_insert_opts> opts;
  std::vector<pgxq_job_spec> specs;
  auto start = Clock::now();
  for (int64_t from = 0; from < n; from += batch) {
    int64_t count = std::min<int64_t>(batch, n - from);
    if (library) {
      args.clear();
      keys.clear();
      opts.clear();
      specs.clear();
      for (int64_t i = from; i < from + count; ++i) {
        args.push_back(args_for(i));
        if (keyed) keys.push_back("noop:" + std::to_string(i));
      }
      if (keyed) {
        opts.assign(args.size(), pgxq_insert_opts PGXQ_INSERT_OPTS_INIT);
        for (size_t k = 0; k < keys.size(); ++k) opts[k].unique_key = keys[k].c_str();
      }
      for (size_t k = 0; k < args.size(); ++k)
        specs.push_back(pgxq_job_spec{sizeof(pgxq_job_spec), "noop", args[k].c_str(), keyed ? &opts[k] : nullptr});
      pgxq_error err{};
      if (pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) != count)
        throw std::runtime_error(std::string("pgxq_insert_many: ") + err.message);
    } else {
      raw_copy(conn.get(), table.name(), from, count);
    }
  }
  double seconds = seconds_since(start);
  check_count(conn, table.name(), n);
  return static_cast<double>(n) / seconds;
}

}  // namespace

void scenario_enqueue(const Env& env, Report& report) {
  const auto& o = env.options;
  double one = 0, one_ceiling = 0, many = 0, many_ceiling = 0, many_keyed = 0;
  for (int round = 1; round <= o.rounds; ++round) {
    progress("enqueue", "round " + std::to_string(round) + " of " + std::to_string(o.rounds));
    one = std::max(one, run_insert_one(env, o.enqueue_one, true));
    one_ceiling = std::max(one_ceiling, run_insert_one(env, o.enqueue_one, false));
    many = std::max(many, run_insert_many(env, o.enqueue_many, o.enqueue_batch, true));
    many_ceiling = std::max(many_ceiling, run_insert_many(env, o.enqueue_many, o.enqueue_batch, false));
    many_keyed = std::max(many_keyed, run_insert_many(env, o.enqueue_many, o.enqueue_batch, true, true));
  }
  auto figure = [&](const std::string& name, double value, int64_t jobs) {
    Figure f;
    f.scenario = "enqueue";
    f.name = name;
    f.unit = "jobs/s";
    f.value = value;
    f.jobs = jobs;
    return f;
  };
  const std::string rounds = o.rounds > 1 ? ", best of " + std::to_string(o.rounds) : "";
  Figure f1 = figure("pgxq_insert x " + std::to_string(o.enqueue_one) + ", 1 transaction each" + rounds, one, o.enqueue_one);
  f1.ceiling = one_ceiling;
  f1.ceiling_name = "single-row INSERT per transaction (PQexecParams)";
  f1.ratio = one / one_ceiling;
  f1.target = ">= 90% of single-row INSERT";
  f1.met = *f1.ratio >= 0.90;
  Figure c1 = figure("ceiling: same INSERT via PQexecParams", one_ceiling, o.enqueue_one);
  Figure f2 = figure("pgxq_insert_many x " + std::to_string(o.enqueue_many) + ", COPY batches of " +
                         std::to_string(o.enqueue_batch) + rounds,
                     many, o.enqueue_many);
  f2.ceiling = many_ceiling;
  f2.ceiling_name = "raw COPY of the same rows";
  f2.ratio = many / many_ceiling;
  f2.target = ">= 80% of raw COPY";
  f2.met = *f2.ratio >= 0.80;
  Figure c2 = figure("ceiling: raw COPY (PQputCopyData), same batches", many_ceiling, o.enqueue_many);
  Figure f3 = figure("pgxq_insert_many x " + std::to_string(o.enqueue_many) + " with a unique key each, batches of " +
                         std::to_string(o.enqueue_batch) + " (INSERT ... ON CONFLICT DO NOTHING)" + rounds,
                     many_keyed, o.enqueue_many);
  f3.ceiling = many;
  f3.ceiling_name = "pgxq_insert_many without keys (COPY), same run";
  f3.ratio = many_keyed / many;
  for (auto* f : {&f1, &c1, &f2, &c2, &f3}) report.figures.push_back(*f);
}

}  // namespace pgxq::bench
