// pgxq/plugin.hpp — header-only C++20 wrapper over the C plugin ABI (pgxq/plugin.h).
//
// What it gives a handler author:
//   - PGXQ_PLUGIN(name, version, init) defines the entry function, the descriptor, init and
//     shutdown; `init` is a callable taking pgxq::Plugin& that registers handlers and reads
//     settings.
//   - pgxq::Job, a view of the job: accessors, args parsed with simdjson On-Demand and read
//     through typed accessors with clear errors (job.arg<int64_t>("ms"), job.arg_opt<bool>(...),
//     job.arg<std::string_view>(...)), SQL in the job's transaction returning RAII pgxq::Rows,
//     should_stop(), logging.
//   - Outcome types: pgxq::Complete{}, pgxq::Retry{message, delay}, pgxq::Discard{message},
//     pgxq::Snooze{delay} (ABI 1.1: run again after `delay` without using an attempt; on a host
//     without snooze, an ABI 1.0 pgxqd, it becomes a failed attempt with a message saying so,
//     retried after `delay`, rather than an outcome the host cannot read).
//   - The boundary. An exception leaving a handler is an ordinary error, C++'s way of returning
//     one (as a Go handler returns `error`): a failed attempt, rolled back and retried with the
//     daemon's backoff, failed for good once max_attempts are used up. Its message is
//     "<type>: <what()>" with the exception's demangled dynamic type, e.g.
//     "pgxq::SqlError: relation "greetings" does not exist (SQLSTATE 42P01)" or
//     "std::runtime_error: boom"; an exception not derived from std::exception is recorded as
//     "unknown exception of type <type> (not derived from std::exception, so no message)".
//     Discarding is explicit: return pgxq::Discard{message}. To discard from deep inside a
//     call, the way go-pgxq records a handler panic, throw pgxq::Panic{message}: the job is
//     discarded and recorded as "panic: <message>". Any exception leaving init refuses the
//     plugin with its text. No exception ever reaches the host, and building these messages
//     cannot throw (the exception may be std::bad_alloc).
//
// Threads: handlers run concurrently on worker threads. A pgxq::Job and the Rows it returns
// belong to one handler call on one thread. pgxq::Plugin is only for init (its config getters
// may also be used later through Plugin::settings(), which is thread-safe).
#pragma once

#include <pgxq/plugin.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#if defined(__has_include)
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define PGXQ_PLUGIN_HAVE_CXXABI 1
#endif
#endif

