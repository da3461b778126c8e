// queue/engine: wiring and lifecycle — builds the core, the completer, one producer per queue,
// the listener and the maintenance loop (rescuer, heartbeat); runs the shutdown sequence.
#include "queue/engine.hpp"

#include <pgxq/client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "queue/completer.hpp"
#include "queue/control.hpp"
#include "queue/core.hpp"
#include "queue/listener.hpp"
#include "queue/maintainer.hpp"
#include "queue/periodic.hpp"
#include "queue/producer.hpp"
#include "queue/rescuer.hpp"
#include "queue/table_check.hpp"
#include "queue/thread_limit.hpp"

namespace pgxq::queue {

namespace {

// DISCARD ALL, statement by statement: DISCARD ALL itself refuses to run in the implicit
// transaction of a multi-statement string, and one round trip is what a job pays for it. RESET
// ALL also undoes SET ROLE; SET SESSION AUTHORIZATION DEFAULT the rest of an identity change.
constexpr const char* kResetSession =
    "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; UNLISTEN *;"
    " SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES";

}  // namespace

Core::Core(EngineOptions o, HandlerMap h, std::shared_ptr<spdlog::logger> l)
    : options(std::move(o)), handlers(std::move(h)), log(std::move(l)), health(log, options.clock),
      liveness(options.clock),
      handler_pool(options.conninfo, options.pool_size,
                   connect_options(options.timeouts, [this] { return cancel.load(); }),
                   options.timeouts.pool_acquire) {
  for (auto& [kind, _] : handlers) kinds.push_back(kind);
  kinds_array = text_array(std::span<const std::string>(kinds));
  handler_pool.set_on_connect([this](pg::Connection& c) { prepare_session(c, "handler"); });
  handler_pool.set_on_return([this](pg::Connection& c) { reset_session(c, "handler"); });
  random_unit = [] {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
  };
}

std::string Core::session_setup_sql(const std::string& role) const {
  // An E'' literal reads the same whatever standard_conforming_strings says.
  std::string name = "E'";
  for (char c : options.application_name + " " + role) {
    if (c == '\\' || c == '\'') name += '\\';
    name += c;
  }
  std::string sql = "SELECT set_config('application_name', " + name + "', false)";
  // The engine's own sessions get its statement and lock timeouts; handlers' sessions only a
  // configured handler_statement_timeout (else the server's setting stands).
  const auto& t = options.timeouts;
  if (role != "handler") {
    sql += ", set_config('statement_timeout', '" + std::to_string(t.statement.count()) +
           "', false), set_config('lock_timeout', '" + std::to_string(t.lock.count()) + "', false)";
  } else if (t.handler_statement.count() > 0) {
    sql += ", set_config('statement_timeout', '" + std::to_string(t.handler_statement.count()) + "', false)";
  }
  return sql;
}

void Core::prepare_session(pg::Connection& conn, const std::string& role) const { conn.exec(session_setup_sql(role)); }

void Core::reset_session(pg::Connection& conn, const std::string& role) const {
  // One round trip: the reset and the setup of a fresh session in one query string.
  conn.exec(std::string(kResetSession) + "; " + session_setup_sql(role));
  conn.forget_prepared();
}

namespace {

enum class State { idle, running, stopping, stopped };

void validate(EngineOptions& o) {
  auto positive = [](std::chrono::milliseconds d, const char* what) {
    if (d.count() <= 0) throw std::invalid_argument(std::string(what) + " must be positive");
  };
  positive(o.poll_interval, "poll_interval");
  positive(o.rescue_after, "rescue_after");
  if (o.shutdown_timeout.count() < 0) throw std::invalid_argument("shutdown_timeout must not be negative");
  if (o.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  if (o.max_workers < 1) throw std::invalid_argument("max_workers must be at least 1");
  if (o.pool_size < 1) throw std::invalid_argument("pool_size must be at least 1");
  if (o.max_args_bytes < 0) throw std::invalid_argument("max_args_bytes must not be negative (0: no limit)");
  validate_maintenance(o.maintenance);
  if (!o.periodic.empty() && !o.maintenance.enabled)
    throw std::invalid_argument("periodic jobs need maintenance: only a table's maintenance leader enqueues them");
  for (const auto& e : o.periodic)
    if (!e.schedule) throw std::invalid_argument("periodic entry " + e.name + " has no schedule");
  auto below_rescue_after = [&](const JobTimeout& t, const std::string& what) {
    if (t.limit.count() < 0) throw std::invalid_argument(what + " must not be negative");
    if (t.limit >= o.rescue_after)
      throw std::invalid_argument(what + " must be below rescue_after: a job still running then is rescued and run twice");
  };
  below_rescue_after(o.job_timeout, "job_timeout");
  for (const auto& [kind, t] : o.kind_timeouts) below_rescue_after(t, "the timeout of kind " + kind);
  if (!o.clock) o.clock = real_clock();
  if (!o.start_thread) o.start_thread = [](std::function<void()> run) { return std::thread(std::move(run)); };
  if (o.queues.empty()) o.queues.push_back(QueueOptions{});
  for (auto& q : o.queues) {
    if (q.name.empty()) throw std::invalid_argument("a queue name must not be empty");
    if (q.table.empty()) q.table = o.table;
    if (q.max_workers <= 0) q.max_workers = o.max_workers;
    pgxq_error err{};
    if (pgxq_validate_table_name(q.table.c_str(), &err) != 0) throw std::invalid_argument(err.message);
  }
}

// Workers are started on demand, so a limit below max_workers only bites under load: said at
// start, when it can still be fixed calmly.
void warn_thread_limit(const Core& core) {
  const auto limit = thread_limit();
  if (!limit) return;
  int64_t workers = 0;
  for (const auto& q : core.options.queues) workers += q.max_workers;
  const int64_t needed = workers + engine_thread_overhead(core.options.queues.size());
  if (needed > limit->threads)
    core.log->warn("the queues' max_workers add up to {} worker threads ({} threads with pgxqd's own), more than "
                   "this process may start: {} allows {}. Past that limit a queue runs with the workers it has and "
                   "hands claimed jobs back; raise the limit or lower max_workers",
                   workers, needed, limit->source, limit->threads);
}

}  // namespace

std::vector<std::string> job_tables(const EngineOptions& options) {
  std::vector<std::string> tables;
  auto add = [&](const std::string& t) {
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) tables.push_back(t);
  };
  if (options.queues.empty()) add(options.table);
  for (const auto& q : options.queues) add(q.table.empty() ? options.table : q.table);
  return tables;
}

struct Engine::Impl {
  std::shared_ptr<Core> core;
  std::shared_ptr<Completer> completer;
  std::vector<std::shared_ptr<Producer>> producers;
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Rescuer> rescuer;
  std::unique_ptr<Maintainer> maintainer;
  std::thread maintenance;
  StopSignal maintenance_stop;

