// plugin/host_api: see host_api.hpp. Every function in the table is a C entry point: it checks
// its arguments, never throws, and reports failures through a return code and the calling
// thread's last error.
#include "plugin/host_api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <span>
#include <string_view>

#include "pg/error.hpp"
#include "plugin/registry.hpp"
#include "pg/utf8.hpp"

using pgxq::plugin::Registration;
using pgxq::plugin::Registry;

struct pgxq_plugin_rows {
  pgxq::pg::Result result;
  pgxq_plugin_job* owner = nullptr;
};

pgxq_plugin_job::~pgxq_plugin_job() {
  for (auto* r : open_rows) delete r;
}

namespace pgxq::plugin {

using pg::repair_utf8;
using pg::valid_utf8;

namespace {

// Per thread, like errno and dlerror(): the handles are shared between threads (one plugin
// serves every worker), so an error slot on them would race; one per thread cannot.
struct LastError {
  std::string message;
  std::string sqlstate;
};
LastError& last() noexcept {
  thread_local LastError e;
  return e;
}

int fail(int code, std::string_view message, std::string_view sqlstate = {}) noexcept {
  try {
    last().message = repair_utf8(message);
    last().sqlstate.assign(sqlstate);
  } catch (...) {
    last().message.clear();  // out of memory: the code still tells what happened
    last().sqlstate.clear();
  }
  return code;
}

int internal(const char* where) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    return fail(PGXQ_PLUGIN_E_INTERNAL, std::string(where) + ": " + e.what());
  } catch (...) {
    return fail(PGXQ_PLUGIN_E_INTERNAL, std::string(where) + ": unknown error");
  }
}

// ---- errors ----

const char* last_error() noexcept { return last().message.c_str(); }
const char* last_sqlstate() noexcept { return last().sqlstate.c_str(); }

// ---- start-up ----

int register_handler(pgxq_plugin* plugin, const char* kind, pgxq_plugin_handler_fn fn, void* user_data) noexcept {
  try {
    if (!plugin || !kind || !fn)
      return fail(PGXQ_PLUGIN_E_INVALID, "register_handler: plugin, kind and fn must not be NULL");
    if (!plugin->initialising || !plugin->registry)
      return fail(PGXQ_PLUGIN_E_STATE, "register_handler(\"" + repair_utf8(kind) + "\") called by plugin " +
                                           plugin->name +
                                           " after its init returned; handlers can only be registered "
                                           "inside init, before workers start");
    if (auto why = check_kind(kind); !why.empty())
      return fail(PGXQ_PLUGIN_E_INVALID, "register_handler: invalid kind \"" + repair_utf8(kind) + "\": " + why);
    const Registration* owner = nullptr;
    switch (plugin->registry->add({kind, plugin->name, plugin->path, fn, user_data}, &owner)) {
      case Registry::AddResult::added:
        plugin->kinds.emplace_back(kind);
        return PGXQ_PLUGIN_OK;
      case Registry::AddResult::duplicate_same_plugin:
        return fail(PGXQ_PLUGIN_E_DUPLICATE, "register_handler: plugin " + plugin->name + " registered kind \"" +
                                                 std::string(kind) + "\" twice");
      case Registry::AddResult::duplicate_other_plugin: {
        std::string msg = two_plugins_message(*owner, plugin->name, plugin->path);
        plugin->conflicts.push_back(msg);
        return fail(PGXQ_PLUGIN_E_DUPLICATE, msg);
      }
    }
    return fail(PGXQ_PLUGIN_E_INTERNAL, "register_handler: unexpected registry state");
  } catch (...) {
    return internal("register_handler");
  }
}

int set_init_error(pgxq_plugin* plugin, const char* message) noexcept {
  try {
    // Copy first: `message` may be our own last_error() buffer, which fail() overwrites.
    std::string text = message ? repair_utf8(message) : std::string(kNoMessage);
    if (!plugin) return fail(PGXQ_PLUGIN_E_INVALID, "set_init_error: plugin must not be NULL");
    if (!plugin->initialising)
      return fail(PGXQ_PLUGIN_E_STATE, "set_init_error called by plugin " + plugin->name + " outside init");
    plugin->init_error = std::move(text);
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("set_init_error");
  }
}

void plugin_log(pgxq_plugin* plugin, int level, const char* message) noexcept {
  try {
    if (!plugin || !plugin->log) return;
    plugin->log->log(log_level(level), "plugin {}: {}", plugin->name,
                     message ? repair_utf8(message) : std::string(kNoMessage));
  } catch (...) {
  }
}

