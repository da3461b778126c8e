// The size-tagged structs' compatibility rule (client.h, "Compatibility"): a struct as small as
// the first (1.0) layout works and nothing past its struct_size is read; too small, too large or
// garbage sizes are refused with a message and nothing sent; NULL options mean the defaults;
// arrays of specs are stepped through by the caller's struct_size, with per-job options.
#include <doctest/doctest.h>
#include <pgxq/client.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "client_test_util.hpp"
#include "support.hpp"

using namespace pgxq::test;
using namespace pgxq::test::client;

namespace {

// The 1.0 layouts end with these fields; programs built against the 1.0 header pass these sizes.
constexpr size_t insert_opts_size_1_0 = offsetof(pgxq_insert_opts, delay_seconds) + sizeof(double);
constexpr size_t job_spec_size_1_0 = offsetof(pgxq_job_spec, opts) + sizeof(void*);

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// `size` bytes that end exactly where an inaccessible page begins: reading one byte past them
// crashes the test, so a library that reads more than struct_size says cannot pass.
class GuardedBytes {
public:
  explicit GuardedBytes(size_t size) : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    REQUIRE(size <= page_);
    void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<unsigned char*>(p);
    REQUIRE(mprotect(base_ + page_, page_, PROT_NONE) == 0);
    data_ = base_ + page_ - size;
  }
  ~GuardedBytes() { munmap(base_, 2 * page_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(data_);
  }

private:
  size_t page_;
  unsigned char* base_ = nullptr;
  unsigned char* data_ = nullptr;
};

}  // namespace

TEST_CASE("sized structs: options of the 1.0 size work, and nothing past struct_size is read") {
  TempTable table("sized");
  auto conn = connect();
  REQUIRE(insert_opts_size_1_0 <= sizeof(pgxq_insert_opts));

  GuardedBytes opts_bytes(insert_opts_size_1_0);
  auto* opts = opts_bytes.as<pgxq_insert_opts>();
  std::memset(static_cast<void*>(opts), 0, insert_opts_size_1_0);
  opts->struct_size = insert_opts_size_1_0;
  opts->table = table.name().c_str();
  opts->queue = "old";
  opts->has_delay = 1;
  opts->delay_seconds = 7200;
  pgxq_error err{};
  int64_t id = pgxq_insert(conn.get(), "k", nullptr, opts, &err);
  REQUIRE_MESSAGE(id > 0, err.message);
  CHECK(count_rows(conn, table.name(), "queue = 'old' AND scheduled_at = created_at + interval '2 hours'") == 1);

  // A batch of 1.0-sized specs, the last one ending at the guard page.
  constexpr size_t count = 3;
  GuardedBytes spec_bytes(count * job_spec_size_1_0);
  auto* specs = spec_bytes.as<unsigned char>();
  std::memset(specs, 0, count * job_spec_size_1_0);
  for (size_t i = 0; i < count; ++i) {
    auto* spec = reinterpret_cast<pgxq_job_spec*>(specs + i * job_spec_size_1_0);
    spec->struct_size = job_spec_size_1_0;
    spec->kind = "old_batch";
    spec->opts = i == 1 ? opts : nullptr;
  }
  REQUIRE_MESSAGE(pgxq_insert_many(conn.get(), table.name().c_str(), reinterpret_cast<pgxq_job_spec*>(specs), count,
                                   &err) == 3,
                  err.message);
  CHECK(count_rows(conn, table.name(), "kind = 'old_batch' AND queue = 'default'") == 2);
  CHECK(count_rows(conn, table.name(), "kind = 'old_batch' AND queue = 'old' AND scheduled_at > now() + interval '1 hour'") == 1);
}

TEST_CASE("sized structs: a too small, too large or garbage struct_size is refused and nothing is sent") {
  TempTable table("sized");
  auto conn = connect();
  pgxq_error err{};
  for (size_t bad : {size_t{0}, size_t{8}, insert_opts_size_1_0 - 1, sizeof(pgxq_insert_opts) + 8, size_t{0xdeadbeef}}) {
    INFO("struct_size ", bad);
    pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
    o.table = table.name().c_str();
    o.struct_size = bad;
    std::strcpy(err.sqlstate, "XXXXX");
    CHECK(pgxq_insert(conn.get(), "k", nullptr, &o, &err) == -1);
    CHECK(std::string(err.sqlstate).empty());
    const std::string message = err.message;
    CHECK(contains(message, "pgxq_insert_opts.struct_size is " + std::to_string(bad)));
    CHECK(contains(message, "PGXQ_INSERT_OPTS_INIT"));
    CHECK(contains(message, bad > sizeof o ? "built against a newer libpgxq" : "smaller than any pgxq_insert_opts"));

    pgxq_job_spec spec = PGXQ_JOB_SPEC_INIT;
    spec.kind = "k";
    spec.opts = &o;
    CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), &spec, 1, &err) == -1);
    CHECK(contains(err.message, "job 0: pgxq_insert_opts.struct_size is " + std::to_string(bad)));

    spec.opts = nullptr;
    spec.struct_size = bad;
    CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), &spec, 1, &err) == -1);
    CHECK(contains(err.message, "job 0: pgxq_job_spec.struct_size is " + std::to_string(bad)));
    CHECK(contains(err.message, "PGXQ_JOB_SPEC_INIT"));
  }

  // Every spec of an array must have the size the array is stepped by.
  std::vector<pgxq_job_spec> specs(4, pgxq_job_spec PGXQ_JOB_SPEC_INIT);
  for (auto& s : specs) s.kind = "k";
  specs[2].struct_size = 0;
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == -1);
  CHECK(contains(err.message, "job 2: pgxq_job_spec.struct_size is 0, smaller than any"));
  specs[2].struct_size = sizeof(pgxq_job_spec) + 8;
  CHECK(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == -1);
  CHECK(contains(err.message, "job 2: pgxq_job_spec.struct_size is " + std::to_string(sizeof(pgxq_job_spec) + 8) +
                                  ", larger than"));

  CHECK(count_rows(conn, table.name()) == 0);
}

