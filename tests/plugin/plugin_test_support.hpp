// Plugin test support: a directory of plugin copies (the loader refuses files anyone else can
// write, so tests assemble exactly the plugins a case needs, with the modes it needs), a
// queue::JobContext over a real transaction (what the engine gives handlers, without the
// engine), and helpers to build jobs and call a loaded handler.
#pragma once

#include <pgxq/plugin.h>
#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "plugin/loader.hpp"
#include "queue/job.hpp"
#include "support.hpp"

namespace pgxq::test {

std::string fixture_dir();  // test-only plugins (bad ones, probe)

// A fresh directory (mode 0755) removed at destruction.
class PluginDir {
public:
  PluginDir();
  ~PluginDir();
  PluginDir(const PluginDir&) = delete;
  PluginDir& operator=(const PluginDir&) = delete;

  // Copies `source` in as `name` with `mode`; returns the new path.
  std::string add(const std::string& source, const std::string& name, unsigned mode = 0755);
  std::string add_plugin(const std::string& plugin) { return add(plugin_dir() + "/" + plugin + ".so", plugin + ".so"); }
  std::string add_fixture(const std::string& fixture) {
    return add(fixture_dir() + "/" + fixture + ".so", fixture + ".so");
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// A logger writing into a string, to assert on what plugins log.
struct CapturedLog {
  CapturedLog();
  std::shared_ptr<std::ostringstream> out;
  std::shared_ptr<spdlog::logger> logger;
  std::string text() const { return out->str(); }
};

plugin::LoaderOptions loader_options(const std::string& dir, std::shared_ptr<spdlog::logger> log = nullptr);

// The message load_plugins refuses `options` with (a test failure if it loads them).
std::string load_error(const plugin::LoaderOptions& options);
// Whether `needle` is in `haystack`; says what was searched when not.
bool contains(const std::string& haystack, const std::string& needle);

// The job transaction on `conn`, opened lazily by the first exec, as the engine does.
class TxContext : public queue::JobContext {
public:
  explicit TxContext(pg::Connection& conn) : conn_(conn) {}
  pg::Result exec(std::string_view sql, std::span<const pg::Param> params) override;
  bool should_stop() const noexcept override { return stop; }
  void log(queue::LogLevel level, std::string_view message) override;

  // Commits on complete, rolls back otherwise.
  void finish(const queue::Outcome& outcome);
  bool opened() const { return tx_.has_value(); }

  bool stop = false;
  std::vector<std::string> logs;

private:
  pg::Connection& conn_;
  std::optional<pg::Transaction> tx_;
};

queue::Job make_job(const std::string& kind, const std::string& args = "{}", int attempt = 1);

// Calls the handler for job.kind in `plugins` and finishes the transaction.
queue::Outcome call(const plugin::LoadedPlugins& plugins, const queue::Job& job, TxContext& ctx);

// Runs `job` through the plugin in `path` with `host` as the table it sees from init on (a
// host of another minor): what the loader and the engine do, minus the fixed table. The ABI
// check runs against that table's version first. The plugin is dlopened and never closed.
queue::Outcome run_with_table(const std::string& path, const pgxq_plugin_host* host, const queue::Job& job);

// This host's table as an ABI 1.0 host has it: minor 0, cut before job_snoozes.
pgxq_plugin_host abi_1_0_host();

// Plugins loaded from a scratch directory, and a connection their jobs run on: fill `dir`,
// then load().
struct LoadedPluginDir {
  PluginDir dir;
  plugin::LoadedPlugins loaded;
  pg::Connection conn = connect();

  void load() { load(loader_options(dir.path())); }
  void load(const plugin::LoaderOptions& options) { loaded = plugin::load_plugins(options); }
  // Runs one job of `kind` in a transaction of its own (committed on complete).
  queue::Outcome run(const std::string& kind, const std::string& args = "{}", int attempt = 1) {
    TxContext ctx(conn);
    return call(loaded, make_job(kind, args, attempt), ctx);
  }
};

}  // namespace pgxq::test