namespace pgxq {

// ---- Outcomes -----------------------------------------------------------------------------------

struct Complete {};
struct Retry {
  std::string message;
  std::optional<std::chrono::milliseconds> delay{};  // empty: the daemon's backoff policy
};
struct Discard {
  std::string message;
};
// Not done yet: the job runs again after `delay` (0: as soon as a worker is free), and this run
// does not count as an attempt (job.snoozes() counts it instead). Needs a host of plugin ABI
// 1.1 (pgxq/plugin.h, PGXQ_OUTCOME_SNOOZE); see Job::host_snoozes(). `delay` is clamped to
// 0 .. 31 days, the range set_delay_ms accepts.
struct Snooze {
  std::chrono::milliseconds delay{0};
};
using Outcome = std::variant<Complete, Retry, Discard, Snooze>;

// Thrown from anywhere inside a handler to discard the job as a panic: recorded as
// "panic: <message>", the way go-pgxq records a panicking handler. Deliberately not derived
// from std::exception, so a handler's own `catch (const std::exception&)` does not swallow it.
// For an ordinary permanent failure, return pgxq::Discard{message} instead.
class Panic {
public:
  explicit Panic(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept { return message_.c_str(); }

private:
  std::string message_;
};

// ---- Errors -------------------------------------------------------------------------------------

// A host call failed (SQL error, bad argument, wrong time). sqlstate() is set for SQL errors.
class HostError : public std::runtime_error {
public:
  HostError(int code, std::string message, std::string sqlstate = {})
      : std::runtime_error(std::move(message)), code_(code), sqlstate_(std::move(sqlstate)) {}
  int code() const noexcept { return code_; }
  const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
  int code_;
  std::string sqlstate_;
};

// A statement run with Job::exec failed in the database. what() is the server's message with
// its SQLSTATE, e.g. `relation "greetings" does not exist (SQLSTATE 42P01)`; sqlstate() the
// five characters alone, to tell a deadlock (40P01) or a serialization failure (40001) from a
// missing table (42P01).
class SqlError : public HostError {
public:
  using HostError::HostError;
};

// A job's args are not what the handler expects (missing key, wrong type, not JSON).
class ArgError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A plugin setting is missing or has the wrong type.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class Level { trace = PGXQ_LOG_TRACE, debug = PGXQ_LOG_DEBUG, info = PGXQ_LOG_INFO,
                   warn = PGXQ_LOG_WARN, error = PGXQ_LOG_ERROR };

// One SQL parameter in text format; std::nullopt is SQL NULL.
using Param = std::optional<std::string_view>;

namespace detail {
inline HostError host_error(const pgxq_plugin_host* host, int code, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += host->last_error();
  return HostError(code, std::move(msg), host->last_sqlstate());
}
}  // namespace detail

// ---- Rows ---------------------------------------------------------------------------------------

// The result of one statement; freed at destruction. Valid only inside the handler call.
class Rows {
public:
  Rows() = default;
  Rows(const pgxq_plugin_host* host, pgxq_plugin_rows* rows) noexcept : host_(host), rows_(rows) {}
  ~Rows() { reset(); }
  Rows(Rows&& o) noexcept : host_(o.host_), rows_(std::exchange(o.rows_, nullptr)) {}
  Rows& operator=(Rows&& o) noexcept {
    if (this != &o) {
      reset();
      host_ = o.host_;
      rows_ = std::exchange(o.rows_, nullptr);
    }
    return *this;
  }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  int size() const noexcept { return rows_ ? host_->rows_count(rows_) : 0; }
  bool empty() const noexcept { return size() == 0; }
  int columns() const noexcept { return rows_ ? host_->rows_columns(rows_) : 0; }
  int64_t affected() const noexcept { return rows_ ? host_->rows_affected(rows_) : 0; }

  bool is_null(int row, int col) const {
    check(row, col);
    return host_->rows_is_null(rows_, row, col) == 1;
  }
  // Text of one value ("" for NULL); valid while this object lives.
  std::string_view text(int row, int col) const {
    check(row, col);
    return {host_->rows_value(rows_, row, col), host_->rows_length(rows_, row, col)};
  }
  std::string_view column_name(int col) const {
    if (col < 0 || col >= columns())
      throw std::out_of_range("column " + std::to_string(col) + " out of range (" +
                              std::to_string(columns()) + " columns)");
    return host_->rows_column_name(rows_, col);
  }
  // Typed value: int64_t (or any integer type), double, bool, std::string, std::string_view.
  // Throws std::runtime_error for NULL or unparsable text; use get<std::optional<T>> for NULLs.
  template <class T>
  T get(int row, int col) const;

private:
  void check(int row, int col) const {
    if (row < 0 || row >= size() || col < 0 || col >= columns())
      throw std::out_of_range("row " + std::to_string(row) + ", column " + std::to_string(col) +
                              " out of range (" + std::to_string(size()) + " rows, " +
                              std::to_string(columns()) + " columns)");
  }
  void reset() noexcept {
    if (rows_) host_->rows_free(rows_);
    rows_ = nullptr;
  }
  const pgxq_plugin_host* host_ = nullptr;
  pgxq_plugin_rows* rows_ = nullptr;
};

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
T parse_text(std::string_view s, std::string_view what) {
  if constexpr (std::is_same_v<T, bool>) {
    if (s == "t" || s == "true") return true;
    if (s == "f" || s == "false") return false;
    throw std::runtime_error(std::string(what) + ": expected a boolean, got \"" + std::string(s) + "\"");
  } else if constexpr (std::is_integral_v<T>) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
      throw std::runtime_error(std::string(what) + ": expected an integer, got \"" + std::string(s) + "\"");
    return v;
  } else if constexpr (std::is_floating_point_v<T>) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
      throw std::runtime_error(std::string(what) + ": expected a number, got \"" + std::string(s) + "\"");
    return v;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return std::string(s);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return s;
  } else {
    static_assert(!sizeof(T*), "Rows::get supports integers, double, bool, std::string, std::string_view");
  }
}
}  // namespace detail