  mutable std::mutex mu;
  std::condition_variable cv;
  State state = State::idle;
  std::atomic<bool> fast{false};
  std::atomic<bool> left_running{false};
  std::unique_ptr<Control> control;
  std::map<std::string, std::set<std::string>> paused_at_start;  // by table (read_paused_queues)

  void check_database();
  void maintenance_loop();
  void shutdown(bool fast_path);
};

Engine::Engine(EngineOptions options, HandlerMap handlers, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<Impl>()) {
  validate(options);
  impl_->core = std::make_shared<Core>(std::move(options), std::move(handlers), std::move(log));
  for (const auto& t : job_tables(impl_->core->options)) impl_->core->tables.try_emplace(t, t);
}

Engine::~Engine() {
  try {
    stop_fast();
  } catch (...) {
  }
}

void Engine::Impl::check_database() {
  pg::Connection conn(core->options.conninfo, connect_options(core->options.timeouts));
  for (auto& [name, t] : core->tables) {
    const TableCheck check = check_table(conn, name);
    if (!check.exists) throw pg::Error(check.missing_message(), "42P01");
    // The engine's statements name the table with its schema, as this search_path finds it:
    // the completion runs on a handler's connection, after whatever search_path (or temp
    // table) the handler set up.
    auto qualified = conn.exec(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass($1)",
        {t.quoted});
    const bool snoozes_column = has_column(conn, t.quoted, "snoozes");
    if (qualified.rows() == 1) t = TableSql(name, std::string(qualified.text(0, 0)), snoozes_column);
    else t = TableSql(name, t.quoted, snoozes_column);
    t.front_index = check.has_front_index();
    if (!snoozes_column)
      core->log->warn("job table {} has no snoozes column (schema version 7): snoozed jobs are neither counted nor "
                      "bounded by [worker] max_snoozes; run `pgxqd migrate --table {}`",
                      name, name);
    for (const auto& warning : check.warnings(core->options.listen, core->options.poll_interval))
      core->log->warn("{}", warning);
    if (auto why = check.periodic_problem(periodic_entries_of(core->options, name))) throw SchemaTooOld(*why);
    // A paused queue claims nothing from the first claim on (Control keeps it up to date).
    if (auto paused = read_paused_queues(conn, t)) paused_at_start[name] = *paused;
  }
}

void Engine::start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->state == State::running || impl_->state == State::stopping)
      throw std::logic_error("engine already started");
    if (impl_->state == State::stopped) throw std::logic_error("engine was stopped and cannot be started again");
  }
  impl_->check_database();
  auto& core = impl_->core;
  if (core->kinds.empty()) core->log->warn("no handlers registered: no job will be claimed");
  warn_thread_limit(*core);

  impl_->completer = std::make_shared<Completer>(core);
  impl_->completer->start();
  for (auto& q : core->options.queues)
    impl_->producers.push_back(std::make_shared<Producer>(core, impl_->completer, q));
  for (auto& p : impl_->producers)
    if (impl_->paused_at_start[p->table().table].count(p->name())) p->set_paused(true);
  for (auto& p : impl_->producers) p->start();
  impl_->control = std::make_unique<Control>(core, impl_->producers);
  impl_->control->start();
  if (core->options.listen) {
    impl_->listener = std::make_unique<Listener>(core, impl_->producers);
    impl_->listener->start();
  }
  impl_->rescuer = std::make_unique<Rescuer>(core, impl_->producers);
  impl_->maintenance = std::thread([impl = impl_.get()] { impl->maintenance_loop(); });
  if (core->options.maintenance.enabled) {
    impl_->maintainer = std::make_unique<Maintainer>(core);
    impl_->maintainer->start();
  }
  std::lock_guard lock(impl_->mu);
  impl_->state = State::running;
}

