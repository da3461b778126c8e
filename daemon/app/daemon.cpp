// app/daemon: see daemon.hpp. The shutdown sequence: the first signal says STOPPING=1 and
// starts Engine::stop() on a helper thread (so this thread keeps listening); a second signal
// calls Engine::stop_fast(); when stop() returns, the engine is destroyed, then the plugins'
// shutdown hooks run (LoadedPlugins outlives the Engine) — unless a handler is still running
// (detached after shutdown_timeout + cancel_grace): then the process exits without tearing
// down anything that handler can reach. WATCHDOG=1 is sent from this thread, which never uses
// the database, while the engine says none of its loops is stuck.
#include "app/daemon.hpp"

#include <unistd.h>

#include <spdlog/logger.h>

#include <algorithm>
#include <csignal>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "app/context.hpp"
#include "app/errors.hpp"
#include "app/http_endpoints.hpp"
#include "app/kind_settings.hpp"
#include "app/logging.hpp"
#include "app/notify.hpp"
#include "app/options.hpp"
#include "app/reload.hpp"
#include "app/signals.hpp"
#include "app/summary.hpp"
#include "config/duration.hpp"
#include "plugin/loader.hpp"
#include "queue/engine.hpp"
#include "queue/table_check.hpp"

namespace pgxq::app {

namespace {

const char* signal_name(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

void reload(const Context& ctx, const RunOptions& options, std::shared_ptr<const config::Config>& running,
            spdlog::logger& log, queue::Engine& engine) {
  if (!ctx.config_from_file) {
    log.warn("SIGHUP: running on built-in defaults (no config file), nothing to reload");
    return;
  }
  std::shared_ptr<const config::Config> fresh;
  try {
    fresh = config::load_file(running->path, config_defaults());
    periodic_entries(*fresh);
  } catch (const config::ConfigError& e) {
    log.error("SIGHUP: {} has errors, keeping the running config:\n{}", running->path, e.what());
    return;
  }
  if (options.plugins_dir) fresh = with_plugin_dir(*fresh, running->plugins.dir);
  auto plan = plan_reload(*running, *fresh);
  std::string applied;
  auto note = [&](const std::string& s) { applied += (applied.empty() ? "" : ", ") + s; };
  if (plan.log_level) {
    set_level(log, *plan.log_level);
    note(std::string("log.level=") + config::to_string(*plan.log_level));
  }
  if (plan.poll_interval) {
    engine.set_poll_interval(*plan.poll_interval);
    note("worker.poll_interval=" + config::format_duration(*plan.poll_interval));
  }
  for (const auto& [queue, n] : plan.max_workers) {
    engine.set_max_workers(queue, n);
    note("queues." + queue + ".max_workers=" + std::to_string(n));
  }
  running = plan.applied;
  log.info("SIGHUP: reloaded {}: applied {}", running->path, applied.empty() ? "nothing (no live-changeable setting changed)" : applied);
  for (const auto& key : plan.needs_restart)
    log.warn("SIGHUP: {} changed in {} but needs a restart to take effect (systemctl restart pgxqd)", key, running->path);
}

}  // namespace

int run_daemon(const RunOptions& options) {
  // First, before any other thread exists (every thread inherits the blocked signal mask), and
  // so that a SIGTERM arriving while the daemon is still starting stops it cleanly instead of
  // killing it with the default action.
  SignalThread signals;
  Context ctx = resolve(options.config, options.database);
  auto cfg = ctx.config;
  if (options.plugins_dir) cfg = with_plugin_dir(*cfg, *options.plugins_dir);

  refuse_root(options.allow_root);

  auto log = make_logger(resolve_style(cfg->log.format), cfg->log.level);
  if (!ctx.config_from_file) log->info("no config file ({} not found): using built-in defaults", config::kDefaultConfigPath);
  if (geteuid() == 0) log->warn("running as root (--allow-root): every plugin runs with full privileges");

  Notifier notifier;

  plugin::LoadedPlugins plugins;
  try {
    plugins = plugin::load_plugins(loader_options(*cfg, log));
  } catch (const plugin::LoadError& e) {
    log->critical("cannot load plugins from {}: {}", cfg->plugins.dir, locate_load_error(*cfg, e.what()));
    return kExitConfig;
  }
  if (plugins.handlers().empty()) {
    log->critical("no plugin in {} registered a job kind, so there is nothing to work on; put plugin .so files there "
                  "or set [plugins] dir in {}",
                  cfg->plugins.dir, cfg->path.empty() ? std::string("the config") : cfg->path);
    return kExitConfig;
  }

  // [http]: bound before the engine starts, so a listen address that cannot be bound stops
  // pgxqd before it claims anything; health answers "starting" until the engine runs.
  std::vector<std::string> kinds;
  for (const auto& [kind, handler] : plugins.handlers()) kinds.push_back(kind);
  for (const auto& warning : unregistered_kind_warnings(*cfg, kinds)) log->warn("{}", warning);
  auto http = HttpEndpoints::from_config(cfg, ctx.conninfo, kinds, log);
  auto engine_opts = engine_options(*cfg, ctx.conninfo);
  if (http) {
    engine_opts.observer = http->observer();
    try {
      http->start();
    } catch (const std::exception& e) {
      log->critical("cannot start: {} ([http] listen in {})", e.what(), cfg->where("http.listen"));
      return kExitConfig;
    }
  }
  queue::Engine engine(engine_opts, plugins.handlers(), log);
  // systemd wants WATCHDOG=1 more often than every interval: this loop goes round at least
  // twice per interval.
  auto tick = std::chrono::milliseconds(1000);
  const auto watchdog_interval = Notifier::watchdog_interval();
  if (watchdog_interval) {
    tick = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog_interval / 2),
                      std::chrono::milliseconds(1), tick);
    log->info("systemd watchdog enabled: every {}",
              config::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog_interval)));
  }
  std::optional<std::string> stuck;  // the last stall reported, so it is logged once
  auto feed_watchdog = [&] {
    if (!watchdog_interval) return;
    auto now_stuck = engine.stalled();
    if (now_stuck && !stuck)
      log->critical("engine stuck: {}; no longer sending WATCHDOG=1, so systemd will restart pgxqd", *now_stuck);
    else if (!now_stuck && stuck)
      log->warn("engine no longer stuck ({} recovered); sending WATCHDOG=1 again", *stuck);
    stuck = std::move(now_stuck);
    if (!stuck) notifier.watchdog();
  };
  try {
    engine.start();
  } catch (const queue::SchemaTooOld& e) {
    log->critical("cannot start: {} ({})", e.what(), cfg->path.empty() ? std::string("the config") : cfg->path);
    return kExitConfig;
  } catch (const pg::Error& e) {
    std::string msg = pg::scrub_password(e.what(), ctx.conninfo);
    if (e.unreachable()) {
      log->critical("cannot start: the database is unreachable: {}", msg);
      return kExitUnavailable;
    }
    if ((e.sqlstate() == "42P01" || e.sqlstate() == "3F000") && msg.find("pgxqd migrate") == std::string::npos)
      msg += " (create the table first: pgxqd migrate --table " + cfg->worker.table + ")";
    log->critical("cannot start: {}", msg);
    return kExitFailure;
  }
  if (http) http->engine_started(engine, engine_opts);
  log->info("{}", startup_summary(*cfg, ctx.conninfo, plugins.plugins()));
  notifier.ready(status_line(engine.stats()));

  std::shared_ptr<const config::Config> running = cfg;
  std::thread stopper;
  int stop_signals = 0;
  int exit_code = kExitOk;
  for (;;) {
    feed_watchdog();
    auto ev = signals.wait_for(tick);
    if (ev && ev->kind == SignalEvent::terminate) {
      if (++stop_signals == 1) {
        log->info("{}: shutting down gracefully (up to {} for running jobs; send it again to stop now)", signal_name(ev->signo),
                  config::format_duration(running->worker.shutdown_timeout));
        notifier.stopping("stopping: " + status_line(engine.stats()));
        if (http) http->engine_stopping();  // no endpoint reads the engine from here on
        stopper = std::thread([&engine, &signals] {
          engine.stop();
          signals.post({SignalEvent::wakeup, 0});
        });
      } else if (stop_signals == 2) {
        log->warn("{} again: fast shutdown, cancelling running jobs now", signal_name(ev->signo));
        engine.stop_fast();
      }
    } else if (ev && ev->kind == SignalEvent::reload) {
      reload(ctx, options, running, *log, engine);
    }
    if (ev && ev->kind == SignalEvent::wakeup) break;  // Engine::stop() has returned
    if (stop_signals == 0 && !engine.running()) {
      log->critical("the engine stopped by itself; exiting so the service manager restarts pgxqd");
      exit_code = kExitFailure;
      notifier.stopping("engine stopped unexpectedly");
      if (http) http->engine_stopping();
      engine.stop_fast();
      break;
    }
    if (stop_signals == 0) notifier.status(status_line(engine.stats()));
  }
  if (stopper.joinable()) stopper.join();
  engine.wait();
  if (http) http->stop();
  if (engine.handlers_left_running()) {
    // A detached handler still runs plugin code and may call the host at any moment: the
    // plugins' shutdown hooks, their host records and the engine it works in must outlive it,
    // so the process ends here, with none of them torn down (nor static destructors run). Its
    // job's transaction ends with the connection; the rescuer retries the job.
    log->warn("pgxqd stopped with handler(s) still running: exiting without running plugin shutdown hooks");
    log->flush();
    std::fflush(nullptr);
    std::_Exit(exit_code);
  }
  log->info("pgxqd stopped");
  return exit_code;
}

}  // namespace pgxq::app
