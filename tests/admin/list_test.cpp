// admin::list_jobs against a real job table: newest first, each filter, paging by id, bounds
// on the limit and the state, and the JSON form.
#include <doctest/doctest.h>

#include <stdexcept>

#include "admin/list.hpp"
#include "support.hpp"

using namespace pgxq;
using namespace pgxq::test;

namespace {

void seed(pg::Connection& conn, const std::string& t) {
  // ids 1..5 available "a"/default, 6..8 failed "b"/mail, 9 discarded "a"/mail.
  conn.exec("INSERT INTO " + t + " (kind) SELECT 'a' FROM generate_series(1, 5)");
  conn.exec("INSERT INTO " + t + " (kind, queue, state, attempt, max_attempts, completed_at, error)"
            " SELECT 'b', 'mail', 'failed', 3, 3, now(), 'failure ' || g || E'\\nsecond line' FROM generate_series(1, 3) g");
  conn.exec("INSERT INTO " + t + " (kind, queue, state, attempt, completed_at, error) VALUES ('a', 'mail', 'discarded', 1, now(), 'nope')");
}

std::vector<int64_t> ids(const admin::JobPage& p) {
  std::vector<int64_t> out;
  for (const auto& j : p.jobs) out.push_back(j.id);
  return out;
}

}  // namespace

TEST_CASE("list: newest first, filtered by state, kind and queue, paged by id") {
  TempTable table("adm_list");
  auto conn = connect();
  seed(conn, table.name());

  admin::ListFilter all;
  CHECK(ids(admin::list_jobs(conn, table.name(), all)) == std::vector<int64_t>{9, 8, 7, 6, 5, 4, 3, 2, 1});

  admin::ListFilter failed;
  failed.state = "failed";
  auto page = admin::list_jobs(conn, table.name(), failed);
  CHECK(ids(page) == std::vector<int64_t>{8, 7, 6});
  CHECK(page.jobs[0].error == std::optional<std::string>("failure 3\nsecond line"));
  CHECK(page.jobs[0].attempt == 3);
  CHECK(page.jobs[0].max_attempts == 3);
  CHECK(page.jobs[0].completed_at);
  CHECK_FALSE(page.next_before_id);

  admin::ListFilter kind_queue;
  kind_queue.kind = "a";
  kind_queue.queue = "mail";
  CHECK(ids(admin::list_jobs(conn, table.name(), kind_queue)) == std::vector<int64_t>{9});

  admin::ListFilter first;
  first.limit = 4;
  auto p1 = admin::list_jobs(conn, table.name(), first);
  CHECK(ids(p1) == std::vector<int64_t>{9, 8, 7, 6});
  REQUIRE(p1.next_before_id == std::optional<int64_t>(6));
  first.before_id = p1.next_before_id;
  CHECK(ids(admin::list_jobs(conn, table.name(), first)) == std::vector<int64_t>{5, 4, 3, 2});

  admin::ListFilter nothing;
  nothing.queue = "no_such_queue";
  CHECK(admin::list_jobs(conn, table.name(), nothing).jobs.empty());
}

TEST_CASE("list: a bad state or limit is refused before any query") {
  auto conn = connect();
  admin::ListFilter bad_state;
  bad_state.state = "done";
  CHECK_THROWS_WITH_AS(admin::list_jobs(conn, "no_such_table", bad_state),
                       doctest::Contains("one of: available, running, completed, failed, discarded"),
                       std::invalid_argument);
  admin::ListFilter big;
  big.limit = admin::kMaxListLimit + 1;
  CHECK_THROWS_AS(admin::list_jobs(conn, "no_such_table", big), std::invalid_argument);
  big.limit = 0;
  CHECK_THROWS_AS(admin::list_jobs(conn, "no_such_table", big), std::invalid_argument);
}

TEST_CASE("list: the JSON form keeps every field, and untrusted text as data") {
  TempTable table("adm_list");
  auto conn = connect();
  conn.exec("INSERT INTO " + table.name() + " (kind, state, attempt, completed_at, error) VALUES"
            " (E'k\\x1b[31m', 'failed', 5, now(), E'<script>alert(1)</script>\\n\\x07')");
  admin::ListFilter f;
  f.state = "failed";
  auto j = admin::to_json(admin::list_jobs(conn, table.name(), f));
  CHECK(j["table"] == table.name());
  REQUIRE(j["jobs"].size() == 1);
  CHECK(j["jobs"][0]["kind"] == "k\x1b[31m");
  CHECK(j["jobs"][0]["error"] == "<script>alert(1)</script>\n\x07");
  CHECK(j["jobs"][0]["max_attempts"] == 5);
  CHECK(j["next_before_id"].is_null());
  const std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find("\\u001b") != std::string::npos);
}
