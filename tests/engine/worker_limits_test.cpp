// Resource limits on the worker side: a worker thread that cannot be started (TasksMax,
// RLIMIT_NPROC: std::thread throws std::system_error) never takes the engine down; the queue
// hands back the jobs it cannot run and works on with the threads it has.
#include <doctest/doctest.h>

#include <system_error>

#include "engine_fixture.hpp"

using namespace pgxq;
using namespace pgxq::test;
using namespace std::chrono_literals;

namespace {

// Starts the first `allowed` threads, then fails like std::thread at a process limit.
auto limited_threads(int allowed) {
  auto started = std::make_shared<std::atomic<int>>(0);
  return [started, allowed](std::function<void()> run) {
    if (started->fetch_add(1) >= allowed)
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                              "thread creation refused by the test");
    return std::thread(std::move(run));
  };
}

}  // namespace

TEST_CASE("a worker thread that cannot be started: jobs run on the workers there are") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  auto o = f.options();
  o.max_workers = 4;
  o.start_thread = limited_threads(1);
  for (int i = 0; i < 12; ++i) f.insert("sleep", R"({"ms": 20})");
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 12; }));
  e->stop();
  CHECK(f.log.contains("cannot start a worker thread"));
  CHECK(e->stats()[0].max_workers == 1);
  CHECK(f.count("attempt <> 1") == 0);  // handed-back jobs did not use up an attempt
}

TEST_CASE("no worker thread can be started: claimed jobs are handed back, not left running") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  auto o = f.options();
  o.start_thread = limited_threads(0);
  const int64_t id = f.insert("noop");
  auto e = f.make_engine(o);
  e->start();
  REQUIRE(wait_until([&] { return f.log.contains("released 1 claimed job(s) that had not started"); }));
  e->stop();
  auto row = f.row(id);
  CHECK(row.state == "available");
  CHECK(row.attempt == 0);
  CHECK(f.log.contains("cannot start a worker thread (0 running)"));
}

TEST_CASE("args longer than max_args_bytes: the job fails at once without running, the queue goes on") {
  EngineFixture f;
  INFO("engine log:\n" << f.log.text());
  auto o = f.options();
  o.max_args_bytes = 4096;
  auto ran = std::make_shared<std::atomic<int>>(0);
  queue::HandlerMap extra{{"counted", [ran](const queue::Job&, queue::JobContext&) {
                             ++*ran;
                             return queue::Outcome::complete();
                           }}};
  const int64_t big = f.insert("counted", R"({"blob": ")" + std::string(100000, 'y') + R"("})");
  const int64_t at_limit = f.insert("counted", R"({"blob": ")" + std::string(4096 - 12, 'y') + R"("})");
  const int64_t small = f.insert("counted");
  const int64_t big_len = scalar(f.db(), "SELECT octet_length(args::text) FROM " + f.table() + " WHERE id = $1",
                                 {std::to_string(big)});
  REQUIRE(scalar(f.db(), "SELECT octet_length(args::text) FROM " + f.table() + " WHERE id = $1",
                 {std::to_string(at_limit)}) == 4096);
  auto e = f.make_engine(o, extra);
  e->start();
  REQUIRE(wait_until([&] { return f.row(big).state == "failed"; }));
  REQUIRE(wait_until([&] { return f.count("state = 'completed'") == 2; }));
  e->stop();
  CHECK(ran->load() == 2);
  auto row = f.row(big);
  CHECK(row.attempt == 1);
  REQUIRE(row.error);
  CHECK(row.error->find("args are " + std::to_string(big_len) + " bytes") != std::string::npos);
  CHECK(row.error->find("max_args_bytes = 4096") != std::string::npos);
  CHECK(f.row(at_limit).state == "completed");
  CHECK(f.row(small).state == "completed");
}
