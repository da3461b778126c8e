// app/enqueue: see enqueue.hpp.
#include "app/enqueue.hpp"

#include <charconv>
#include <iostream>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>
#include <pgxq/client.h>
#include <simdjson.h>

#include "app/errors.hpp"
#include "config/duration.hpp"

namespace pgxq::app {

namespace {

constexpr size_t kBatch = 1000;

// A job's options as given on the command line or a stdin line, unchecked: libpgxq applies the
// defaults and refuses bad values (before anything is sent), so there is one rule for both.
struct JobFields {
  std::optional<std::string> queue;
  std::optional<int> priority, max_attempts;
  std::optional<double> delay_seconds;
  std::optional<std::string> unique_key;
};

// libpgxq's options for `f`, from its defaults; the strings stay owned by `f`.
pgxq_insert_opts insert_opts(const JobFields& f) {
  pgxq_insert_opts o = PGXQ_INSERT_OPTS_INIT;
  if (f.queue) o.queue = f.queue->c_str();
  if (f.priority) {
    o.has_priority = 1;
    o.priority = *f.priority;
  }
  if (f.max_attempts) {
    o.has_max_attempts = 1;
    o.max_attempts = *f.max_attempts;
  }
  if (f.delay_seconds) {
    o.has_delay = 1;
    o.delay_seconds = *f.delay_seconds;
  }
  if (f.unique_key) o.unique_key = f.unique_key->c_str();
  return o;
}

// One parsed stdin line, owning the strings a pgxq_job_spec points into.
struct Line {
  std::string kind, args;
  JobFields fields;
  size_t number = 0;
};

// Reads the line's format (a JSON object of known fields, each of the right JSON type); the
// values themselves are libpgxq's to judge.
Line parse_line(simdjson::dom::parser& parser, const std::string& text, size_t number) {
  auto bad = [&](const std::string& why) {
    return CommandError(kExitUsage, "stdin line " + std::to_string(number) + ": " + why + "; nothing was inserted");
  };
  auto int32 = [&](simdjson::dom::element v, std::string_view key) {
    int64_t n = 0;
    if (v.get_int64().get(n) || n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max())
      throw bad("\"" + std::string(key) + "\" must be a 32-bit integer");
    return static_cast<int>(n);
  };
  simdjson::dom::element doc;
  if (auto error = parser.parse(simdjson::padded_string(text)).get(doc))
    throw bad(std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object obj;
  if (doc.get_object().get(obj))
    throw bad("expected a JSON object like {\"kind\":\"hello\",\"args\":{\"name\":\"x\"}}");
  Line line;
  line.number = number;
  bool have_kind = false;
  for (auto field : obj) {
    std::string_view key = field.key;
    auto v = field.value;
    if (key == "kind") {
      std::string_view s;
      if (v.get_string().get(s)) throw bad("\"kind\" must be a string");
      line.kind = std::string(s);
      have_kind = true;
    } else if (key == "args") {
      line.args = simdjson::minify(v);
    } else if (key == "queue") {
      std::string_view s;
      if (v.get_string().get(s)) throw bad("\"queue\" must be a string");
      line.fields.queue = std::string(s);
    } else if (key == "priority") {
      line.fields.priority = int32(v, key);
    } else if (key == "max_attempts") {
      line.fields.max_attempts = int32(v, key);
    } else if (key == "unique_key") {
      std::string_view s;
      if (v.get_string().get(s)) throw bad("\"unique_key\" must be a string");
      line.fields.unique_key = std::string(s);
    } else {
      throw bad("unknown field \"" + std::string(key) +
                "\" (expected kind, args, queue, priority, max_attempts, unique_key)");
    }
  }
  if (!have_kind) throw bad("\"kind\" is missing");
  return line;
}

// pgxq_insert_many names the job it refused by its index: "job <index>: <problem>".
std::optional<size_t> refused_job(std::string_view message, std::string_view* problem) {
  constexpr std::string_view prefix = "job ";
  if (message.substr(0, prefix.size()) != prefix) return std::nullopt;
  size_t index = 0;
  const char* digits = message.data() + prefix.size();
  auto [end, ec] = std::from_chars(digits, message.data() + message.size(), index);
  const std::string_view rest(end, static_cast<size_t>(message.data() + message.size() - end));
  if (ec != std::errc() || rest.substr(0, 2) != ": ") return std::nullopt;
  *problem = rest.substr(2);
  return index;
}

int insert_exit_code(const pgxq_error& err) {
  if (!err.sqlstate[0]) return kExitUsage;  // refused before any SQL: bad input
  if (pg::unreachable_sqlstate(err.sqlstate)) return kExitUnavailable;
  return kExitFailure;
}

std::string insert_error(const pgxq_error& err) { return std::string(err.message) + (err.sqlstate[0] ? std::string(" (SQLSTATE ") + err.sqlstate + ")" : ""); }

// The table a job of `queue` goes to: --table, else the queue's [queues.<name>] table, else
// [worker] table: where `pgxqd run` with this config looks for it.
std::string table_for(const EnqueueOptions& o, const config::Config& config, const std::optional<std::string>& queue) {
  if (o.table) return resolve_table(o.table, config);
  const std::string name = queue.value_or(PGXQ_DEFAULT_QUEUE);
  for (const auto& q : config.queues)
    if (q.name == name && !q.table.empty()) return q.table;
  return config.worker.table;
}

// The error for a failed insert into `table`. libpgxq's own hint for a missing table is
// replaced by the command that creates this one.
std::string insert_failure(const EnqueueOptions& o, const std::string& table, const pgxq_error& err) {
  std::string msg = "cannot enqueue into " + table + ": ";
  if (std::string(err.sqlstate) != "42P01") return msg + insert_error(err);
  std::string message = err.message;
  if (auto hint = message.find(" (create the job table first"); hint != std::string::npos) message.erase(hint);
  msg += message + " (SQLSTATE 42P01); create it first: pgxqd migrate ";
  return msg + (o.config && !o.table ? "--config " + *o.config : "--table " + table);
}

int from_stdin(const Context& ctx, const EnqueueOptions& o, std::istream& in) {
  auto conn = connect(ctx);
  pg::Transaction tx(conn);
  simdjson::dom::parser parser;
  std::vector<Line> batch;
  std::string table;  // every line of `batch` goes to this table
  int64_t total = 0, keyed = 0, skipped = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<pgxq_insert_opts> opts(batch.size());
    std::vector<pgxq_job_spec> specs(batch.size(), pgxq_job_spec PGXQ_JOB_SPEC_INIT);
    for (size_t i = 0; i < batch.size(); ++i) {
      opts[i] = insert_opts(batch[i].fields);
      specs[i].kind = batch[i].kind.c_str();
      specs[i].args_json = batch[i].args.empty() ? nullptr : batch[i].args.c_str();
      specs[i].opts = &opts[i];
    }
    pgxq_error err{};
    int64_t n = pgxq_insert_many(conn.get(), table.c_str(), specs.data(), specs.size(), &err);
    std::string_view problem;
    if (n < 0 && !err.sqlstate[0]) {
      if (auto job = refused_job(err.message, &problem); job && *job < batch.size())
        throw CommandError(kExitUsage, "stdin line " + std::to_string(batch[*job].number) + ": " +
                                           std::string(problem) + "; nothing was inserted");
    }
    if (n < 0) throw CommandError(insert_exit_code(err), insert_failure(o, table, err) + "; nothing was inserted");
    total += n;
    skipped += static_cast<int64_t>(batch.size()) - n;  // only lines whose unique key was taken
    batch.clear();
  };
  std::string text;
  size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    Line line = parse_line(parser, text, number);
    if (line.fields.unique_key) ++keyed;
    std::string line_table = table_for(o, *ctx.config, line.fields.queue);
    if (line_table != table || batch.size() >= kBatch) flush();
    table = std::move(line_table);
    batch.push_back(std::move(line));
  }
  flush();
  tx.commit();
  if (o.json)
    std::cout << nlohmann::json{{"inserted", total}, {"skipped", skipped}}.dump() << "\n";
  else if (keyed)
    std::cout << total << " inserted, " << skipped << " skipped (their unique key was taken)\n";
  else
    std::cout << total << "\n";
  return kExitOk;
}

}  // namespace