void Engine::Impl::maintenance_loop() {
  const Clock& clock = *core->options.clock;
  const auto rescue_every = std::max(core->options.rescue_after / 2, std::chrono::milliseconds(50));
  // The schedule is on the engine's clock; the loop looks at it every tick of real time.
  const auto tick = std::min(rescue_every, std::chrono::milliseconds(1000));
  auto next_rescue = clock.now();
  while (!maintenance_stop.requested()) {
    auto now = clock.now();
    if (now >= next_rescue) {
      // The next pass is due a period after this one started, not after it ended: a job
      // orphaned while a slow pass runs then waits at most one period.
      next_rescue = now + rescue_every;
      rescuer->run_once();
    }
    maintenance_stop.sleep_for(tick);
  }
}

void Engine::Impl::shutdown(bool fast_path) {
  // The shutdown's deadlines bound real waits for handlers: they are on the real clock.
  auto& log = *core->log;
  core->stopping = true;
  log.info("stopping: no new jobs are claimed{}", fast_path ? " (fast)" : "");
  for (auto& p : producers) p->stop_claiming();
  if (maintainer) maintainer->stop();  // hands leadership to a daemon that keeps running

  auto all_idle = [&](std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      bool idle = true;
      auto slice = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
      for (auto& p : producers) idle &= p->wait_idle(slice);
      if (idle) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      if (!fast_path && fast.load()) return false;  // a second signal cut the wait short
    }
  };

  bool idle = false;
  if (!fast_path) {
    idle = all_idle(std::chrono::steady_clock::now() + core->options.shutdown_timeout);
    if (!idle && !fast.load())
      log.warn("shutdown timeout ({}ms) reached: telling running handlers to stop",
               core->options.shutdown_timeout.count());
  }
  auto told_to_stop = std::chrono::steady_clock::now();
  if (!idle) {
    core->cancel = true;
    for (auto& p : producers) p->cancel_running();
    told_to_stop = std::chrono::steady_clock::now();
    idle = all_idle(told_to_stop + core->options.cancel_grace);
  }
  if (!idle) {
    // The time that really passed: a second signal cuts the grace short.
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - told_to_stop).count();
    left_running = true;
    for (auto& p : producers)
      for (auto& j : p->running_jobs())
        log.error("job {} kind={} queue={}: handler still running {}ms after being told to stop; left running for "
                  "the rescuer",
                  j.id, j.kind, j.queue, waited);
  }
  for (auto& p : producers) p->finish_workers();
  if (control) control->stop();
  if (listener) listener->stop();
  maintenance_stop.request();
  if (maintenance.joinable()) maintenance.join();
  completer->stop();
  log.info("stopped");
}

