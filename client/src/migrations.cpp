// The job table's schema, as an ordered list of versioned migrations. pgxq_migrate applies the
// ones a table has not recorded yet; pgxq_schema prints them all.
//
// Rules for every entry, because a table may have been created or partly upgraded by someone
// else (go-pgxq's Migrate, a DBA running pgxq_schema's output by hand):
//   - idempotent: IF NOT EXISTS / CREATE OR REPLACE / DROP IF EXISTS + CREATE, so re-running an
//     applied migration is harmless;
//   - additive: new columns have defaults, nothing is dropped or renamed, so go-pgxq's own
//     Insert and Client keep working on the same table;
//   - never edited once released: change the schema by appending a new version.
#include "migrations.hpp"

namespace pgxq::client::detail {

namespace {

// v1: go-pgxq v0.2.0's table and indexes, column for column.
std::string v1_job_table(const TableName& t) {
  const std::string table = t.sql();
  return "CREATE TABLE IF NOT EXISTS " + table +
         " (\n"
         "    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
         "    kind          TEXT        NOT NULL,\n"
         "    args          JSONB       NOT NULL DEFAULT '{}',\n"
         "    state         TEXT        NOT NULL DEFAULT 'available',\n"
         "    queue         TEXT        NOT NULL DEFAULT 'default',\n"
         "    priority      SMALLINT    NOT NULL DEFAULT 0,\n"
         "    attempt       SMALLINT    NOT NULL DEFAULT 0,\n"
         "    max_attempts  SMALLINT    NOT NULL DEFAULT 5,\n"
         "    scheduled_at  TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
         "    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
         "    attempted_at  TIMESTAMPTZ,\n"
         "    completed_at  TIMESTAMPTZ,\n"
         "    error         TEXT,\n"
         "    CHECK (state IN ('available', 'running', 'completed', 'failed', 'discarded'))\n"
         ");\n"
         "CREATE INDEX IF NOT EXISTS " +
         quote_identifier("idx_" + t.flat() + "_fetch") + " ON " + table +
         " (queue, kind, priority, scheduled_at) WHERE state = 'available';\n"
         "CREATE INDEX IF NOT EXISTS " +
         quote_identifier("idx_" + t.flat() + "_rescue") + " ON " + table + " (attempted_at) WHERE state = 'running';\n";
}

// v2: one NOTIFY per inserting statement and queue, so workers wake without polling and a
// COPY of 10,000 jobs costs one notification, not 10,000. Jobs scheduled in the future do not
// notify (the poll finds them). Queue names too long for a payload (8000 bytes) just do not
// notify, rather than failing the insert.
std::string v2_notify_trigger(const TableName& t) {
  const std::string table = t.sql();
  const std::string function = t.sibling(t.base + "_notify");
  const std::string trigger = quote_identifier(t.base + "_notify");
  return "CREATE OR REPLACE FUNCTION " + function +
         "() RETURNS trigger LANGUAGE plpgsql AS $pgxq$\n"
         "BEGIN\n"
         "  PERFORM pg_notify('" +
         notify_channel(t) +
         "', q.queue)\n"
         "     FROM (SELECT DISTINCT queue FROM new_jobs\n"
         "            WHERE state = 'available' AND scheduled_at <= now()) q\n"
         "    WHERE octet_length(q.queue) < 8000;\n"
         "  RETURN NULL;\n"
         "END\n"
         "$pgxq$;\n"
         "DROP TRIGGER IF EXISTS " +
         trigger + " ON " + table +
         ";\n"
         "CREATE TRIGGER " +
         trigger + " AFTER INSERT ON " + table +
         " REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION " + function + "();\n";
}

// v3: some go-pgxq releases create the fetch index as (queue, priority, scheduled_at), without
// kind. pgxqd's claim reads each handled kind's first candidates in order from an index led by
// (queue, kind, priority, scheduled_at); without one a claim degrades with the backlog of other
// kinds. Adds that index only where no equivalent exists, so fresh tables don't carry two.
std::string v3_claim_index(const TableName& t) {
  const std::string table = t.sql();
  return "DO $pgxq$\n"
         "BEGIN\n"
         "  IF NOT EXISTS (SELECT 1 FROM pg_index i\n"
         "                  WHERE i.indrelid = '" + table + "'::regclass\n"
         "                    AND pg_get_indexdef(i.indexrelid) LIKE\n"
         "                        '%(queue, kind, priority, scheduled_at) WHERE (state = ''available''::text)') THEN\n"
         "    CREATE INDEX " + quote_identifier("idx_" + t.flat() + "_claim") + " ON " + table +
         " (queue, kind, priority, scheduled_at) WHERE state = 'available';\n"
         "  END IF;\n"
         "END\n"
         "$pgxq$;\n";
}

// v3 as pgxq_migrate builds it: concurrently, unless an equivalent valid index exists.
std::optional<ConcurrentIndex> v3_claim_index_build(const TableName& t) {
  const std::string table = t.sql();
  return ConcurrentIndex{"idx_" + t.flat() + "_claim",
                         "ON " + table + " (queue, kind, priority, scheduled_at) WHERE state = 'available'",
                         "SELECT EXISTS (SELECT 1 FROM pg_index i\n"
                         "                WHERE i.indrelid = '" + table + "'::regclass AND i.indisvalid\n"
                         "                  AND pg_get_indexdef(i.indexrelid) LIKE\n"
                         "                      '%(queue, kind, priority, scheduled_at) WHERE (state = ''available''::text)')"};
}

// The plain CREATE INDEX form of an index pgxq_migrate builds concurrently: what pgxq_schema
// prints for it, from the one definition both use.
template <std::optional<ConcurrentIndex> (*build)(const TableName&)>
std::string plain_index(const TableName& t) {
  const ConcurrentIndex ix = *build(t);
  return std::string(ix.unique ? "CREATE UNIQUE" : "CREATE") + " INDEX IF NOT EXISTS " + quote_identifier(ix.name) +
         " " + ix.definition + ";\n";
}

// v4: the claim starts each kind's index scan at a front, (priority, scheduled_at, id) of the
// first job its last claim took, so it does not walk the dead entries that worked jobs leave
// in front until vacuum. Jobs inserted in one transaction share scheduled_at; without id in
// the index such a bound cannot skip within them. Same predicate as the fetch index.
std::optional<ConcurrentIndex> v4_front_index_build(const TableName& t) {
  return ConcurrentIndex{"idx_" + t.flat() + "_front",
                         "ON " + t.sql() + " (queue, kind, priority, scheduled_at, id) WHERE state = 'available'", ""};
}

// v5: the operator's controls, one small table each beside the job table, so the job table and
// go-pgxq's view of it are untouched: paused queues (`pgxqd pause`; every daemon on the table
// stops claiming from them) and cancellation requests for running jobs (`pgxqd cancel`; the
// daemon running the job tells its handler to stop and discards the job).
std::string v5_control_tables(const TableName& t) {
  return "CREATE TABLE IF NOT EXISTS " + t.sibling(t.base + "_pause") +
         " (\n"
         "    queue      TEXT        PRIMARY KEY,\n"
         "    paused_at  TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
         "    paused_by  TEXT\n"
         ");\n"
         "CREATE TABLE IF NOT EXISTS " + t.sibling(t.base + "_cancel") +
         " (\n"
         "    job_id        BIGINT      PRIMARY KEY,\n"
         "    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
         "    requested_by  TEXT\n"
         ");\n";
}

// v6: finished jobs by state and finishing time, so that counting recent failures (`pgxqd
// stats`) and deleting old finished jobs (`pgxqd purge`, retention) read a range of an index
// instead of the whole table. The state change at the end of a job already updates an indexed
// column (the claim indexes' predicate), so this adds an index entry, not a lost HOT update.
std::optional<ConcurrentIndex> v6_finished_index_build(const TableName& t) {
  return ConcurrentIndex{"idx_" + t.flat() + "_done",
                         "ON " + t.sql() + " (state, completed_at) WHERE state IN ('completed', 'failed', 'discarded')", ""};
}

// v7: what unique jobs, snoozes and periodic jobs need. Two nullable/defaulted columns (adding
// them rewrites nothing on PostgreSQL 11+, and go-pgxq names its columns in every statement, so
// its Insert and Client do not see them) and one table beside the job table:
//   unique_key  — a job's deduplication key (see v8); NULL for ordinary jobs;
//   snoozes     — how often the job was snoozed (a snooze gives its attempt back, so this is
//                 what shows, and bounds, a job that snoozes forever);
//   <table>_periodic — per periodic entry, the last scheduled time enqueued: advanced in the
//                 transaction that inserts the run, only forwards, so each scheduled time is
//                 enqueued once, however many daemons and leader changes.
std::string v7_unique_snooze_periodic(const TableName& t) {
  return "ALTER TABLE " + t.sql() +
         "\n"
         "    ADD COLUMN IF NOT EXISTS unique_key TEXT,\n"
         "    ADD COLUMN IF NOT EXISTS snoozes    INTEGER NOT NULL DEFAULT 0;\n"
         "CREATE TABLE IF NOT EXISTS " + t.sibling(t.base + "_periodic") +
         " (\n"
         "    name         TEXT        PRIMARY KEY,\n"
         "    last_run_at  TIMESTAMPTZ NOT NULL,\n"
         "    last_job_id  BIGINT,\n"
         "    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()\n"
         ");\n";
}

// v8: at most one unfinished (available or running) job per kind and unique_key. Finished jobs
// leave the index, so a completed job frees its key. Built concurrently: the table is live.
std::optional<ConcurrentIndex> v8_unique_index_build(const TableName& t) {
  return ConcurrentIndex{"idx_" + t.flat() + "_unique",
                         "ON " + t.sql() +
                             " (kind, unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'running')",
                         "", true};
}

constexpr Migration all[] = {
    {1, "job table and indexes (go-pgxq v0.2.0)", v1_job_table},
    {2, "statement-level NOTIFY trigger", v2_notify_trigger},
    {3, "claim index where the fetch index lacks kind (older go-pgxq tables)", v3_claim_index, v3_claim_index_build},
    {4, "claim index with id, for scans that start at a front", plain_index<v4_front_index_build>, v4_front_index_build},
    {5, "operator controls: paused queues, cancellation requests", v5_control_tables},
    {6, "finished-jobs index (state, completed_at), for stats and purge", plain_index<v6_finished_index_build>, v6_finished_index_build},
    {7, "unique_key and snoozes columns, periodic runs table", v7_unique_snooze_periodic},
    {8, "unique index (kind, unique_key) over unfinished jobs", plain_index<v8_unique_index_build>, v8_unique_index_build},
};

}  // namespace

std::span<const Migration> migrations() { return all; }

bool check_migratable(const TableName& t, pgxq_error* err) {
  // The longest derived name is idx_<flat>_rescue.
  const std::string longest = "idx_" + t.flat() + "_rescue";
  if (longest.size() > max_identifier) {
    set_error(err, "table name \"" + t.given() + "\" is too long for a job table: the index name \"" + longest +
                       "\" would exceed PostgreSQL's 63-byte identifier limit (use at most " +
                       std::to_string(max_identifier - 11) + " characters, schema included)");
    return false;
  }
  return true;
}

}  // namespace pgxq::client::detail
