// Engine test fixture implementation.
#include "engine_fixture.hpp"

#include <pgxq/client.h>

#include <stdexcept>

namespace pgxq::test {

CapturedLog::CapturedLog() : sink_(std::make_shared<Sink>()) {
  logger = std::make_shared<spdlog::logger>("engine-test", sink_);
  logger->set_level(spdlog::level::debug);
  logger->set_pattern("%l %v");
}

std::string CapturedLog::text() const { return sink_->text(); }

EngineFixture::EngineFixture(const std::string& table_prefix) : table_(table_prefix), db_(connect()) {
  plugin::LoaderOptions lo;
  lo.dir = plugin_dir();
  lo.log = log.logger;
  plugins_ = plugin::load_plugins(lo);
}

EngineFixture::~EngineFixture() {
  for (auto& t : extra_tables_) {
    try {
      db_.exec("DROP TABLE IF EXISTS " + t);
    } catch (...) {
    }
  }
}

queue::EngineOptions EngineFixture::options() const {
  queue::EngineOptions o;
  o.conninfo = conninfo();
  o.table = table();
  o.poll_interval = std::chrono::milliseconds(100);
  o.max_workers = 4;
  o.pool_size = 4;
  o.rescue_after = std::chrono::hours(1);
  o.shutdown_timeout = std::chrono::seconds(10);
  o.cancel_grace = std::chrono::seconds(5);
  o.backoff = queue::BackoffPolicy{std::chrono::milliseconds(10), std::chrono::milliseconds(50), 2.0, 0.0};
  return o;
}

queue::HandlerMap EngineFixture::handlers(queue::HandlerMap extra) const {
  queue::HandlerMap h = plugins_.handlers();
  for (auto& [k, v] : extra) h[k] = v;
  return h;
}

std::unique_ptr<queue::Engine> EngineFixture::make_engine(queue::EngineOptions o, queue::HandlerMap extra) {
  return std::make_unique<queue::Engine>(std::move(o), handlers(std::move(extra)), log.logger);
}

int64_t EngineFixture::insert(const std::string& kind, const std::string& args, const std::string& queue,
                              int priority, int max_attempts) {
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  o.table = table().c_str();
  o.queue = queue.c_str();
  o.has_priority = 1;
  o.priority = priority;
  o.has_max_attempts = 1;
  o.max_attempts = max_attempts;
  pgxq_error err{};
  int64_t id = pgxq_insert(db_.get(), kind.c_str(), args.c_str(), &o, &err);
  if (id < 0) throw std::runtime_error(std::string("insert failed: ") + err.message);
  return id;
}

JobRow EngineFixture::row(int64_t id) {
  auto r = db_.exec("SELECT state, attempt, error, attempted_at IS NULL, completed_at IS NULL FROM " + table() +
                        " WHERE id = $1",
                    {std::to_string(id)});
  if (r.rows() != 1) throw std::runtime_error("no job " + std::to_string(id));
  JobRow j;
  j.state = r.text(0, 0);
  j.attempt = static_cast<int>(r.int64(0, 1));
  if (!r.is_null(0, 2)) j.error = std::string(r.text(0, 2));
  j.attempted_at_null = r.text(0, 3) == "t";
  j.completed_at_null = r.text(0, 4) == "t";
  return j;
}

int64_t EngineFixture::count(const std::string& where) {
  return scalar(db_, "SELECT count(*) FROM " + table() + " WHERE " + where);
}

std::string EngineFixture::record_table() {
  auto name = unique_name("rec");
  db_.exec("CREATE TABLE " + name + " (seq bigserial PRIMARY KEY, job_id bigint NOT NULL, value text)");
  extra_tables_.push_back(name);
  return name;
}

}  // namespace pgxq::test