template <class T>
T Rows::get(int row, int col) const {
  if constexpr (detail::is_optional<T>::value) {
    if (is_null(row, col)) return std::nullopt;
    return get<typename T::value_type>(row, col);
  } else {
    const std::string what = "row " + std::to_string(row) + ", column \"" + std::string(column_name(col)) + "\"";
    if (is_null(row, col)) throw std::runtime_error(what + " is NULL");
    return detail::parse_text<T>(text(row, col), what);
  }
}

// ---- Job ----------------------------------------------------------------------------------------

class Job {
public:
  using time_point = std::chrono::sys_time<std::chrono::microseconds>;

  Job(const pgxq_plugin_host* host, pgxq_plugin_job* job) noexcept : host_(host), job_(job) {}
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  int64_t id() const noexcept { return host_->job_id(job_); }
  std::string_view kind() const noexcept { return host_->job_kind(job_); }
  std::string_view queue() const noexcept { return host_->job_queue(job_); }
  std::string_view args() const noexcept {
    size_t len = 0;
    const char* p = host_->job_args(job_, &len);
    return {p, len};
  }
  int attempt() const noexcept { return host_->job_attempt(job_); }
  int max_attempts() const noexcept { return host_->job_max_attempts(job_); }
  int priority() const noexcept { return host_->job_priority(job_); }
  time_point scheduled_at() const noexcept {
    return time_point(std::chrono::microseconds(host_->job_scheduled_at(job_)));
  }
  time_point created_at() const noexcept {
    return time_point(std::chrono::microseconds(host_->job_created_at(job_)));
  }
  // How often this job was snoozed before this run; 0 on a host without snooze (ABI 1.0).
  int snoozes() const noexcept { return PGXQ_HOST_HAS(host_, job_snoozes) ? host_->job_snoozes(job_) : 0; }
  // Whether the host understands pgxq::Snooze (plugin ABI 1.1 or newer).
  bool host_snoozes() const noexcept { return PGXQ_HOST_HAS(host_, job_snoozes); }

  // The top-level arg `key` as T: bool, any integer type (range-checked), double (integers
  // accepted), std::string, or std::string_view (valid while this Job lives). Throws ArgError
  // naming the key when it is missing, null, or of another type, or when args are not a JSON
  // object.
  template <class T>
  T arg(std::string_view key) const {
    auto v = lookup<T>(key);
    if (!v) throw ArgError("args: \"" + std::string(key) + "\" is required but missing or null");
    return std::move(*v);
  }
  // Same, but a missing or null key is std::nullopt (a key of another type still throws).
  template <class T>
  std::optional<T> arg_opt(std::string_view key) const {
    return lookup<T>(key);
  }
  template <class T>
  T arg_or(std::string_view key, T fallback) const {
    auto v = lookup<T>(key);
    return v ? std::move(*v) : std::move(fallback);
  }

  // Runs parameterised SQL ($1..$n, text format) in the job's transaction (opened on first
  // use; it commits only if the handler returns Complete). Throws SqlError (a HostError) with
  // the server's message and SQLSTATE when the database refuses the statement; after that the
  // transaction is aborted and the job cannot complete. Left uncaught, it makes the attempt
  // fail and the job is retried. Other failures (bad arguments, the host out of memory) throw
  // HostError.
  Rows exec(std::string_view sql, std::initializer_list<Param> params = {}) {
    return exec(sql, std::span<const Param>(params.begin(), params.size()));
  }
  Rows exec(std::string_view sql, std::span<const Param> params) {
    std::string sql_z(sql);
    std::vector<std::string> owned;
    owned.reserve(params.size());
    std::vector<const char*> ptrs;
    ptrs.reserve(params.size());
    for (const auto& p : params) {
      if (p) {
        owned.emplace_back(*p);
        ptrs.push_back(owned.back().c_str());
      } else {
        ptrs.push_back(nullptr);
      }
    }
    pgxq_plugin_rows* rows = nullptr;
    int rc = host_->exec(job_, sql_z.c_str(), static_cast<int>(ptrs.size()), ptrs.data(), &rows);
    if (rc == PGXQ_PLUGIN_E_SQL) throw SqlError(rc, host_->last_error(), host_->last_sqlstate());
    if (rc != PGXQ_PLUGIN_OK) throw detail::host_error(host_, rc, "exec failed");
    return Rows(host_, rows);
  }