void Engine::stop() {
  std::unique_lock lock(impl_->mu);
  if (impl_->state == State::idle) {
    impl_->state = State::stopped;
    return;
  }
  if (impl_->state != State::running) {
    impl_->cv.wait(lock, [&] { return impl_->state == State::stopped; });
    return;
  }
  impl_->state = State::stopping;
  lock.unlock();
  impl_->shutdown(false);
  lock.lock();
  impl_->state = State::stopped;
  impl_->cv.notify_all();
}

void Engine::stop_fast() {
  std::unique_lock lock(impl_->mu);
  impl_->fast = true;
  if (impl_->state == State::idle) {
    impl_->state = State::stopped;
    return;
  }
  if (impl_->state != State::running) {
    // A graceful stop is in progress: `fast` cuts its wait short.
    impl_->core->cancel = true;
    impl_->cv.wait(lock, [&] { return impl_->state == State::stopped; });
    return;
  }
  impl_->state = State::stopping;
  lock.unlock();
  impl_->shutdown(true);
  lock.lock();
  impl_->state = State::stopped;
  impl_->cv.notify_all();
}

void Engine::wait() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->state == State::stopped; });
}

bool Engine::running() const noexcept {
  std::lock_guard lock(impl_->mu);
  return impl_->state == State::running;
}

bool Engine::handlers_left_running() const noexcept { return impl_->left_running.load(); }

std::vector<QueueStats> Engine::stats() const {
  std::vector<QueueStats> out;
  for (auto& p : impl_->producers) out.push_back(p->stats());
  return out;
}

void Engine::set_max_workers(const std::string& queue, int max_workers) {
  for (auto& p : impl_->producers)
    if (p->name() == queue) return p->set_max_workers(max_workers);
  throw std::invalid_argument("no queue named '" + queue + "'");
}

void Engine::set_poll_interval(std::chrono::milliseconds interval) {
  if (interval.count() <= 0) throw std::invalid_argument("poll_interval must be positive");
  for (auto& p : impl_->producers) p->set_poll_interval(interval);
  if (impl_->control) impl_->control->set_poll_interval(interval);
}

namespace {
// The most statements (and connects) one round of a claim loop runs: a connect, its setup, the
// claim and the probe for more, with room to spare.
constexpr int kClaimRoundStatements = 8;
}  // namespace

std::optional<std::string> Engine::stalled() const {
  const auto& core = *impl_->core;
  const auto bound = stall_bound(core.options.timeouts, core.options.conninfo);
  if (auto loop = core.liveness.stalled(bound)) return loop;
  // A claim loop goes round at least once a second when it is not using the database, and one
  // round uses it for at most a connect and a handful of statements (each within the bound): one
  // that has not gone round for that long hangs somewhere no timeout reaches.
  if (bound.count() > 0 && !core.stopping) {  // stopped claim loops no longer go round
    const auto now = core.options.clock->now();
    for (const auto& p : impl_->producers)
      if (now - p->last_loop() > kClaimRoundStatements * bound)
        return "producer " + p->name() + ": the claim loop has not gone round for " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - p->last_loop()).count()) +
               "ms";
  }
  return std::nullopt;
}

bool Engine::database_healthy() const { return impl_->core->health.healthy(); }

size_t Engine::completer_backlog() const { return impl_->completer ? impl_->completer->backlog() : 0; }

int Engine::pool_connections_in_use() const { return impl_->core->handler_pool.in_use(); }

int Engine::pool_size() const { return impl_->core->handler_pool.size(); }

std::vector<std::string> Engine::kinds() const { return impl_->core->kinds; }

}  // namespace pgxq::queue
