// End-to-end: the real pgxqd binary's read-only admin commands — stats (once, and --watch into
// a pipe until SIGTERM), list and show — as text and --json, against a table a real daemon
// worked with the testkit plugin and against seeded rows; and their bad input: unknown and
// non-numeric ids, bad states and limits, unknown queues, a missing table.
#include <doctest/doctest.h>

#include <csignal>

#include <nlohmann/json.hpp>

#include "../daemon/e2e.hpp"

using namespace pgxq::test;
using nlohmann::json;

namespace {

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

RunResult pgxqd_cmd(std::vector<std::string> args) {
  args.insert(args.begin(), pgxqd());
  return run(std::move(args));
}

const json* kind_of(const json& stats, const std::string& queue, const std::string& kind) {
  for (const auto& q : stats["queues"])
    if (q["queue"] == queue)
      for (const auto& k : q["kinds"])
        if (k["kind"] == kind) return &k;
  return nullptr;
}

}  // namespace

TEST_CASE("stats, list, show: what a real daemon did, as --json and text, untrusted text escaped") {
  TempTable t("adm_e2e");
  TestConfig cfg(t.name(), "[queues.default]\nmax_workers = 4\n[queues.mail]\nmax_workers = 4\n", "shutdown_timeout = \"100ms\"\n");
  enqueue_sql(t.name(), "noop", "{}", 3);
  enqueue_sql(t.name(), "discard", R"({"message": "<script>x</script>\u001b[2J\nsecond line"})", 2, "mail");
  enqueue_sql(t.name(), "sleep", R"({"ms": 600000})", 1);
  Process daemon(run_argv(cfg.path));
  REQUIRE(wait_until([&] {
    return count_jobs(t.name(), "state = 'completed'") == 3 && count_jobs(t.name(), "state = 'discarded'") == 2 &&
           count_jobs(t.name(), "state = 'running'") == 1;
  }));

  auto s = pgxqd_cmd({"stats", "--config", cfg.path, "--json"});
  REQUIRE(s.code == 0);
  auto stats = json::parse(s.out);
  CHECK(stats["table"] == t.name());
  auto* noop = kind_of(stats, "default", "noop");
  REQUIRE(noop);
  CHECK((*noop)["completed_last_hour"] == 3);
  CHECK((*noop)["available"] == 0);
  CHECK((*noop)["oldest_due_age_seconds"].is_null());
  auto* discard = kind_of(stats, "mail", "discard");
  REQUIRE(discard);
  CHECK((*discard)["discarded_last_hour"] == 2);
  CHECK((*discard)["failed_last_hour"] == 0);
  auto* sleep = kind_of(stats, "default", "sleep");
  REQUIRE(sleep);
  CHECK((*sleep)["running"] == 1);
  CHECK((*sleep)["longest_running_seconds"].is_number());

  auto text = pgxqd_cmd({"stats", "--config", cfg.path});
  REQUIRE(text.code == 0);
  CHECK(has(text.out, "table " + t.name()));
  CHECK(has(text.out, "DONE/1h"));
  CHECK(has(text.out, "noop"));

  auto l = pgxqd_cmd({"list", "--config", cfg.path, "--state", "discarded", "--json"});
  REQUIRE(l.code == 0);
  auto page = json::parse(l.out);
  REQUIRE(page["jobs"].size() == 2);
  CHECK(page["jobs"][0]["id"].get<int64_t>() > page["jobs"][1]["id"].get<int64_t>());
  CHECK(page["jobs"][0]["error"] == "discard: <script>x</script>\x1b[2J\nsecond line");
  const int64_t id = page["jobs"][0]["id"];

  auto lt = pgxqd_cmd({"list", "--config", cfg.path, "--state", "discarded"});
  REQUIRE(lt.code == 0);
  CHECK(has(lt.out, "<script>x</script>\\x1b[2J …"));  // first line only, escape shown, not sent
  CHECK_FALSE(has(lt.out, "\x1b"));
  CHECK(has(lt.out, "discarded"));
  CHECK(has(lt.out, "1/5"));

  auto sh = pgxqd_cmd({"show", std::to_string(id), "--config", cfg.path});
  REQUIRE(sh.code == 0);
  CHECK(has(sh.out, "job " + std::to_string(id) + " in table " + t.name()));
  CHECK(has(sh.out, "\"message\": \"<script>x</script>\\u001b[2J\\nsecond line\""));  // jsonb_pretty
  CHECK(has(sh.out, "  discard: <script>x</script>\\x1b[2J\n  second line\n"));  // the whole error, line by line
  CHECK_FALSE(has(sh.out, "\x1b"));

  auto sj = pgxqd_cmd({"show", std::to_string(id), "--config", cfg.path, "--json"});
  REQUIRE(sj.code == 0);
  auto job = json::parse(sj.out);
  CHECK(job["id"] == id);
  CHECK(job["state"] == "discarded");
  CHECK(job["args"]["message"] == "<script>x</script>\x1b[2J\nsecond line");
  CHECK(job["error"] == "discard: <script>x</script>\x1b[2J\nsecond line");
  CHECK(job["completed_at"].is_string());
  CHECK_FALSE(has(sj.out, "\x1b"));

  daemon.signal(SIGTERM);
  auto code = daemon.wait();
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("list: paging with --before-id and the next-page command, and an unknown queue lists nothing") {
  TempTable t("adm_page");
  enqueue_sql(t.name(), "noop", "{}", 5);
  auto first = pgxqd_cmd({"list", "--table", t.name(), "--limit", "3", "--json"});
  REQUIRE(first.code == 0);
  auto p1 = json::parse(first.out);
  REQUIRE(p1["jobs"].size() == 3);
  CHECK(p1["jobs"][0]["id"] == 5);
  CHECK(p1["next_before_id"] == 3);
  auto second = pgxqd_cmd({"list", "--table", t.name(), "--limit", "3", "--before-id", "3", "--json"});
  auto p2 = json::parse(second.out);
  REQUIRE(p2["jobs"].size() == 2);
  CHECK(p2["jobs"][0]["id"] == 2);
  CHECK(p2["next_before_id"].is_null());

  auto text = pgxqd_cmd({"list", "--table", t.name(), "--limit", "3"});
  CHECK(has(text.out, "next page: pgxqd list --before-id 3 --limit 3 --table " + t.name()));

  auto none = pgxqd_cmd({"list", "--table", t.name(), "--queue", "no_such_queue"});
  CHECK(none.code == 0);
  CHECK(has(none.out, "no jobs match"));
  auto none_stats = pgxqd_cmd({"stats", "--table", t.name(), "--queue", "no_such_queue", "--json"});
  CHECK(none_stats.code == 0);
  CHECK(json::parse(none_stats.out)["queues"].empty());
}

TEST_CASE("bad input: usage errors exit 64, an unknown id and a missing table exit 1, each saying what to do") {
  TempTable t("adm_bad");
  enqueue_sql(t.name(), "noop", "{}", 1);
  const std::string before = std::to_string(count_jobs(t.name(), "true"));

  auto unknown = pgxqd_cmd({"show", "424242", "--table", t.name()});
  CHECK(unknown.code == 1);
  CHECK(has(unknown.err, "no job with id 424242 in table " + t.name()));
  CHECK(unknown.out.empty());

  auto word = pgxqd_cmd({"show", "abc", "--table", t.name()});
  CHECK(word.code == 64);
  CHECK(has(word.err, "must be a whole number"));

  auto state = pgxqd_cmd({"list", "--state", "done", "--table", t.name()});
  CHECK(state.code == 64);
  CHECK(has(state.err, "one of: available, running, completed, failed, discarded"));

  for (const char* limit : {"0", "1001", "ten"}) {
    auto r = pgxqd_cmd({"list", "--limit", limit, "--table", t.name()});
    CHECK(r.code == 64);
    CHECK(has(r.err, "--limit"));
  }
  auto before_id = pgxqd_cmd({"list", "--before-id", "x", "--table", t.name()});
  CHECK(before_id.code == 64);

  auto watch = pgxqd_cmd({"stats", "--watch", "soon", "--table", t.name()});
  CHECK(watch.code == 64);

  const std::string missing = unique_name("adm_none");
  for (std::vector<std::string> args : {std::vector<std::string>{"stats"}, {"list"}, {"show", "1"}}) {
    args.insert(args.end(), {"--table", missing});
    auto r = pgxqd_cmd(args);
    CHECK(r.code == 1);
    CHECK(has(r.err, "pgxqd migrate --table " + missing));
  }
  auto bad_name = pgxqd_cmd({"stats", "--table", "1bad"});
  CHECK(bad_name.code == 64);

  CHECK(std::to_string(count_jobs(t.name(), "true")) == before);
  CHECK(count_jobs(t.name(), "state = 'available'") == 1);
}

TEST_CASE("stats --watch into a pipe: one snapshot per interval, blank-line separated, SIGTERM ends it with 0") {
  TempTable t("adm_watch");
  enqueue_sql(t.name(), "noop", "{}", 2);
  Process text({pgxqd(), "stats", "--table", t.name(), "--watch", "100ms"});
  REQUIRE(wait_until([&] { return occurrences(text.out(), "(database time)") >= 2; }));
  text.signal(SIGTERM);
  auto code = text.wait();
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(has(text.out(), "\n\ntable " + t.name()));
  CHECK_FALSE(has(text.out(), "\x1b["));  // no screen control into a pipe

  Process lines({pgxqd(), "stats", "--table", t.name(), "--watch", "--json"});
  REQUIRE(wait_until([&] { return occurrences(lines.out(), "\n") >= 2; }));
  lines.signal(SIGINT);
  code = lines.wait();
  REQUIRE(code);
  CHECK(*code == 0);
  const std::string out = lines.out();
  const std::string first = out.substr(0, out.find('\n'));
  CHECK(json::parse(first)["queues"][0]["kinds"][0]["available"] == 2);
}

TEST_CASE("stats, list and show: --help has an example") {
  for (const char* cmd : {"stats", "list", "show"}) {
    auto r = pgxqd_cmd({cmd, "--help"});
    CHECK(r.code == 0);
    CHECK(has(r.out, std::string("pgxqd ") + cmd));
    CHECK(has(r.out, "--json"));
    CHECK(has(r.out, "Example"));
  }
}