// ---- config ----

const char* type_name(toml::node_type t) noexcept {
  switch (t) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// The node at `key`, or nullptr after recording NOT_FOUND / INVALID in *rc.
const toml::node* config_node(const pgxq_plugin* plugin, const char* key, const void* out, int* rc) {
  if (!plugin || !key || !out) {
    *rc = fail(PGXQ_PLUGIN_E_INVALID, "config: plugin, key and out must not be NULL");
    return nullptr;
  }
  const toml::node* n = toml::at_path(plugin->settings, key).node();
  if (!n) *rc = fail(PGXQ_PLUGIN_E_NOT_FOUND, "[plugins." + plugin->name + "] has no setting \"" + repair_utf8(key) + "\"");
  return n;
}

int mistyped(const pgxq_plugin* plugin, const char* key, const toml::node& n, const char* expected) {
  std::string where;
  std::string file;
  uint32_t line = 0;
  if (plugin->settings_reread) {
    // Re-read from text: the line the daemon recorded for the key, when the key is one of them.
    if (auto it = plugin->setting_lines.find(std::string_view(key)); it != plugin->setting_lines.end()) {
      file = plugin->settings_file;
      line = it->second;
    }
  } else if (const auto& src = n.source(); src.begin.line > 0) {
    if (src.path) file = *src.path;
    line = src.begin.line;
  }
  if (line > 0) {
    where = " (";
    if (!file.empty()) where += file + ":";
    where += "line " + std::to_string(line) + ")";
  }
  return fail(PGXQ_PLUGIN_E_TYPE, "[plugins." + plugin->name + "] setting \"" + repair_utf8(key) + "\" must be " +
                                      expected + ", found " + type_name(n.type()) + where);
}

int config_string(const pgxq_plugin* plugin, const char* key, const char** out) noexcept {
  try {
    int rc = PGXQ_PLUGIN_OK;
    const toml::node* n = config_node(plugin, key, out, &rc);
    if (!n) return rc;
    const auto* s = n->as_string();
    if (!s) return mistyped(plugin, key, *n, "a string");
    *out = s->get().c_str();
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("config_string");
  }
}

int config_int(const pgxq_plugin* plugin, const char* key, int64_t* out) noexcept {
  try {
    int rc = PGXQ_PLUGIN_OK;
    const toml::node* n = config_node(plugin, key, out, &rc);
    if (!n) return rc;
    const auto* i = n->as_integer();
    if (!i) return mistyped(plugin, key, *n, "an integer");
    *out = i->get();
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("config_int");
  }
}

int config_bool(const pgxq_plugin* plugin, const char* key, int* out) noexcept {
  try {
    int rc = PGXQ_PLUGIN_OK;
    const toml::node* n = config_node(plugin, key, out, &rc);
    if (!n) return rc;
    const auto* b = n->as_boolean();
    if (!b) return mistyped(plugin, key, *n, "a boolean");
    *out = b->get() ? 1 : 0;
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("config_bool");
  }
}

int config_double(const pgxq_plugin* plugin, const char* key, double* out) noexcept {
  try {
    int rc = PGXQ_PLUGIN_OK;
    const toml::node* n = config_node(plugin, key, out, &rc);
    if (!n) return rc;
    if (const auto* d = n->as_floating_point()) {
      *out = d->get();
      return PGXQ_PLUGIN_OK;
    }
    if (const auto* i = n->as_integer()) {
      *out = static_cast<double>(i->get());
      return PGXQ_PLUGIN_OK;
    }
    return mistyped(plugin, key, *n, "a number");
  } catch (...) {
    return internal("config_double");
  }
}

// ---- job accessors ----

int64_t job_id(const pgxq_plugin_job* j) noexcept { return j ? j->job.id : 0; }
const char* job_kind(const pgxq_plugin_job* j) noexcept { return j ? j->job.kind.c_str() : nullptr; }
const char* job_queue(const pgxq_plugin_job* j) noexcept { return j ? j->job.queue.c_str() : nullptr; }
const char* job_args(const pgxq_plugin_job* j, size_t* len) noexcept {
  if (len) *len = j ? j->job.args.size() : 0;
  return j ? j->job.args.c_str() : nullptr;
}
int job_attempt(const pgxq_plugin_job* j) noexcept { return j ? j->job.attempt : 0; }
int job_max_attempts(const pgxq_plugin_job* j) noexcept { return j ? j->job.max_attempts : 0; }
int job_priority(const pgxq_plugin_job* j) noexcept { return j ? j->job.priority : 0; }
int64_t job_scheduled_at(const pgxq_plugin_job* j) noexcept { return j ? j->job.scheduled_at_us : 0; }
int64_t job_created_at(const pgxq_plugin_job* j) noexcept { return j ? j->job.created_at_us : 0; }
int job_snoozes(const pgxq_plugin_job* j) noexcept { return j ? j->job.snoozes : 0; }

// ---- SQL ----

int exec(pgxq_plugin_job* j, const char* sql, int nparams, const char* const* params,
         pgxq_plugin_rows** out) noexcept {
  if (out) *out = nullptr;
  try {
    if (!j || !sql) return fail(PGXQ_PLUGIN_E_INVALID, "exec: job and sql must not be NULL");
    if (nparams < 0 || (nparams > 0 && !params))
      return fail(PGXQ_PLUGIN_E_INVALID, "exec: nparams must be >= 0, and params not NULL when nparams > 0");
    std::vector<pg::Param> ps;
    ps.reserve(static_cast<size_t>(nparams));
    for (int i = 0; i < nparams; ++i)
      ps.push_back(params[i] ? pg::Param(std::string_view(params[i])) : pg::Param());
    pg::Result result;
    try {
      result = j->ctx.exec(sql, std::span<const pg::Param>(ps));
    } catch (const pg::Error& e) {
      if (!j->sql_error) j->sql_error = repair_utf8(e.what());
      return fail(PGXQ_PLUGIN_E_SQL, e.what(), e.sqlstate());
    }
    if (out) {
      auto rows = std::make_unique<pgxq_plugin_rows>();
      rows->result = std::move(result);
      rows->owner = j;
      j->open_rows.push_back(rows.get());
      *out = rows.release();
    }
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("exec");
  }
}

bool in_range(const pgxq_plugin_rows* r, int row, int col) noexcept {
  return r && row >= 0 && col >= 0 && row < r->result.rows() && col < r->result.columns();
}

int rows_count(const pgxq_plugin_rows* r) noexcept { return r ? r->result.rows() : 0; }
int rows_columns(const pgxq_plugin_rows* r) noexcept { return r ? r->result.columns() : 0; }
const char* rows_value(const pgxq_plugin_rows* r, int row, int col) noexcept {
  if (!in_range(r, row, col)) {
    fail(PGXQ_PLUGIN_E_INVALID, "rows_value: row or column out of range");
    return nullptr;
  }
  return PQgetvalue(r->result.get(), row, col);
}
size_t rows_length(const pgxq_plugin_rows* r, int row, int col) noexcept {
  return in_range(r, row, col) ? r->result.text(row, col).size() : 0;
}
int rows_is_null(const pgxq_plugin_rows* r, int row, int col) noexcept {
  return in_range(r, row, col) ? (r->result.is_null(row, col) ? 1 : 0) : -1;
}
const char* rows_column_name(const pgxq_plugin_rows* r, int col) noexcept {
  if (!r || col < 0 || col >= r->result.columns()) return nullptr;
  return PQfname(r->result.get(), col);
}
int64_t rows_affected(const pgxq_plugin_rows* r) noexcept {
  try {
    return r ? r->result.affected() : 0;
  } catch (...) {
    return 0;
  }
}
void rows_free(pgxq_plugin_rows* r) noexcept {
  if (!r) return;
  if (auto* owner = r->owner) {
    auto& open = owner->open_rows;
    open.erase(std::remove(open.begin(), open.end(), r), open.end());
  }
  delete r;
}

// ---- control and outcome ----

int should_stop(const pgxq_plugin_job* j) noexcept { return j && j->ctx.should_stop() ? 1 : 0; }

void log(pgxq_plugin_job* j, int level, const char* message) noexcept {
  try {
    if (!j) return;
    std::string text = "plugin " + j->plugin->name + ": " + (message ? repair_utf8(message) : std::string(kNoMessage));
    j->ctx.log(log_level(level), text);
  } catch (...) {
  }
}

int set_message(pgxq_plugin_job* j, const char* message) noexcept {
  try {
    if (!j) return fail(PGXQ_PLUGIN_E_INVALID, "set_message: job must not be NULL");
    if (message)
      j->message = repair_utf8(message);
    else
      j->message.reset();
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("set_message");
  }
}

int set_delay_ms(pgxq_plugin_job* j, int64_t delay_ms) noexcept {
  try {
    if (!j) return fail(PGXQ_PLUGIN_E_INVALID, "set_delay_ms: job must not be NULL");
    if (delay_ms < 0 || delay_ms > kMaxDelayMs)
      return fail(PGXQ_PLUGIN_E_INVALID, "set_delay_ms: " + std::to_string(delay_ms) +
                                             " ms is out of range (0 .. 31 days); the backoff policy applies");
    j->delay_ms = delay_ms;
    return PGXQ_PLUGIN_OK;
  } catch (...) {
    return internal("set_delay_ms");
  }
}

// Filled by field name: C++ requires designators in declaration order, so a field moved in
// pgxq/plugin.h fails to compile here, and a field missing here stays NULL, which
// tests/plugin/abi_layout_test.cpp catches (every function slot must be set).
constexpr pgxq_plugin_host kHost = {
    .abi_major = PGXQ_PLUGIN_ABI_MAJOR,
    .abi_minor = PGXQ_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(pgxq_plugin_host),
    .host_version = PGXQ_VERSION,
    .last_error = last_error,
    .last_sqlstate = last_sqlstate,
    .register_handler = register_handler,
    .set_init_error = set_init_error,
    .plugin_log = plugin_log,
    .config_string = config_string,
    .config_int = config_int,
    .config_bool = config_bool,
    .config_double = config_double,
    .job_id = job_id,
    .job_kind = job_kind,
    .job_queue = job_queue,
    .job_args = job_args,
    .job_attempt = job_attempt,
    .job_max_attempts = job_max_attempts,
    .job_priority = job_priority,
    .job_scheduled_at = job_scheduled_at,
    .job_created_at = job_created_at,
    .exec = exec,
    .rows_count = rows_count,
    .rows_columns = rows_columns,
    .rows_value = rows_value,
    .rows_length = rows_length,
    .rows_is_null = rows_is_null,
    .rows_column_name = rows_column_name,
    .rows_affected = rows_affected,
    .rows_free = rows_free,
    .should_stop = should_stop,
    .log = log,
    .set_message = set_message,
    .set_delay_ms = set_delay_ms,
    .job_snoozes = job_snoozes,
};

}  // namespace

