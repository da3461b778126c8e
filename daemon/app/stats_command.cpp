// app/stats_command: `pgxqd stats` — admin::collect_stats as a table per queue and kind, the
// estimates and hints below it; with --watch, again every interval until SIGINT or SIGTERM
// (redrawn in place on a terminal, one snapshot after another otherwise).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <sstream>

#include "admin/stats.hpp"
#include "app/admin_text.hpp"
#include "app/errors.hpp"
#include "app/options.hpp"
#include "app/view_commands.hpp"
#include "config/duration.hpp"

namespace pgxq::app {

namespace {

constexpr std::chrono::milliseconds kDefaultWatch{2000};
constexpr std::chrono::milliseconds kShortestWatch{100};

std::string optional_count(const std::optional<admin::Count>& c) {
  return c ? count_text(c->value, c->capped) : "-";
}

std::string render(const admin::TableStats& s, const std::optional<std::string>& queue_filter) {
  std::ostringstream out;
  out << "table " << s.table << " at " << whole_seconds(s.database_time) << " (database time)\n\n";
  if (s.queues.empty()) {
    out << (queue_filter ? "no jobs in queue " + safe(*queue_filter) + " (available, running, or finished in the last hour)\n"
                         : "no available or running jobs, none finished in the last hour\n");
  } else {
    std::vector<std::vector<std::string>> rows{{"QUEUE", "KIND", "DUE", "LATER", "RUNNING", "OLDEST DUE", "LONGEST RUN",
                                                "DONE/1h", "FAILED/1h", "DISCARDED/1h", "DONE/s (5m)"}};
    for (const auto& q : s.queues) {
      const std::string name = safe(q.queue) + (q.paused ? " (paused)" : "");
      if (q.kinds.empty()) rows.push_back({name, "-", "0", "0", "0", "-", "-", "-", "-", "-", "-"});
      for (const auto& k : q.kinds) {
        char rate[32] = "-";
        if (k.completed_last_5_minutes)
          std::snprintf(rate, sizeof rate, "%.2f", static_cast<double>(k.completed_last_5_minutes->value) / 300.0);
        rows.push_back({name, safe(k.kind), count_text(k.available.value, k.available.capped),
                        count_text(k.scheduled.value, k.scheduled.capped), count_text(k.running.value, k.running.capped),
                        k.oldest_due_age_seconds ? age_text(*k.oldest_due_age_seconds) : "-",
                        k.longest_running_seconds ? age_text(*k.longest_running_seconds) : "-",
                        optional_count(k.completed_last_hour), optional_count(k.failed_last_hour),
                        optional_count(k.discarded_last_hour), rate});
      }
    }
    out << columns(rows);
  }
  for (const auto& q : s.queues)
    if (q.paused)
      out << "\nqueue " << safe(q.queue) << " is paused since " << whole_seconds(q.paused_at.value_or("?"))
          << (q.paused_by ? " by " + safe(*q.paused_by) : "") << ": no daemon claims its jobs (pgxqd resume "
          << safe(q.queue) << ")";
  if (s.estimated_rows) {
    out << "\nestimated totals (planner statistics as of the last ANALYZE, not counts): ~" << count_text(*s.estimated_rows)
        << " rows";
    for (const auto& [state, n] : s.estimated_by_state) out << ", " << safe(state) << " ~" << count_text(n);
    out << "\n";
  } else {
    out << "\nestimated totals: none yet (the table has not been analysed)\n";
  }
  for (const auto& hint : s.hints) out << "hint: " << hint << "\n";
  if (s.leader)
    out << "leader: " << safe(s.leader->application_name) << " (backend pid " << s.leader->pid << ", "
        << safe(s.leader->client) << ", for " << age_text(static_cast<double>(s.leader->session_seconds)) << ")\n";
  else
    out << "leader: none (no pgxqd with [maintenance] enabled runs on this table: no retention, no health checks)\n";
  const auto& h = s.health;
  out << "table health: ~" << count_text(h.live_rows) << " live rows, ~" << count_text(h.dead_rows) << " dead, "
      << (h.seconds_since_vacuum ? "vacuumed " + age_text(static_cast<double>(*h.seconds_since_vacuum)) + " ago"
                                 : std::string("never vacuumed"))
      << ", table " << (h.table_bytes >> 20) << " MiB, indexes " << (h.index_bytes >> 20) << " MiB";
  if (h.oldest_xmin)
    out << "; oldest xmin holder: " << safe(h.oldest_xmin->source) << " " << safe(h.oldest_xmin->name)
        << (h.oldest_xmin->seconds ? ", open " + age_text(static_cast<double>(*h.oldest_xmin->seconds)) : std::string());
  out << "\n";
  for (const auto& w : s.health_warnings) out << "warning: " << safe(w) << "\n";
  return out.str();
}

// SIGINT and SIGTERM, blocked so they arrive only where the watch loop waits for them.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Waits `interval` for SIGINT or SIGTERM; true when one came.
bool stop_requested_within(const sigset_t& set, std::chrono::milliseconds interval) {
  timespec ts{static_cast<time_t>(interval.count() / 1000), static_cast<long>(interval.count() % 1000) * 1000000L};
  for (;;) {
    int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return true;
    if (errno == EAGAIN) return false;
    if (errno != EINTR) return false;
  }
}

int watch(const StatsOptions& o, const Context& ctx, const std::string& table, std::chrono::milliseconds interval,
          const queue::HealthOptions& thresholds, std::ostream& out) {
  const sigset_t set = stop_signals();
  sigprocmask(SIG_BLOCK, &set, nullptr);
  const bool terminal = !o.json && isatty(STDOUT_FILENO) == 1;
  bool first = true;
  do {
    std::string frame;
    try {
      with_job_table(ctx, table, [&](pg::Connection& conn) {
        auto s = admin::collect_stats(conn, table, o.queue, admin::kCountCap, thresholds);
        frame = o.json ? json_text(admin::to_json(s), true) + "\n" : render(s, o.queue);
      });
    } catch (const CommandError& e) {
      // A database that goes away while watched is shown and asked again; anything else ends it.
      if (e.code() != kExitUnavailable) throw;
      frame = "pgxqd: " + pg::scrub_password(e.what(), ctx.conninfo) + "\n(asking again every " +
              config::format_duration(interval) + ")\n";
      if (o.json) {
        std::cerr << frame;
        frame.clear();
      }
    }
    if (terminal) {
      out << "\x1b[H\x1b[2J" << "pgxqd stats, every " << config::format_duration(interval) << " (Ctrl-C to quit)\n" << frame;
    } else {
      if (!first && !o.json) out << "\n";
      out << frame;
    }
    out.flush();
    first = false;
  } while (!stop_requested_within(set, interval));
  return kExitOk;
}

}  // namespace

int stats(const StatsOptions& o, std::ostream& out) {
  std::chrono::milliseconds interval = kDefaultWatch;
  if (o.watch && !o.watch->empty()) {
    auto d = config::parse_duration(*o.watch);
    if (!d.ok()) throw CommandError(kExitUsage, "--watch: " + d.error);
    if (d.value < kShortestWatch)
      throw CommandError(kExitUsage, "--watch: the interval must be at least " + config::format_duration(kShortestWatch));
    interval = d.value;
  }
  Context ctx = resolve(o.config, o.database);
  const std::string table = resolve_table(o.table, *ctx.config);
  const queue::HealthOptions thresholds = engine_options(*ctx.config, ctx.conninfo).maintenance.health;
  if (o.watch) return watch(o, ctx, table, interval, thresholds, out);
  with_job_table(ctx, table, [&](pg::Connection& conn) {
    auto s = admin::collect_stats(conn, table, o.queue, admin::kCountCap, thresholds);
    out << (o.json ? json_text(admin::to_json(s)) + "\n" : render(s, o.queue));
  });
  return kExitOk;
}

}  // namespace pgxq::app
