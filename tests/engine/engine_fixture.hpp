// Engine test fixture: a fresh job table, the testkit plugin loaded through the real loader,
// an engine with short intervals, and helpers to insert jobs and read their rows.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <sstream>

#include "plugin/loader.hpp"
#include "queue/engine.hpp"
#include "support.hpp"

namespace pgxq::test {

// A logger whose lines the test can search (and that also go to stderr on failure output).
class CapturedLog {
public:
  CapturedLog();
  std::shared_ptr<spdlog::logger> logger;
  std::string text() const;
  bool contains(const std::string& needle) const { return text().find(needle) != std::string::npos; }

private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::string text() {
      std::lock_guard lock(mutex_);
      return text_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      spdlog::memory_buf_t buf;
      formatter_->format(msg, buf);
      text_.append(buf.data(), buf.size());
    }
    void flush_() override {}

  private:
    std::string text_;
  };
  std::shared_ptr<Sink> sink_;
};

struct JobRow {
  std::string state;
  int attempt = 0;
  std::optional<std::string> error;
  bool attempted_at_null = true;
  bool completed_at_null = true;
};

class EngineFixture {
public:
  explicit EngineFixture(const std::string& table_prefix = "eng");

  // Options with test-friendly intervals for this fixture's table.
  queue::EngineOptions options() const;
  // The testkit handlers (plus any extra given).
  queue::HandlerMap handlers(queue::HandlerMap extra = {}) const;
  std::unique_ptr<queue::Engine> make_engine(queue::EngineOptions o, queue::HandlerMap extra = {});

  int64_t insert(const std::string& kind, const std::string& args = "{}", const std::string& queue = "default",
                 int priority = 0, int max_attempts = 5);
  JobRow row(int64_t id);
  int64_t count(const std::string& where);
  // Creates a table for the testkit `record` kind: (seq, job_id, value); returns its name.
  std::string record_table();

  const std::string& table() const { return table_.name(); }
  pg::Connection& db() { return db_; }
  CapturedLog log;

private:
  TempTable table_;
  pg::Connection db_;
  plugin::LoadedPlugins plugins_;
  std::vector<std::string> extra_tables_;

public:
  ~EngineFixture();
};

// Waits (with a deadline) until job `id` is in `state`.
inline bool wait_state(EngineFixture& f, int64_t id, const std::string& state,
                       std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  return wait_until([&] { return f.row(id).state == state; }, deadline);
}

}  // namespace pgxq::test
