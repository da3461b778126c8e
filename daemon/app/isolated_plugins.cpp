// app/isolated_plugins: see isolated_plugins.hpp.
#include "app/isolated_plugins.hpp"
#include "app/options.hpp"

#include <pgxq/plugin.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <thread>

#include "isolation/remote_handler.hpp"
#include "isolation/worker_pool.hpp"

namespace pgxq::app {

namespace {

int plugin_log_level(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::trace: return PGXQ_LOG_TRACE;
    case config::LogLevel::debug: return PGXQ_LOG_DEBUG;
    case config::LogLevel::info: return PGXQ_LOG_INFO;
    case config::LogLevel::warn: return PGXQ_LOG_WARN;
    default: return PGXQ_LOG_ERROR;
  }
}

bool is_host_key(std::string_view key) {
  return std::any_of(std::begin(config::kPluginHostKeys), std::end(config::kPluginHostKeys),
                     [&](const char* k) { return key == k; });
}

// A plugin in worker processes, as the loader keeps it: the pool and one remote handler per kind.
class IsolatedPlugin final : public plugin::OutOfProcessPlugin {
public:
  IsolatedPlugin(isolation::PoolOptions options, std::string path) : pool_(std::move(options)) {
    const isolation::Hello& hello = pool_.hello();
    info_.name = hello.name;
    info_.version = hello.version;
    info_.path = std::move(path);
    info_.abi_major = hello.abi_major;
    info_.abi_minor = hello.abi_minor;
    info_.kinds = hello.kinds;
  }
  ~IsolatedPlugin() override { pool_.stop(); }

  const plugin::PluginInfo& info() const override { return info_; }
  queue::Handler handler(const std::string&) override { return isolation::make_remote_handler(pool_, info_.name); }
  void shutdown() noexcept override { pool_.stop(); }

private:
  isolation::WorkerPool pool_;
  plugin::PluginInfo info_;
};

}  // namespace

int default_processes(int max_workers, unsigned cpus) {
  const int by_cpus = static_cast<int>(std::min<unsigned>(std::max(16u, 4u * std::max(cpus, 1u)), 1024u));
  return std::clamp(std::min(max_workers > 0 ? max_workers : by_cpus, by_cpus), 1, 1024);
}

int plugin_processes(const config::Config& config, const config::PluginSettings& s) {
  return s.processes > 0 ? s.processes : default_processes(config.worker.max_workers, std::thread::hardware_concurrency());
}

isolation::Setup worker_setup(const config::Config& config, const std::string& name, const std::string& path,
                              const toml::table& settings) {
  isolation::Setup setup;
  setup.plugin_name = name;
  setup.plugin_path = path;
  std::ostringstream toml_text;
  toml_text << settings;
  setup.settings_toml = toml_text.str();
  setup.config_file = config.path;
  const std::string prefix = "plugins." + name + ".";
  for (auto it = config.positions.lower_bound(prefix); it != config.positions.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string key = it->first.substr(prefix.size());
    if (is_host_key(key) || it->second.line <= 0) continue;
    setup.setting_lines.emplace_back(std::move(key), static_cast<uint32_t>(it->second.line));
  }
  setup.log_level = plugin_log_level(config.log.level);
  return setup;
}

std::vector<std::string> isolated_names(const config::Config& config) {
  std::vector<std::string> out;
  for (const auto& [name, s] : config.plugins.settings)
    if (s.isolation == config::Isolation::process) out.push_back(name);
  return out;
}

std::string own_executable() {
  std::error_code ec;
  auto resolved = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : resolved.string();
}

plugin::StartIsolated isolated_starter(std::shared_ptr<const config::Config> config, std::string executable,
                                       std::shared_ptr<spdlog::logger> log, int max_processes) {
  return [config = std::move(config), executable = std::move(executable), log = std::move(log), max_processes](
             plugin::PluginFile file, const std::string& name,
             const toml::table& settings) -> std::unique_ptr<plugin::OutOfProcessPlugin> {
    const auto it = config->plugins.settings.find(name);
    const config::PluginSettings defaults;
    const config::PluginSettings& s = it != config->plugins.settings.end() ? it->second : defaults;
    isolation::PoolOptions o;
    o.plugin_name = name;
    o.plugin_path = file.path();
    o.plugin_fd = file.fd();
    o.executable = executable;
    o.setup = worker_setup(*config, name, file.path(), settings);
    o.processes = plugin_processes(*config, s);
    if (max_processes > 0) o.processes = std::min(o.processes, max_processes);
    o.limits.memory_bytes = s.memory_limit;
    o.limits.cpu = s.cpu_limit;
    o.log = log;
    try {
      // The pool duplicates the descriptor; `file` closes ours when this returns.
      return std::make_unique<IsolatedPlugin>(std::move(o), file.path());
    } catch (const std::exception& e) {
      throw plugin::LoadError(e.what());
    }
  };
}

// Here rather than in options.cpp, which the fuzz targets compile without the worker pools.
plugin::LoaderOptions loader_options(const config::Config& config, std::shared_ptr<spdlog::logger> log,
                                     int max_processes) {
  plugin::LoaderOptions o;
  o.dir = config.plugins.dir;
  o.config_file = config.path;
  for (const auto& [name, s] : config.plugins.settings) o.settings.emplace(name, s.table);
  for (const auto& name : isolated_names(config)) o.isolated.insert(name);
  if (!o.isolated.empty())
    o.start_isolated = isolated_starter(std::make_shared<const config::Config>(config), own_executable(), log, max_processes);
  o.log = std::move(log);
  return o;
}

}  // namespace pgxq::app