int enqueue(const EnqueueOptions& o, std::istream& in) {
  Context ctx = resolve(o.config, o.database);
  if (o.from_stdin) {
    if (!o.kind.empty() || o.queue || o.priority || o.max_attempts || o.in || o.at || o.unique_key)
      throw CommandError(kExitUsage, "--stdin takes every job from stdin: give no KIND, ARGS_JSON, --queue, --priority, "
                                     "--max-attempts, --in, --at or --unique-key with it (a line may have \"unique_key\")");
    if (o.table) resolve_table(o.table, *ctx.config);  // a bad --table is a usage error before any input is read
    return from_stdin(ctx, o, in);
  }
  const std::string table = table_for(o, *ctx.config, o.queue);
  if (o.kind.empty()) throw CommandError(kExitUsage, "KIND is required (or --stdin)");
  // libpgxq reads "" as {}; on the command line an empty ARGS_JSON is more likely a mistake.
  if (o.args.empty())
    throw CommandError(kExitUsage, "ARGS_JSON is empty (pass a JSON object, e.g. '{\"name\":\"world\"}', or leave it out for {})");

  JobFields fields{o.queue, o.priority, o.max_attempts, std::nullopt, o.unique_key};
  if (o.in) {
    auto d = config::parse_duration(*o.in);
    if (!d.ok()) throw CommandError(kExitUsage, "--in: " + d.error);
    fields.delay_seconds = static_cast<double>(d.value.count()) / 1000.0;
  }
  pgxq_insert_opts opts = insert_opts(fields);
  opts.table = table.c_str();
  pgxq_error err{};
  // Bad input is a usage error whether or not the database answers: libpgxq judges the job
  // before it looks at the connection, so without one it only validates (see pgxq_insert).
  if (pgxq_insert(nullptr, o.kind.c_str(), o.args.c_str(), &opts, &err) < 0 && !err.sqlstate[0])
    throw CommandError(kExitUsage, "cannot enqueue into " + table + ": " + insert_error(err));
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
  err = pgxq_error{};
  pgxq_insert_result result = PGXQ_INSERT_RESULT_INIT;
  if (pgxq_insert_ex(conn.get(), o.kind.c_str(), o.args.c_str(), &opts, &result, &err) != 0)
    throw CommandError(insert_exit_code(err), insert_failure(o, table, err));
  if (o.json) {
    nlohmann::json j{{"id", result.id}, {"inserted", result.inserted != 0}, {"kind", o.kind}, {"table", table}};
    j["unique_key"] = o.unique_key ? nlohmann::json(*o.unique_key) : nlohmann::json();
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (!o.unique_key) {
    std::cout << result.id << "\n";
  } else if (result.inserted) {
    std::cout << result.id << " inserted\n";
  } else {
    std::cout << result.id << " already there: job " << result.id << " (" << o.kind << ") holds unique key '"
              << *o.unique_key << "'; nothing was inserted\n";
  }
  return kExitOk;
}

}  // namespace pgxq::app
