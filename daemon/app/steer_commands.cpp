// app/steer_commands: see steer_commands.hpp.
#include "app/steer_commands.hpp"

#include <charconv>
#include <iostream>

#include <nlohmann/json.hpp>

#include "admin/cancel.hpp"
#include "admin/pause.hpp"
#include "admin/purge.hpp"
#include "admin/retry.hpp"
#include "app/context.hpp"
#include "app/errors.hpp"
#include "config/duration.hpp"

namespace pgxq::app {

namespace {

std::vector<int64_t> parse_ids(const std::vector<std::string>& texts) {
  std::vector<int64_t> ids;
  for (const auto& text : texts) {
    int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id <= 0)
      throw CommandError(kExitUsage, "'" + text + "' is not a job id (a positive integer, as `pgxqd list` shows); "
                                     "nothing was changed");
    ids.push_back(id);
  }
  return ids;
}

admin::Filter filter(const SteerOptions& o) {
  admin::Filter f{o.kind, o.queue};
  if (f.kind && f.kind->empty()) throw CommandError(kExitUsage, "--kind must not be empty");
  if (f.queue) {
    try {
      admin::validate_queue_name(*f.queue);
    } catch (const admin::InputError& e) {
      throw CommandError(kExitUsage, std::string("--queue: ") + e.what());
    }
  }
  return f;
}

struct Target {
  Context ctx;
  std::string table;
};

Target target(const SteerOptions& o) {
  Context ctx = resolve(o.config, o.database);
  std::string table = resolve_table(o.table, *ctx.config);
  return {std::move(ctx), std::move(table)};
}

pg::Connection open(const Target& t) {
  auto conn = connect(t.ctx);
  // A row another session holds (a completion, another command) is waited for, not forever.
  conn.exec("SELECT set_config('application_name', 'pgxqd admin', false), set_config('lock_timeout', '10s', false)");
  return conn;
}

// Runs an admin call, mapping its errors onto exit codes.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const admin::InputError& e) {
    throw CommandError(kExitUsage, e.what());
  } catch (const admin::TableError& e) {
    throw CommandError(kExitFailure, e.what());
  }
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n"; }

std::string ids_text(const std::vector<int64_t>& ids, int64_t total) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  if (total > static_cast<int64_t>(ids.size())) s += ", ...";
  return s;
}

std::function<void(const admin::WalkProgress&)> progress_printer(const SteerOptions& o, const std::string& verb) {
  if (o.json) return {};
  return [verb](const admin::WalkProgress& p) {
    std::cout << "batch " << p.batch << ": " << verb << " " << p.rows << " job(s) (" << p.total << " so far)\n" << std::flush;
  };
}

}  // namespace

int retry_command(const SteerOptions& o) {
  admin::RetryRequest req;
  req.ids = parse_ids(o.ids);
  req.state = o.state;
  req.filter = filter(o);
  req.dry_run = o.dry_run;
  req.batch_size = o.batch_size;
  guarded([&] { admin::validate(req); });
  Target t = target(o);
  auto conn = open(t);
  const auto r = guarded([&] { return admin::retry(conn, t.table, req, progress_printer(o, "retried")); });
  if (o.json) {
    auto j = admin::to_json(r);
    j["table"] = t.table;
    print_json(j);
  } else {
    const std::string what = r.by_id ? "" : " " + *req.state;
    if (r.dry_run)
      std::cout << "would retry " << (r.count_capped ? "more than " : "") << r.retried << what << " job(s) in " << t.table
                << (r.sample.empty() ? "" : ": " + ids_text(r.sample, r.retried)) << "\nnothing was changed (dry run)\n";
    else
      std::cout << "retried " << r.retried << what << " job(s) in " << t.table
                << (r.sample.empty() ? "" : ": " + ids_text(r.sample, r.retried))
                << (r.batches > 1 ? " in " + std::to_string(r.batches) + " batches" : "")
                << (r.retried ? "\nthey are available now, with attempt 0: each gets its max_attempts again" : "")
                << "\n";
    for (const auto& s : r.skipped) std::cout << "not retried: job " << s.id << " is " << s.reason << "\n";
    int64_t listed = 0;
    for (const auto& s : r.skipped) listed += s.unique_key ? 1 : 0;
    if (r.key_taken > listed)
      std::cout << "not retried: " << r.key_taken - listed << " more job(s) whose unique key is held by another unfinished job\n";
  }
  return r.skipped.empty() ? kExitOk : kExitFailure;
}