const pgxq_plugin_host* host_table() noexcept { return &kHost; }

int set_last_error(int code, std::string_view message, std::string_view sqlstate) noexcept {
  return fail(code, message, sqlstate);
}

int set_last_error_internal(const char* where) noexcept { return internal(where); }

spdlog::level::level_enum log_level(int level) noexcept {
  switch (level) {
    case PGXQ_LOG_TRACE: return spdlog::level::trace;
    case PGXQ_LOG_DEBUG: return spdlog::level::debug;
    case PGXQ_LOG_INFO: return spdlog::level::info;
    case PGXQ_LOG_WARN: return spdlog::level::warn;
    default: return spdlog::level::err;
  }
}

queue::Outcome to_outcome(int code, const pgxq_plugin_job& job) {
  return to_outcome(code, HandlerReport{job.message, job.delay_ms, job.sql_error});
}

queue::Outcome to_outcome(int code, const HandlerReport& job) {
  std::string message = job.message ? *job.message : std::string(kNoMessage);
  switch (code) {
    case PGXQ_OUTCOME_COMPLETE:
      // The transaction is aborted: committing would fail, and the handler's work is lost.
      if (job.sql_error)
        return queue::Outcome::error("handler returned COMPLETE after a failed SQL statement: " + *job.sql_error);
      return queue::Outcome::complete();
    case PGXQ_OUTCOME_RETRY: {
      std::optional<std::chrono::milliseconds> delay;
      if (job.delay_ms) delay = std::chrono::milliseconds(*job.delay_ms);
      return queue::Outcome::retry(std::move(message), delay);
    }
    case PGXQ_OUTCOME_DISCARD:
      return queue::Outcome::discard(std::move(message));
    case PGXQ_OUTCOME_PANIC:
      return queue::Outcome::panic(std::move(message));
    case PGXQ_OUTCOME_SNOOZE:
      // The message is ignored: a snooze is not an error, and the row keeps its previous text.
      return queue::Outcome::snooze(std::chrono::milliseconds(job.delay_ms.value_or(0)));
    default:
      return queue::Outcome::error("handler returned unknown outcome code " + std::to_string(code));
  }
}

queue::Handler make_handler(const pgxq_plugin* plugin, pgxq_plugin_handler_fn fn, void* user_data) {
  return [plugin, fn, user_data](const queue::Job& job, queue::JobContext& ctx) -> queue::Outcome {
    pgxq_plugin_job cjob(job, ctx, plugin);
    int code = fn(&kHost, &cjob, user_data);
    return to_outcome(code, cjob);
  };
}

}  // namespace pgxq::plugin
