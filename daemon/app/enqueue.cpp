// app/enqueue: see enqueue.hpp.
#include "app/enqueue.hpp"

#include <iostream>
#include <vector>

#include <pgxq/client.h>
#include <simdjson.h>

#include "app/errors.hpp"
#include "config/duration.hpp"

namespace pgxq::app {

namespace {

constexpr size_t kBatch = 1000;

// One parsed stdin line, owning the strings a pgxq_job_spec points into.
struct Line {
  std::string kind, args, queue;
  std::optional<int64_t> priority, max_attempts;
};

void check_args_object(const std::string& json, const std::string& what) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto error = parser.parse(simdjson::padded_string(json)).get(doc);
  if (error)
    throw CommandError(kExitUsage, what + " is not valid JSON: " + simdjson::error_message(error) +
                                       " (pass a JSON object, e.g. '{\"name\":\"world\"}')");
  if (!doc.is_object()) throw CommandError(kExitUsage, what + " must be a JSON object, e.g. '{\"name\":\"world\"}'");
}

Line parse_line(simdjson::dom::parser& parser, const std::string& text, size_t number) {
  auto bad = [&](const std::string& why) {
    return CommandError(kExitUsage, "stdin line " + std::to_string(number) + ": " + why + "; nothing was inserted");
  };
  simdjson::dom::element doc;
  if (auto error = parser.parse(simdjson::padded_string(text)).get(doc))
    throw bad(std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object obj;
  if (doc.get_object().get(obj))
    throw bad("expected a JSON object like {\"kind\":\"hello\",\"args\":{\"name\":\"x\"}}");
  Line line;
  bool have_kind = false;
  for (auto field : obj) {
    std::string_view key = field.key;
    auto v = field.value;
    if (key == "kind") {
      std::string_view s;
      if (v.get_string().get(s) || s.empty()) throw bad("\"kind\" must be a non-empty string");
      line.kind = std::string(s);
      have_kind = true;
    } else if (key == "args") {
      if (!v.is_object()) throw bad("\"args\" must be a JSON object");
      line.args = simdjson::minify(v);
    } else if (key == "queue") {
      std::string_view s;
      if (v.get_string().get(s) || s.empty()) throw bad("\"queue\" must be a non-empty string");
      line.queue = std::string(s);
    } else if (key == "priority") {
      int64_t n = 0;
      if (v.get_int64().get(n) || n < -32768 || n > 32767) throw bad("\"priority\" must be an integer from -32768 to 32767");
      line.priority = n;
    } else if (key == "max_attempts") {
      int64_t n = 0;
      if (v.get_int64().get(n) || n < 1 || n > 32767) throw bad("\"max_attempts\" must be an integer from 1 to 32767");
      line.max_attempts = n;
    } else {
      throw bad("unknown field \"" + std::string(key) + "\" (expected kind, args, queue, priority, max_attempts)");
    }
  }
  if (!have_kind) throw bad("\"kind\" is missing");
  return line;
}

int insert_exit_code(const pgxq_error& err) {
  if (!err.sqlstate[0]) return kExitUsage;  // refused before any SQL: bad input
  if (pg::unreachable_sqlstate(err.sqlstate)) return kExitUnavailable;
  return kExitFailure;
}

std::string insert_error(const pgxq_error& err) { return std::string(err.message) + (err.sqlstate[0] ? std::string(" (SQLSTATE ") + err.sqlstate + ")" : ""); }

int from_stdin(const Context& ctx, const std::string& table, std::istream& in) {
  auto conn = connect(ctx);
  pg::Transaction tx(conn);
  simdjson::dom::parser parser;
  std::vector<Line> batch;
  int64_t total = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<pgxq_job_spec> specs(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& s = specs[i];
      const auto& l = batch[i];
      s.kind = l.kind.c_str();
      s.args_json = l.args.empty() ? nullptr : l.args.c_str();
      s.opts = pgxq_insert_opts_default();
      if (!l.queue.empty()) s.opts.queue = l.queue.c_str();
      if (l.priority) {
        s.opts.has_priority = 1;
        s.opts.priority = static_cast<int>(*l.priority);
      }
      if (l.max_attempts) {
        s.opts.has_max_attempts = 1;
        s.opts.max_attempts = static_cast<int>(*l.max_attempts);
      }
    }
    pgxq_error err{};
    int64_t n = pgxq_insert_many(conn.get(), table.c_str(), specs.data(), specs.size(), &err);
    if (n < 0)
      throw CommandError(insert_exit_code(err),
                         "cannot insert into " + table + ": " + insert_error(err) + "; nothing was inserted");
    total += n;
    batch.clear();
  };
  std::string text;
  size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    batch.push_back(parse_line(parser, text, number));
    if (batch.size() >= kBatch) flush();
  }
  flush();
  tx.commit();
  std::cout << total << "\n";
  return kExitOk;
}

}  // namespace

int enqueue(const EnqueueOptions& o, std::istream& in) {
  Context ctx = resolve(o.config, o.database);
  std::string table = resolve_table(o.table, *ctx.config);
  if (o.from_stdin) {
    if (!o.kind.empty() || o.queue || o.priority || o.max_attempts || o.in || o.at)
      throw CommandError(kExitUsage, "--stdin takes every job from stdin: give no KIND, ARGS_JSON, --queue, --priority, "
                                     "--max-attempts, --in or --at with it");
    return from_stdin(ctx, table, in);
  }
  if (o.kind.empty()) throw CommandError(kExitUsage, "KIND is required (or --stdin)");
  check_args_object(o.args, "ARGS_JSON");

  pgxq_insert_opts opts = pgxq_insert_opts_default();
  opts.table = table.c_str();
  if (o.queue) {
    if (o.queue->empty()) throw CommandError(kExitUsage, "--queue must not be empty");
    opts.queue = o.queue->c_str();
  }
  if (o.priority) {
    opts.has_priority = 1;
    opts.priority = *o.priority;
  }
  if (o.max_attempts) {
    opts.has_max_attempts = 1;
    opts.max_attempts = *o.max_attempts;
  }
  if (o.in) {
    auto d = config::parse_duration(*o.in);
    if (!d.ok()) throw CommandError(kExitUsage, "--in: " + d.error);
    opts.has_delay = 1;
    opts.delay_seconds = static_cast<double>(d.value.count()) / 1000.0;
  }
  auto conn = connect(ctx);
  if (o.at) {
    // PostgreSQL's own timestamptz parser: every format psql users know works, and the
    // session's TimeZone applies to timestamps without an offset.
    try {
      auto r = conn.exec("SELECT (extract(epoch FROM $1::timestamptz) * 1000000)::bigint", {pg::Param(*o.at)});
      opts.has_scheduled_at = 1;
      opts.scheduled_at_unix_us = r.int64(0, 0);
    } catch (const pg::Error& e) {
      if (e.unreachable()) throw;
      throw CommandError(kExitUsage, "--at \"" + *o.at + "\" is not a timestamp: " + e.what() +
                                         " (e.g. '2030-01-31 12:00:00+00' or '2030-01-31T12:00:00Z')");
    }
  }
  pgxq_error err{};
  int64_t id = pgxq_insert(conn.get(), o.kind.c_str(), o.args.c_str(), &opts, &err);
  if (id < 0) {
    std::string msg = "cannot enqueue into " + table + ": " + insert_error(err);
    if (std::string(err.sqlstate) == "42P01") msg += " (create the table first: pgxqd migrate --table " + table + ")";
    throw CommandError(insert_exit_code(err), msg);
  }
  std::cout << id << "\n";
  return kExitOk;
}

}  // namespace pgxq::app
