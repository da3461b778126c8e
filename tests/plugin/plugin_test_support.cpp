// Plugin test support: see plugin_test_support.hpp.
#include "plugin_test_support.hpp"

#include <doctest/doctest.h>

#include <dlfcn.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "plugin/abi_check.hpp"
#include "plugin/host_api.hpp"
#include "plugin/registry.hpp"
#include "support.hpp"

namespace pgxq::test {

std::string fixture_dir() { return PGXQ_PLUGIN_FIXTURE_DIR; }

PluginDir::PluginDir() : path_(temp_dir("pgxq-plugins")) {}

PluginDir::~PluginDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string PluginDir::add(const std::string& source, const std::string& name, unsigned mode) {
  std::string dest = path_ + "/" + name;
  std::filesystem::copy_file(source, dest, std::filesystem::copy_options::overwrite_existing);
  if (::chmod(dest.c_str(), mode) != 0) throw std::runtime_error("chmod " + dest + " failed");
  return dest;
}

namespace {

// Shares ownership of the stream, so the logger stays valid however long someone keeps it.
class SharedStreamSink : public spdlog::sinks::base_sink<std::mutex> {
public:
  explicit SharedStreamSink(std::shared_ptr<std::ostringstream> out) : out_(std::move(out)) {}

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    out_->write(buf.data(), static_cast<std::streamsize>(buf.size()));
  }
  void flush_() override {}

private:
  std::shared_ptr<std::ostringstream> out_;
};

}  // namespace

CapturedLog::CapturedLog() : out(std::make_shared<std::ostringstream>()) {
  logger = std::make_shared<spdlog::logger>("plugin-test", std::make_shared<SharedStreamSink>(out));
  logger->set_level(spdlog::level::trace);
}

plugin::LoaderOptions loader_options(const std::string& dir, std::shared_ptr<spdlog::logger> log) {
  plugin::LoaderOptions o;
  o.dir = dir;
  o.log = log ? std::move(log) : std::make_shared<spdlog::logger>("plugin-test");  // no sinks: discards
  return o;
}

pg::Result TxContext::exec(std::string_view sql, std::span<const pg::Param> params) {
  if (!tx_) tx_.emplace(conn_);
  return conn_.exec(sql, params);
}

void TxContext::log(queue::LogLevel, std::string_view message) { logs.emplace_back(message); }

void TxContext::finish(const queue::Outcome& outcome) {
  if (!tx_) return;
  if (outcome.code == queue::OutcomeCode::complete)
    tx_->commit();
  else
    tx_->rollback();
  tx_.reset();
}

queue::Job make_job(const std::string& kind, const std::string& args, int attempt) {
  static std::atomic<int64_t> next_id{1000};
  queue::Job job;
  job.id = ++next_id;
  job.kind = kind;
  job.queue = "default";
  job.args = args;
  job.attempt = attempt;
  job.max_attempts = 5;
  job.priority = 0;
  job.scheduled_at_us = 1700000000000000;
  job.created_at_us = 1699999999000000;
  return job;
}

queue::Outcome call(const plugin::LoadedPlugins& plugins, const queue::Job& job, TxContext& ctx) {
  auto it = plugins.handlers().find(job.kind);
  if (it == plugins.handlers().end()) throw std::runtime_error("no handler for kind " + job.kind);
  queue::Outcome outcome = it->second(job, ctx);
  ctx.finish(outcome);
  return outcome;
}

std::string load_error(const plugin::LoaderOptions& options) {
  try {
    plugin::load_plugins(options);
  } catch (const plugin::LoadError& e) {
    return e.what();
  }
  FAIL("load_plugins did not refuse");
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return true;
  MESSAGE("\"" << needle << "\" not in: " << haystack);
  return false;
}

queue::Outcome run_with_table(const std::string& path, const pgxq_plugin_host* host, const queue::Job& job) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed, like the loader's
  REQUIRE_MESSAGE(handle != nullptr, dlerror());
  auto entry = reinterpret_cast<pgxq_plugin_entry_fn>(dlsym(handle, PGXQ_PLUGIN_ENTRY_NAME));
  REQUIRE((entry != nullptr));
  const pgxq_plugin_descriptor* d = entry();
  const auto refused = plugin::check_abi(path, d, {}, plugin::HostAbi{host->abi_major, host->abi_minor});
  REQUIRE_MESSAGE(!refused, refused.value_or(""));

  plugin::Registry registry;
  pgxq_plugin p;
  p.name = d->name;
  p.path = path;
  p.descriptor = d;
  p.registry = &registry;
  p.initialising = true;
  REQUIRE(d->init(host, &p) == 0);
  p.initialising = false;
  p.registry = nullptr;
  const plugin::Registration* reg = registry.find(job.kind);
  REQUIRE(reg != nullptr);

  auto conn = connect();
  TxContext ctx(conn);
  pgxq_plugin_job cjob(job, ctx, &p);
  queue::Outcome outcome = plugin::to_outcome(reg->fn(host, &cjob, reg->user_data), cjob);
  ctx.finish(outcome);
  return outcome;
}

pgxq_plugin_host abi_1_0_host() {
  pgxq_plugin_host h = *plugin::host_table();
  h.abi_minor = 0;
  h.struct_size = offsetof(pgxq_plugin_host, job_snoozes);
  h.job_snoozes = nullptr;  // never read: struct_size says it is not there
  return h;
}

}  // namespace pgxq::test