  bool should_stop() const noexcept { return host_->should_stop(job_) != 0; }

  void log(Level level, std::string_view message) const {
    std::string m(message);
    host_->log(job_, static_cast<int>(level), m.c_str());
  }
  void debug(std::string_view m) const { log(Level::debug, m); }
  void info(std::string_view m) const { log(Level::info, m); }
  void warn(std::string_view m) const { log(Level::warn, m); }
  void error(std::string_view m) const { log(Level::error, m); }

  const pgxq_plugin_host* host() const noexcept { return host_; }
  pgxq_plugin_job* raw() const noexcept { return job_; }

private:
  static const char* type_name(simdjson::ondemand::json_type t) {
    switch (t) {
      case simdjson::ondemand::json_type::array: return "an array";
      case simdjson::ondemand::json_type::object: return "an object";
      case simdjson::ondemand::json_type::number: return "a number";
      case simdjson::ondemand::json_type::string: return "a string";
      case simdjson::ondemand::json_type::boolean: return "a boolean";
      case simdjson::ondemand::json_type::null: return "null";
    }
    return "an unknown JSON value";
  }

  template <class T>
  std::optional<T> lookup(std::string_view key) const {
    using namespace simdjson;
    if (!padded_) padded_.emplace(args());
    ondemand::document doc;
    ondemand::object obj;
    if (auto e = parser_.iterate(*padded_).get(doc); e)
      throw ArgError(std::string("args: not valid JSON: ") + error_message(e));
    if (auto e = doc.get_object().get(obj); e)
      throw ArgError(std::string("args: expected a JSON object: ") + error_message(e));
    ondemand::value v;
    auto e = obj.find_field_unordered(key).get(v);
    if (e == NO_SUCH_FIELD) return std::nullopt;
    if (e) throw ArgError(std::string("args: not valid JSON: ") + error_message(e));
    ondemand::json_type t;
    if (auto te = v.type().get(t); te) throw ArgError(std::string("args: not valid JSON: ") + error_message(te));
    if (t == ondemand::json_type::null) return std::nullopt;
    auto wrong = [&](const char* expected) {
      return ArgError("args: \"" + std::string(key) + "\" must be " + expected + ", got " + type_name(t));
    };
    if constexpr (std::is_same_v<T, bool>) {
      bool b;
      if (t != ondemand::json_type::boolean || v.get_bool().get(b)) throw wrong("a boolean");
      return b;
    } else if constexpr (std::is_integral_v<T>) {
      if (t != ondemand::json_type::number) throw wrong("an integer");
      int64_t i;
      if (v.get_int64().get(i))
        throw ArgError("args: \"" + std::string(key) + "\" must be an integer (got a fraction or a number out of range)");
      if (!std::in_range<T>(i))
        throw ArgError("args: \"" + std::string(key) + "\" = " + std::to_string(i) + " is out of range");
      return static_cast<T>(i);
    } else if constexpr (std::is_floating_point_v<T>) {
      double d;
      if (t != ondemand::json_type::number || v.get_double().get(d)) throw wrong("a number");
      return static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
      std::string_view s;
      if (t != ondemand::json_type::string || v.get_string().get(s)) throw wrong("a string");
      if constexpr (std::is_same_v<T, std::string>) {
        return std::string(s);
      } else {
        // The parser reuses its string buffer on the next lookup: keep a stable copy.
        return std::string_view(strings_.emplace_back(s));
      }
    } else {
      static_assert(!sizeof(T*), "Job::arg supports bool, integers, double, std::string, std::string_view");
    }
  }

