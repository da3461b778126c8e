// app/list_command: `pgxqd list` — a page of admin::list_jobs as a table (newest first), and
// the command for the next page.
#include <sstream>

#include "admin/list.hpp"
#include "app/admin_text.hpp"
#include "app/errors.hpp"
#include "app/view_commands.hpp"

namespace pgxq::app {

namespace {

constexpr size_t kErrorExcerpt = 60;

std::string render(const admin::JobPage& page, const ListOptions& o, const admin::ListFilter& f) {
  std::ostringstream out;
  if (page.jobs.empty()) {
    out << "no jobs" << (f.before_id ? " below id " + std::to_string(*f.before_id) : "") << " match in table " << page.table
        << "\n";
    return out.str();
  }
  std::vector<std::vector<std::string>> rows{{"ID", "KIND", "QUEUE", "STATE", "ATTEMPT", "SCHEDULED", "ERROR"}};
  for (const auto& j : page.jobs)
    rows.push_back({std::to_string(j.id), safe(j.kind), safe(j.queue), j.state,
                    std::to_string(j.attempt) + "/" + std::to_string(j.max_attempts),
                    relative_text(j.scheduled_in_seconds) + " (" + whole_seconds(j.scheduled_at) + ")",
                    j.error ? excerpt(*j.error, kErrorExcerpt) : ""});
  out << columns(rows);
  if (page.next_before_id) {
    out << "\nnext page: pgxqd list --before-id " << *page.next_before_id;
    if (o.state) out << " --state " << *o.state;
    if (o.kind) out << " --kind '" << safe(*o.kind) << "'";
    if (o.queue) out << " --queue '" << safe(*o.queue) << "'";
    if (o.limit) out << " --limit " << f.limit;
    if (o.table) out << " --table " << *o.table;
    out << "\n";
  }
  return out.str();
}

}  // namespace

int list(const ListOptions& o, std::ostream& out) {
  admin::ListFilter f;
  f.state = o.state;
  f.kind = o.kind;
  f.queue = o.queue;
  if (o.limit) {
    const int64_t limit = parse_count(*o.limit, "--limit");
    f.limit = static_cast<int>(std::min<int64_t>(limit, admin::kMaxListLimit + 1));
  }
  if (o.before_id) f.before_id = parse_count(*o.before_id, "--before-id");
  try {
    admin::check_filter(f);
  } catch (const std::invalid_argument& e) {
    throw CommandError(kExitUsage, std::string(o.limit && !o.state ? "--limit: " : "") + e.what());
  }
  Context ctx = resolve(o.config, o.database);
  const std::string table = resolve_table(o.table, *ctx.config);
  with_job_table(ctx, table, [&](pg::Connection& conn) {
    auto page = admin::list_jobs(conn, table, f);
    out << (o.json ? json_text(admin::to_json(page)) + "\n" : render(page, o, f));
  });
  return kExitOk;
}

}  // namespace pgxq::app
