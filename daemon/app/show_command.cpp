// app/show_command: `pgxqd show ID` — every column of one job, the args pretty-printed and the
// whole error, each line escaped; an id no job has is an error (exit 1).
#include <sstream>

#include "admin/show.hpp"
#include "app/admin_text.hpp"
#include "app/errors.hpp"
#include "app/view_commands.hpp"

namespace pgxq::app {

namespace {

// Each line of `text` escaped and indented.
std::string block(std::string_view text, const std::string& indent) {
  std::string out;
  size_t start = 0;
  for (;;) {
    const auto nl = text.find('\n', start);
    out += indent + safe(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start)) + "\n";
    if (nl == std::string_view::npos) return out;
    start = nl + 1;
  }
}

std::string when(const std::optional<std::string>& at, const std::optional<double>& in_seconds) {
  if (!at) return "-";
  return whole_seconds(*at) + " (" + relative_text(in_seconds.value_or(0)) + ")";
}

std::string render(const admin::JobDetail& j, const std::string& table) {
  std::vector<std::vector<std::string>> rows{
      {"kind:", safe(j.kind)},
      {"queue:", safe(j.queue) + (j.queue_paused ? " (paused)" : "")},
      {"state:", j.state + (j.cancel_requested_at ? " (cancellation requested at " + whole_seconds(*j.cancel_requested_at) + ")" : "")},
      {"attempt:", std::to_string(j.attempt) + " of " + std::to_string(j.max_attempts)},
      {"snoozes:", j.snoozes ? std::to_string(*j.snoozes) : "- (the table has no snoozes column: pgxqd migrate)"},
      {"priority:", std::to_string(j.priority)},
      {"scheduled_at:", when(j.scheduled_at, j.scheduled_in_seconds)},
      {"created_at:", when(j.created_at, j.created_in_seconds)},
      {"attempted_at:", when(j.attempted_at, j.attempted_in_seconds)},
      {"completed_at:", when(j.completed_at, j.completed_in_seconds)},
  };
  std::ostringstream out;
  out << "job " << j.id << " in table " << table << "\n" << columns(rows);
  out << "args:\n" << block(j.args_pretty, "  ");
  out << "error:" << (j.error ? "\n" + block(*j.error, "  ") : " -\n");
  return out.str();
}

}  // namespace

int show(const ShowOptions& o, std::ostream& out) {
  const int64_t id = parse_count(o.id, "ID (a job id)");
  Context ctx = resolve(o.config, o.database);
  const std::string table = resolve_table(o.table, *ctx.config);
  std::optional<admin::JobDetail> job;
  with_job_table(ctx, table, [&](pg::Connection& conn) { job = admin::show_job(conn, table, id); });
  if (!job)
    throw CommandError(kExitFailure, "no job with id " + std::to_string(id) + " in table " + table +
                                         " (list recent ones with: pgxqd list --table " + table + ")");
  out << (o.json ? json_text(admin::to_json(*job)) + "\n" : render(*job, table));
  return kExitOk;
}

}  // namespace pgxq::app