  const pgxq_plugin_host* host_;
  pgxq_plugin_job* job_;
  mutable std::optional<simdjson::padded_string> padded_;
  mutable simdjson::ondemand::parser parser_;
  mutable std::deque<std::string> strings_;
};

// ---- Plugin (init) ------------------------------------------------------------------------------

using HandlerFn = std::function<Outcome(Job&)>;

// Read-only view of the plugin's [plugins.<name>] settings. Thread-safe; valid for the life of
// the process, so handlers may capture it by value.
class Settings {
public:
  Settings(const pgxq_plugin_host* host, const pgxq_plugin* plugin) noexcept : host_(host), plugin_(plugin) {}

  // T: std::string, std::string_view (lives as long as the process), int64_t (or another
  // integer type, range-checked), bool, double. Throws ConfigError when missing or mistyped.
  template <class T>
  T get(std::string_view key) const {
    auto v = get_opt<T>(key);
    if (!v) throw ConfigError(host_->last_error());
    return std::move(*v);
  }
  // Missing → std::nullopt; mistyped still throws ConfigError.
  template <class T>
  std::optional<T> get_opt(std::string_view key) const {
    std::string k(key);
    int rc;
    T out{};
    if constexpr (std::is_same_v<T, bool>) {
      int b = 0;
      rc = host_->config_bool(plugin_, k.c_str(), &b);
      out = b != 0;
    } else if constexpr (std::is_integral_v<T>) {
      int64_t i = 0;
      rc = host_->config_int(plugin_, k.c_str(), &i);
      if (rc == PGXQ_PLUGIN_OK) {
        if (!std::in_range<T>(i))
          throw ConfigError("setting \"" + k + "\" = " + std::to_string(i) + " is out of range");
        out = static_cast<T>(i);
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      double d = 0;
      rc = host_->config_double(plugin_, k.c_str(), &d);
      out = static_cast<T>(d);
    } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
      const char* s = nullptr;
      rc = host_->config_string(plugin_, k.c_str(), &s);
      if (rc == PGXQ_PLUGIN_OK) out = T(s);
    } else {
      static_assert(!sizeof(T*), "settings support bool, integers, double, std::string, std::string_view");
    }
    if (rc == PGXQ_PLUGIN_E_NOT_FOUND) return std::nullopt;
    if (rc != PGXQ_PLUGIN_OK) throw ConfigError(host_->last_error());
    return out;
  }
  template <class T>
  T get_or(std::string_view key, T fallback) const {
    auto v = get_opt<T>(key);
    return v ? std::move(*v) : std::move(fallback);
  }

private:
  const pgxq_plugin_host* host_;
  const pgxq_plugin* plugin_;
};

namespace detail {
struct State {
  std::deque<HandlerFn> handlers;  // stable addresses: each is a handler's user_data
  std::vector<std::function<void()>> on_shutdown;
};
}  // namespace detail

// Handed to the init callable: register handlers, read settings, log.
class Plugin {
public:
  Plugin(const pgxq_plugin_host* host, pgxq_plugin* plugin, detail::State& state) noexcept
      : host_(host), plugin_(plugin), state_(state) {}

  // Registers `fn` (callable as Outcome(pgxq::Job&), called concurrently from worker threads)
  // for jobs of `kind`. Throws HostError (e.g. the kind is already registered).
  template <class F>
  void handle(std::string_view kind, F&& fn);

  Settings settings() const noexcept { return Settings(host_, plugin_); }
  template <class T>
  T config(std::string_view key) const { return settings().get<T>(key); }
  template <class T>
  std::optional<T> config_opt(std::string_view key) const { return settings().get_opt<T>(key); }
  template <class T>
  T config_or(std::string_view key, T fallback) const { return settings().get_or<T>(key, std::move(fallback)); }