TEST_CASE("sized structs: NULL options are the defaults, and specs may share or differ in options") {
  TempTable table("sized");
  auto conn = connect();
  pgxq_error err{};
  pgxq_insert_opts in_table = PGXQ_INSERT_OPTS_INIT;
  in_table.table = table.name().c_str();
  REQUIRE_MESSAGE(pgxq_insert(conn.get(), "explicit", nullptr, &in_table, &err) > 0, err.message);
  CHECK(count_rows(conn, table.name(), "queue = 'default' AND priority = 0 AND max_attempts = 5 AND scheduled_at = created_at") == 1);

  // pgxq_insert with NULL options goes to the default table, pgxq_job: inside a transaction
  // rolled back, so the shared default table is left as it was.
  {
    pgxq::pg::Transaction tx(conn);
    const int64_t default_table_exists = scalar(conn, "SELECT count(*) FROM (SELECT to_regclass('pgxq_job') AS t) r WHERE t IS NOT NULL");
    int64_t id = pgxq_insert(conn.get(), "defaults", nullptr, nullptr, &err);
    if (default_table_exists) {
      REQUIRE_MESSAGE(id > 0, err.message);
      CHECK(count_rows(conn, "pgxq_job", "id = " + std::to_string(id) +
                                             " AND queue = 'default' AND priority = 0 AND max_attempts = 5") == 1);
    } else {
      CHECK(id == -1);
      CHECK(std::string(err.sqlstate) == "42P01");
      CHECK(contains(err.message, "pgxq_job"));
    }
    tx.rollback();
  }

  pgxq_insert_opts urgent = PGXQ_INSERT_OPTS_INIT;
  urgent.has_priority = 1;
  urgent.priority = -5;
  urgent.queue = "urgent";
  pgxq_insert_opts patient;
  pgxq_insert_opts_init(&patient);
  patient.has_max_attempts = 1;
  patient.max_attempts = 20;
  std::vector<pgxq_job_spec> specs(6, pgxq_job_spec PGXQ_JOB_SPEC_INIT);
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].kind = "mixed";
    specs[i].opts = i % 3 == 0 ? nullptr : i % 3 == 1 ? &urgent : &patient;
  }
  REQUIRE_MESSAGE(pgxq_insert_many(conn.get(), table.name().c_str(), specs.data(), specs.size(), &err) == 6, err.message);
  CHECK(count_rows(conn, table.name(), "kind = 'mixed' AND queue = 'default' AND priority = 0 AND max_attempts = 5") == 2);
  CHECK(count_rows(conn, table.name(), "kind = 'mixed' AND queue = 'urgent' AND priority = -5 AND max_attempts = 5") == 2);
  CHECK(count_rows(conn, table.name(), "kind = 'mixed' AND queue = 'default' AND priority = 0 AND max_attempts = 20") == 2);
}

TEST_CASE("sized structs: 1.0 options give a job without a unique key, and the result is written within its struct_size") {
  TempTable table("sized");
  auto conn = connect();
  // A 1.0 caller's options end before unique_key: whatever lies past them is never read.
  GuardedBytes opts_bytes(insert_opts_size_1_0);
  auto* opts = opts_bytes.as<pgxq_insert_opts>();
  std::memset(static_cast<void*>(opts), 0, insert_opts_size_1_0);
  opts->struct_size = insert_opts_size_1_0;
  opts->table = table.name().c_str();
  // The result as a 1.1 caller compiles it (its first layout, padding included, so that it stays
  // aligned when it ends at the guard page): writing past it would crash.
  constexpr size_t result_size_1_1 = sizeof(pgxq_insert_result);
  GuardedBytes result_bytes(result_size_1_1);
  auto* result = result_bytes.as<pgxq_insert_result>();
  std::memset(static_cast<void*>(result), 0, result_size_1_1);
  result->struct_size = result_size_1_1;
  pgxq_error err{};
  for (int i = 0; i < 2; ++i) {
    REQUIRE_MESSAGE(pgxq_insert_ex(conn.get(), "same", nullptr, opts, result, &err) == 0, err.message);
    CHECK(result->inserted == 1);
    CHECK(result->id > 0);
  }
  CHECK(count_rows(conn, table.name(), "kind = 'same' AND unique_key IS NULL") == 2);
}