int cancel_command(const SteerOptions& o) {
  admin::CancelRequest req;
  req.ids = parse_ids(o.ids);
  req.filter = filter(o);
  req.state = o.state;
  req.dry_run = o.dry_run;
  req.batch_size = o.batch_size;
  guarded([&] { admin::validate(req); });
  Target t = target(o);
  auto conn = open(t);
  const auto r = guarded([&] { return admin::cancel(conn, t.table, req, progress_printer(o, "discarded")); });
  if (o.json) {
    auto j = admin::to_json(r);
    j["table"] = t.table;
    print_json(j);
  } else {
    if (!r.by_id || r.discarded)
      std::cout << (r.dry_run ? "would discard " : "discarded ") << (r.count_capped ? "more than " : "") << r.discarded
              << " available job(s) in " << t.table << " (error '" << admin::kCancelledByOperator << "')"
              << (r.discarded_ids.empty() ? "" : ": " + ids_text(r.discarded_ids, r.discarded)) << "\n";
    if (!r.by_id || r.requested)
      std::cout << (r.dry_run ? "would ask" : "asked") << " the daemons to stop " << r.requested << " running job(s)"
              << (r.requested_ids.empty() ? "" : ": " + ids_text(r.requested_ids, r.requested)) << "\n";
    if (r.requested && !r.dry_run)
      std::cout << "their handlers see should_stop within a second; each job then ends discarded with its "
                   "transaction rolled back (`pgxqd show ID` shows it)\n";
    for (const auto& s : r.not_cancellable) std::cout << "not cancellable: job " << s.id << " is " << s.reason << "\n";
    if (r.dry_run) std::cout << "nothing was changed (dry run)\n";
  }
  return r.not_cancellable.empty() ? kExitOk : kExitFailure;
}

namespace {

int pause_or_resume(const SteerOptions& o, bool pausing) {
  guarded([&] {
    if (o.queues.empty())
      throw admin::InputError(std::string("name the queue(s) to ") + (pausing ? "pause" : "resume") + ": pgxqd " +
                              (pausing ? "pause" : "resume") + " QUEUE...");
    for (const auto& q : o.queues) admin::validate_queue_name(q);
  });
  Target t = target(o);
  auto conn = open(t);
  const auto changes = guarded([&] {
    return pausing ? admin::pause(conn, t.table, o.queues) : admin::resume(conn, t.table, o.queues);
  });
  if (o.json) {
    auto j = admin::to_json(changes, pausing);
    j["table"] = t.table;
    print_json(j);
    return kExitOk;
  }
  for (const auto& c : changes) {
    if (pausing) {
      if (c.changed)
        std::cout << "paused queue " << c.queue << " on " << t.table << ": every pgxqd on this table stops claiming from "
                  << "it within one poll interval; running jobs finish. Resume with `pgxqd resume " << c.queue << "`\n";
      else
        std::cout << "queue " << c.queue << " on " << t.table << " was already paused (since " << c.paused_at
                  << (c.paused_by.empty() ? "" : " by " + c.paused_by) << "): nothing changed\n";
      if (!c.has_jobs)
        std::cout << "note: no available or running job has queue '" << c.queue
                  << "' (fine when pausing before a deploy; queue names are case-sensitive)\n";
    } else {
      if (c.changed)
        std::cout << "resumed queue " << c.queue << " on " << t.table << " (paused since " << c.paused_at
                  << (c.paused_by.empty() ? "" : " by " + c.paused_by) << "): the daemons claim from it again within one "
                  << "poll interval\n";
      else
        std::cout << "queue " << c.queue << " on " << t.table << " was not paused: nothing changed\n";
    }
  }
  return kExitOk;
}

}  // namespace

int pause_command(const SteerOptions& o) { return pause_or_resume(o, true); }
int resume_command(const SteerOptions& o) { return pause_or_resume(o, false); }

int purge_command(const SteerOptions& o) {
  admin::PurgeRequest req;
  req.state = o.state.value_or("");
  req.filter = filter(o);
  req.dry_run = o.dry_run;
  req.batch_size = o.batch_size;
  guarded([&] { admin::validate(req); });
  if (!o.older_than)
    throw CommandError(kExitUsage, "--older-than is required (e.g. --older-than 7d): purge deletes only jobs that "
                                   "finished longer ago than that");
  const auto d = config::parse_duration(*o.older_than);
  if (!d.ok()) throw CommandError(kExitUsage, "--older-than " + *o.older_than + ": " + d.error);
  req.older_than = d.value;
  Target t = target(o);
  auto conn = open(t);
  const auto r = guarded([&] { return admin::purge(conn, t.table, req, progress_printer(o, "deleted")); });
  if (o.json) {
    auto j = admin::to_json(r);
    j["table"] = t.table;
    j["state"] = req.state;
    print_json(j);
    return kExitOk;
  }
  if (r.dry_run)
    std::cout << "would delete " << (r.count_capped ? "more than " : "") << r.deleted << " " << req.state
              << " job(s) from " << t.table << " that finished before " << r.cutoff
              << (r.sample.empty() ? "" : ": " + ids_text(r.sample, r.deleted)) << "\nnothing was changed (dry run)\n";
  else
    std::cout << "deleted " << r.deleted << " " << req.state << " job(s) from " << t.table << " that finished before "
              << r.cutoff << " in " << r.batches << " batch(es) of at most " << req.batch_size << "\n";
  return kExitOk;
}

}  // namespace pgxq::app