  void log(Level level, std::string_view message) const {
    std::string m(message);
    host_->plugin_log(plugin_, static_cast<int>(level), m.c_str());
  }
  // Runs at shutdown (after the last handler call), in reverse registration order.
  void on_shutdown(std::function<void()> fn) { state_.on_shutdown.push_back(std::move(fn)); }

  const pgxq_plugin_host* host() const noexcept { return host_; }
  pgxq_plugin* raw() const noexcept { return plugin_; }

private:
  const pgxq_plugin_host* host_;
  pgxq_plugin* plugin_;
  detail::State& state_;
};

namespace detail {

// The demangled name of `type` in a malloc'ed buffer the caller frees, or NULL (demangling
// unavailable or out of memory: the caller falls back to type.name()).
inline char* demangle(const std::type_info& type) noexcept {
#ifdef PGXQ_PLUGIN_HAVE_CXXABI
  int status = 0;
  char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  if (status == 0) return name;
  std::free(name);
#else
  (void)type;
#endif
  return nullptr;
}

// The type of the exception being handled, or NULL when the runtime cannot say.
inline const std::type_info* current_exception_type() noexcept {
#ifdef PGXQ_PLUGIN_HAVE_CXXABI
  return abi::__cxa_current_exception_type();
#else
  return nullptr;
#endif
}

// Records "<type>: <what>" (or, for an exception not derived from std::exception, that it
// carries no message) as the failed attempt's message. The exception may be std::bad_alloc,
// so nothing here throws: the text is built in malloc'ed memory, and in a fixed buffer,
// truncated, when even that fails.
inline void set_exception_message(const pgxq_plugin_host* host, pgxq_plugin_job* job, const std::type_info* type,
                                  const char* what, bool is_std) noexcept {
  char* demangled = type ? demangle(*type) : nullptr;
  const char* name = demangled ? demangled : type ? type->name() : nullptr;
  const char* parts[3];
  if (is_std) {
    parts[0] = name ? name : "std::exception";
    parts[1] = what && *what ? ": " : "";
    parts[2] = what ? what : "";
  } else if (name) {
    parts[0] = "unknown exception of type ";
    parts[1] = name;
    parts[2] = " (not derived from std::exception, so no message)";
  } else {
    parts[0] = "unknown exception (not derived from std::exception; its type and message are unknown)";
    parts[1] = parts[2] = "";
  }
  const size_t length = std::strlen(parts[0]) + std::strlen(parts[1]) + std::strlen(parts[2]);
  char* text = static_cast<char*>(std::malloc(length + 1));
  char fallback[512];
  size_t size = length + 1;
  if (!text) {
    text = fallback;
    size = sizeof fallback;
  }
  std::snprintf(text, size, "%s%s%s", parts[0], parts[1], parts[2]);
  host->set_message(job, text);
  if (text != fallback) std::free(text);
  std::free(demangled);
}

inline int trampoline(const pgxq_plugin_host* host, pgxq_plugin_job* job, void* user_data) noexcept {
  try {
    Job j(host, job);
    Outcome out = (*static_cast<HandlerFn*>(user_data))(j);
    if (auto* r = std::get_if<Retry>(&out)) {
      host->set_message(job, r->message.c_str());
      if (r->delay && host->set_delay_ms(job, r->delay->count()) != PGXQ_PLUGIN_OK)
        host->log(job, PGXQ_LOG_WARN, host->last_error());
      return PGXQ_OUTCOME_RETRY;
    }
    if (auto* d = std::get_if<Discard>(&out)) {
      host->set_message(job, d->message.c_str());
      return PGXQ_OUTCOME_DISCARD;
    }
    if (auto* s = std::get_if<Snooze>(&out)) {
      const int64_t delay_ms = std::clamp<int64_t>(s->delay.count(), 0, int64_t{31} * 24 * 3600 * 1000);
      host->set_delay_ms(job, delay_ms);
      if (PGXQ_HOST_HAS(host, job_snoozes)) return PGXQ_OUTCOME_SNOOZE;
      // An ABI 1.0 host would record SNOOZE as an unknown code: say what happened instead.
      host->set_message(job, "the handler snoozed the job, but this pgxqd provides plugin ABI 1.0, which has no "
                             "snooze: recorded as a failed attempt, retried after the snooze's delay; upgrade pgxqd "
                             "to a release with plugin ABI 1.1 or newer");
      return PGXQ_OUTCOME_RETRY;
    }
    return PGXQ_OUTCOME_COMPLETE;
  } catch (const Panic& p) {
    host->set_message(job, p.what());
    return PGXQ_OUTCOME_PANIC;
  } catch (const std::exception& e) {
    set_exception_message(host, job, &typeid(e), e.what(), true);
    return PGXQ_OUTCOME_RETRY;
  } catch (...) {
    set_exception_message(host, job, current_exception_type(), nullptr, false);
    return PGXQ_OUTCOME_RETRY;
  }
}

template <class F>
int run_init(const pgxq_plugin_host* host, pgxq_plugin* plugin, State& state, F&& init) noexcept {
  try {
    Plugin p(host, plugin, state);
    init(p);
    return 0;
  } catch (const std::exception& e) {
    host->set_init_error(plugin, e.what());
  } catch (...) {
    host->set_init_error(plugin, "unknown exception");
  }
  return 1;
}

inline void run_shutdown(const pgxq_plugin_host* host, pgxq_plugin* plugin, State& state) noexcept {
  for (auto it = state.on_shutdown.rbegin(); it != state.on_shutdown.rend(); ++it) {
    try {
      (*it)();
    } catch (const std::exception& e) {
      // A fixed buffer: building a std::string here could throw out of this noexcept function.
      char line[1024];
      std::snprintf(line, sizeof line, "shutdown hook threw: %s", e.what());
      host->plugin_log(plugin, PGXQ_LOG_ERROR, line);
    } catch (...) {
      host->plugin_log(plugin, PGXQ_LOG_ERROR, "shutdown hook threw an unknown exception");
    }
  }
  state.on_shutdown.clear();
}

}  // namespace detail

template <class F>
void Plugin::handle(std::string_view kind, F&& fn) {
  std::string k(kind);
  HandlerFn& stored = state_.handlers.emplace_back(std::forward<F>(fn));
  int rc = host_->register_handler(plugin_, k.c_str(), &detail::trampoline, &stored);
  if (rc != PGXQ_PLUGIN_OK) {
    state_.handlers.pop_back();
    throw detail::host_error(host_, rc, "cannot register kind \"" + k + "\"");
  }
}

}  // namespace pgxq

// Defines the plugin: PGXQ_PLUGIN("name", "1.0.0", [](pgxq::Plugin& p) { p.handle(...); });
// Use once per plugin, at namespace scope in one .cpp file. The descriptor states
// PGXQ_PLUGIN_REQUIRES_MINOR (see pgxq/plugin.h): 0, any host of this major, unless the plugin
// defines it before including this header.
#define PGXQ_PLUGIN(NAME, VERSION, ...)                                                          \
  namespace {                                                                                    \
  ::pgxq::detail::State& pgxq_plugin_state_() {                                                  \
    static ::pgxq::detail::State state;                                                          \
    return state;                                                                                \
  }                                                                                              \
  int pgxq_plugin_init_(const pgxq_plugin_host* host, pgxq_plugin* plugin) noexcept {           \
    return ::pgxq::detail::run_init(host, plugin, pgxq_plugin_state_(), __VA_ARGS__);           \
  }                                                                                              \
  void pgxq_plugin_shutdown_(const pgxq_plugin_host* host, pgxq_plugin* plugin) noexcept {      \
    ::pgxq::detail::run_shutdown(host, plugin, pgxq_plugin_state_());                            \
  }                                                                                              \
  }                                                                                              \
  extern "C" PGXQ_PLUGIN_EXPORT const pgxq_plugin_descriptor* pgxq_plugin_entry(void) {          \
    static const pgxq_plugin_descriptor descriptor =                                             \
        PGXQ_PLUGIN_DESCRIPTOR_INIT(NAME, VERSION, &pgxq_plugin_init_, &pgxq_plugin_shutdown_);  \
    return &descriptor;                                                                          \
  }
