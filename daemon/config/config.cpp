// config/config: see config.hpp. The reader walks the parsed TOML once, section by section,
// recording every problem with its position instead of stopping at the first one.
#include "config/config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <sstream>

#include <pgxq/client.h>

#include "config/duration.hpp"
#include "config/listen.hpp"

#ifndef PGXQ_DEFAULT_PLUGIN_DIR
#define PGXQ_DEFAULT_PLUGIN_DIR "/usr/lib/pgxqd/plugins"
#endif

namespace pgxq::config {

std::string Problem::str() const {
  std::string out = file.empty() ? "<config>" : file;
  if (pos.line > 0) out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

namespace {

std::string join_problems(const std::vector<Problem>& problems) {
  std::string out;
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i) out += "\n";
    out += problems[i].str();
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<Problem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

namespace {

// The level names operators write (and JSON log lines carry), in LogLevel order.
// "warning" is the name the text and journal logs print (spdlog's, journalctl's -p); "warn" is
// accepted for it too.
constexpr const char* kLogLevelNames[] = {"trace", "debug", "info", "warning", "error", "critical"};

}  // namespace

std::string invalid_table_message(const std::string& table, std::string_view libpgxq_message) {
  // libpgxq's message names the table and the rule it breaks, except for an empty name.
  std::string msg(libpgxq_message);
  if (msg.rfind("invalid table name", 0) != 0) msg = "invalid table name \"" + table + "\": " + msg;
  return msg;
}

const char* to_string(LogLevel level) noexcept {
  auto i = static_cast<size_t>(level);
  return i < std::size(kLogLevelNames) ? kLogLevelNames[i] : "info";
}

const char* to_string(LogFormat format) noexcept {
  switch (format) {
    case LogFormat::automatic: return "auto";
    case LogFormat::text: return "text";
    case LogFormat::json: return "json";
  }
  return "auto";
}

std::string Config::where(std::string_view key) const {
  std::string out = path.empty() ? "<config>" : path;
  auto it = positions.find(key);
  if (it != positions.end() && it->second.line > 0)
    out += ":" + std::to_string(it->second.line) + ":" + std::to_string(it->second.column);
  return out;
}

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("dri" -> "dir").
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string normalise(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '-' || c == ' ') c = '_';
  }
  return out;
}

}  // namespace

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string w = normalise(word);
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    size_t d = edit_distance(w, c);
    // "warning" for "warn", "max_worker" for "max_workers": a prefix is as good as a typo.
    if (w.size() >= 3 && c.size() >= 3 && (w.rfind(c, 0) == 0 || c.rfind(w, 0) == 0)) d = std::min<size_t>(d, 1);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  size_t allowed = std::max<size_t>(1, std::min<size_t>(3, std::max(w.size(), best.size()) / 3));
  return best_d <= allowed ? best : std::string();
}

namespace {

Position pos_of(const toml::source_region& src) {
  return {static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)};
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// The value as TOML would print it, for "got ..." in messages.
std::string show(const toml::node& n) {
  std::ostringstream os;
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  if (auto str = n.as_string()) {
    std::string v = str->get();
    if (v.size() > 60) v = v.substr(0, 57) + "...";
    return "a string \"" + v + "\"";
  }
  n.visit([&](auto&& v) { os << v; });
  std::string s = os.str();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return type_name(n) + " " + s;
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += items[i];
  }
  return out;
}

class Reader {
public:
  Reader(std::string file, Config& cfg) : file_(std::move(file)), cfg_(cfg) {}

  std::vector<Problem> problems;

  void problem(Position pos, std::string key, std::string message) {
    problems.push_back({file_, pos, std::move(key), std::move(message)});
  }

  void read(const toml::table& root) {
    static const std::vector<std::string> sections = {"database", "worker", "backoff", "queues", "plugins", "log",
                                                      "http", "retention", "maintenance", "periodic", "kinds"};
    for (auto&& [k, v] : root) {
      std::string key(k.str());
      if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
        unknown(pos_of(k.source()), "", key, sections, "sections");
        continue;
      }
      if (key == "periodic") {
        record(key, pos_of(k.source()));
        periodic(v, pos_of(k.source()));
        continue;
      }
      if (!v.is_table()) {
        problem(pos_of(k.source()), key, "expected a table [" + key + "], got " + show(v));
        continue;
      }
      record(key, pos_of(k.source()));
    }
    if (auto t = root["database"].as_table()) database(*t);
    if (auto t = root["worker"].as_table()) worker(*t);
    if (auto t = root["backoff"].as_table()) backoff(*t);
    if (auto t = root["queues"].as_table()) queues(*t);
    if (auto t = root["plugins"].as_table()) plugins(*t);
    if (auto t = root["log"].as_table()) log(*t);
    if (auto t = root["http"].as_table()) http(*t);
    if (auto t = root["retention"].as_table()) retention(*t);
    if (auto t = root["maintenance"].as_table()) maintenance(*t);
    if (auto t = root["kinds"].as_table()) kinds(*t);
    job_timeouts_below_rescue_after();
    if (cfg_.queues.empty()) cfg_.queues.push_back({"default", 0, "", {}});
    if (!cfg_.periodic.empty() && !cfg_.maintenance.enabled) {
      auto it = cfg_.positions.find("maintenance.enabled");
      problem(it != cfg_.positions.end() ? it->second : Position{}, "maintenance.enabled",
              "is false, but there are [[periodic]] entries (the first at line " +
                  std::to_string(cfg_.periodic.front().pos.line) +
                  "): periodic jobs are enqueued only by a table's maintenance leader, so they would never run; set "
                  "enabled = true (on at least one daemon per table; each daemon that is not the leader only waits), "
                  "or remove the entries");
    }
  }

private:
  void record(const std::string& key, Position pos) { cfg_.positions[key] = pos; }

  void unknown(Position pos, const std::string& section, const std::string& key, const std::vector<std::string>& allowed,
               const char* what) {
    std::string full = section.empty() ? key : section + "." + key;
    std::string msg = section.empty() ? "unknown section [" + key + "]" : "unknown key \"" + key + "\" in [" + section + "]";
    std::string best = closest(key, allowed);
    if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
    msg += " (valid " + std::string(what) + ": " + quoted_list(allowed) + ")";
    problem(pos, full, msg);
  }

  // Reports keys not in `allowed` and records where the known ones are.
  void check_keys(const toml::table& t, const std::string& section, const std::vector<std::string>& allowed) {
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        unknown(pos_of(k.source()), section, key, allowed, "keys");
      else
        record(section + "." + key, pos_of(v.source()));
    }
  }

  void get_string(const toml::table& t, const std::string& section, const char* key, std::string& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (auto s = n->as_string()) {
      out = s->get();
      return;
    }
    problem(pos_of(n->source()), section + "." + key, "expected a string, got " + show(*n));
  }

  void get_int(const toml::table& t, const std::string& section, const char* key, int& out, int64_t min, int64_t max) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto full = section + "." + key;
    auto i = n->as_integer();
    if (!i) {
      problem(pos_of(n->source()), full,
              "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + show(*n));
      return;
    }
    int64_t v = i->get();
    if (v < min || v > max) {
      problem(pos_of(n->source()), full,
              "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + std::to_string(v));
      return;
    }
    out = static_cast<int>(v);
  }

  void get_number(const toml::table& t, const std::string& section, const char* key, double& out, double min, double max,
                  const char* range_text) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto full = section + "." + key;
    double v = 0;
    if (auto f = n->as_floating_point()) v = f->get();
    else if (auto i = n->as_integer()) v = static_cast<double>(i->get());
    else {
      problem(pos_of(n->source()), full, std::string("expected a number ") + range_text + ", got " + show(*n));
      return;
    }
    if (!(v >= min && v <= max)) {
      std::ostringstream os;
      os << v;
      problem(pos_of(n->source()), full, std::string("expected a number ") + range_text + ", got " + os.str());
      return;
    }
    out = v;
  }

  void get_duration(const toml::table& t, const std::string& section, const char* key, std::chrono::milliseconds& out,
                    bool allow_zero) {
    const toml::node* n = t.get(key);
    if (!n) return;
    auto full = section + "." + key;
    const char* expected = allow_zero ? "expected a duration string such as \"500ms\", \"1s\", \"5m\" or \"1h\" (\"0s\" allowed)"
                                      : "expected a positive duration string such as \"500ms\", \"1s\", \"5m\" or \"1h\"";
    auto s = n->as_string();
    if (!s) {
      std::string msg = std::string(expected) + ", got " + show(*n);
      if (n->is_integer() || n->is_floating_point()) msg += " (durations are strings with a unit, e.g. \"30s\")";
      problem(pos_of(n->source()), full, msg);
      return;
    }
    auto r = parse_duration(s->get());
    if (!r.ok()) {
      problem(pos_of(n->source()), full, r.error);
      return;
    }
    if (!allow_zero && r.value.count() == 0) {
      problem(pos_of(n->source()), full, std::string(expected) + ", got \"" + s->get() + "\" (zero is not allowed here)");
      return;
    }
    out = r.value;
  }

  void get_table_name(const toml::table& t, const std::string& section, std::string& out) {
    const toml::node* n = t.get("table");
    if (!n) return;
    std::string v;
    get_string(t, section, "table", v);
    if (!n->is_string()) return;
    if (v.find('\0') != std::string::npos) {  // the check below reads a C string: it would stop there
      problem(pos_of(n->source()), section + ".table", "invalid table name: it contains a NUL character (\\u0000); use lower-case letters, digits and _, optionally schema.table");
      return;
    }
    pgxq_error err{};
    if (pgxq_validate_table_name(v.c_str(), &err) != 0) {
      problem(pos_of(n->source()), section + ".table", invalid_table_message(v, err.message));
      return;
    }
    out = v;
  }

  // A timeout PostgreSQL or the kernel takes as an int of milliseconds; zero allowed ("no limit").
  void get_timeout(const toml::table& t, const std::string& section, const char* key, std::chrono::milliseconds& out,
                   bool whole_seconds = false) {
    auto v = out;
    get_duration(t, section, key, v, true);
    const toml::node* n = t.get(key);
    if (!n || v == out) return;
    constexpr std::chrono::milliseconds kMax{std::numeric_limits<int>::max()};
    if (v > kMax) {
      problem(pos_of(n->source()), section + "." + key,
              "at most " + format_duration(kMax) + " (PostgreSQL and the kernel take it as an int of milliseconds), got " +
                  format_duration(v) + "; use \"0s\" for no limit");
      return;
    }
    if (whole_seconds && v.count() % 1000 != 0) {
      problem(pos_of(n->source()), section + "." + key,
              "expected a whole number of seconds (libpq's TCP keepalive settings take seconds), got " + format_duration(v));
      return;
    }
    out = v;
  }

  void database(const toml::table& t) {
    const std::string s = "database";
    check_keys(t, s,
               {"url", "pool_size", "connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                "tcp_user_timeout", "statement_timeout", "lock_timeout", "acquire_timeout"});
    get_string(t, s, "url", cfg_.database.url);
    get_int(t, s, "pool_size", cfg_.database.pool_size, 1, 1000);
    auto& to = cfg_.database.timeouts;
    get_timeout(t, s, "connect_timeout", to.connect_timeout);
    get_timeout(t, s, "keepalives_idle", to.keepalives_idle, true);
    get_timeout(t, s, "keepalives_interval", to.keepalives_interval, true);
    get_int(t, s, "keepalives_count", to.keepalives_count, 1, 1000);
    get_timeout(t, s, "tcp_user_timeout", to.tcp_user_timeout);
    get_timeout(t, s, "statement_timeout", to.statement_timeout);
    get_timeout(t, s, "lock_timeout", to.lock_timeout);
    get_duration(t, s, "acquire_timeout", to.acquire_timeout, false);
  }

  void worker(const toml::table& t) {
    const std::string s = "worker";
    check_keys(t, s,
               {"table", "poll_interval", "batch_size", "max_workers", "rescue_after", "shutdown_timeout", "cancel_grace",
                "handler_statement_timeout", "max_args_bytes", "max_snoozes", "job_timeout"});
    auto& w = cfg_.worker;
    get_table_name(t, s, w.table);
    get_duration(t, s, "poll_interval", w.poll_interval, false);
    get_int(t, s, "batch_size", w.batch_size, 1, 10000);
    get_int(t, s, "max_workers", w.max_workers, 1, 10000);
    get_duration(t, s, "rescue_after", w.rescue_after, false);
    get_duration(t, s, "shutdown_timeout", w.shutdown_timeout, true);
    get_duration(t, s, "cancel_grace", w.cancel_grace, true);
    get_timeout(t, s, "handler_statement_timeout", w.handler_statement_timeout);
    get_int(t, s, "max_args_bytes", w.max_args_bytes, 1024, 1 << 30);
    get_int(t, s, "max_snoozes", w.max_snoozes, 0, 2147483647);
    get_duration(t, s, "job_timeout", w.job_timeout, true);
    if (auto n = t.get("job_timeout"); n && n->is_string()) w.job_timeout_text = n->as_string()->get();
  }

  // How a kind is named in keys: bare when TOML allows it, else quoted ([kinds."mail.send"]).
  static std::string kind_key(const std::string& kind) {
    const bool bare = !kind.empty() && std::all_of(kind.begin(), kind.end(), [](unsigned char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    if (bare) return "kinds." + kind;
    std::string quoted = "kinds.\"";
    for (char c : kind) quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return quoted + "\"";
  }

  // [kinds.<kind>]: one table per job kind. Kind names as a plugin may register them (toml++
  // has already checked that keys are UTF-8).
  void kinds(const toml::table& t) {
    for (auto&& [k, v] : t) {
      const std::string kind(k.str());
      const std::string section = kind_key(kind);
      const Position kp = pos_of(k.source());
      auto kt = v.as_table();
      if (!kt) {
        problem(kp, section, "expected a table [" + section + "] with timeout, got " + show(v));
        continue;
      }
      std::string bad;
      if (kind.empty()) bad = "a kind must not be empty";
      else if (kind.size() > 200) bad = "a kind must be at most 200 bytes (got " + std::to_string(kind.size()) + ")";
      else if (std::any_of(kind.begin(), kind.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
        bad = "a kind must not contain control characters";
      if (!bad.empty()) {
        problem(kp, section, bad + " (as in the plugin ABI)");
        continue;
      }
      KindConfig kc;
      kc.pos = kp;
      record(section, kp);
      for (auto&& [sub, sv] : *kt) {
        const std::string key(sub.str());
        if (sv.is_table()) {
          // [kinds.mail.send] is kind "mail" holding a table "send": the kind was meant quoted.
          problem(pos_of(sub.source()), section + "." + key,
                  "read as kind \"" + kind + "\" holding a table \"" + key + "\"; a kind with a dot is quoted: [" +
                      kind_key(kind + "." + key) + "]");
        } else if (key != "timeout") {
          unknown(pos_of(sub.source()), section, key, {"timeout"}, "keys");
        } else {
          record(section + "." + key, pos_of(sv.source()));
        }
      }
      if (const toml::node* n = kt->get("timeout")) {
        std::chrono::milliseconds timeout{0};
        const size_t before = problems.size();
        get_duration(*kt, section, "timeout", timeout, true);
        if (problems.size() == before) {
          kc.timeout = timeout;
          kc.timeout_text = n->as_string()->get();
        }
      }
      cfg_.kinds[kind] = std::move(kc);
    }
  }

  // A job still running at rescue_after is rescued and run again while its first run goes on:
  // a timeout only helps below it.
  void job_timeouts_below_rescue_after() {
    const auto rescue_after = cfg_.worker.rescue_after;
    auto check = [&](const std::string& key, std::chrono::milliseconds timeout, const std::string& text) {
      if (timeout.count() == 0 || timeout < rescue_after) return;
      auto it = cfg_.positions.find(key);
      problem(it == cfg_.positions.end() ? Position{} : it->second, key,
              "\"" + text + "\" is not below [worker] rescue_after (" + format_duration(rescue_after) +
                  "): a job still running at rescue_after is rescued and run a second time while its first run goes "
                  "on; set the timeout below rescue_after, or raise rescue_after");
    };
    check("worker.job_timeout", cfg_.worker.job_timeout, cfg_.worker.job_timeout_text);
    for (const auto& [kind, kc] : cfg_.kinds)
      if (kc.timeout) check(kind_key(kind) + ".timeout", *kc.timeout, kc.timeout_text);
  }

  void backoff(const toml::table& t) {
    const std::string s = "backoff";
    check_keys(t, s, {"initial", "max", "multiplier", "jitter"});
    auto& b = cfg_.backoff;
    get_duration(t, s, "initial", b.initial, false);
    get_duration(t, s, "max", b.max, false);
    get_number(t, s, "multiplier", b.multiplier, 1.0, 1000.0, "from 1 to 1000");
    get_number(t, s, "jitter", b.jitter, 0.0, 0.99, "from 0 to 0.99");
    if (b.max < b.initial) {
      const toml::node* n = t.get("max");
      problem(n ? pos_of(n->source()) : Position{}, "backoff.max",
              "must be at least backoff.initial (" + format_duration(b.initial) + "), got " + format_duration(b.max));
    }
  }

  void queues(const toml::table& t) {
    for (auto&& [k, v] : t) {
      std::string name(k.str());
      std::string section = "queues." + name;
      auto kp = pos_of(k.source());
      auto q = v.as_table();
      if (!q) {
        problem(kp, section, "expected a table [queues." + name + "] with max_workers, got " + show(v));
        continue;
      }
      if (name.empty() || name.size() > 128) {
        problem(kp, section, "queue names must be 1 to 128 characters long");
        continue;
      }
      bool bad_char = std::any_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
      if (bad_char) {
        problem(kp, section, "queue names cannot contain control characters");
        continue;
      }
      QueueConfig qc;
      qc.name = name;
      qc.pos = kp;
      record(section, kp);
      check_keys(*q, section, {"max_workers", "table"});
      get_int(*q, section, "max_workers", qc.max_workers, 1, 10000);
      get_table_name(*q, section, qc.table);
      cfg_.queues.push_back(std::move(qc));
    }
  }

  // Each plugin setting's own line, so that an error about one setting points at it and not at
  // its table's header (the copy in PluginSettings keeps no source positions).
  void record_settings(const std::string& prefix, const toml::table& t) {
    for (auto&& [k, v] : t) {
      std::string key = prefix + "." + std::string(k.str());
      record(key, pos_of(k.source()));
      if (auto sub = v.as_table()) record_settings(key, *sub);
    }
  }

  // [plugins.<name>]: the host's keys (isolation and the worker processes' limits) taken out,
  // the rest is the plugin's.
  PluginSettings plugin_settings(const std::string& name, const toml::table& t, Position pos) {
    PluginSettings out;
    out.pos = pos;
    out.table = t;
    for (const char* key : kPluginHostKeys) out.table.erase(key);
    const std::string section = "plugins." + name;
    if (const toml::node* n = t.get("isolation")) {
      auto s = n->as_string();
      if (s && s->get() == "thread")
        out.isolation = Isolation::thread;
      else if (s && s->get() == "process")
        out.isolation = Isolation::process;
      else
        problem(pos_of(n->source()), section + ".isolation",
                "expected \"thread\" (handlers run in pgxqd's own threads, the default) or \"process\" (handlers run "
                "in worker processes of their own, so a crash fails one job instead of stopping pgxqd), got " +
                    show(*n));
    }
    get_int(t, section, "processes", out.processes, 1, 1024);
    if (const toml::node* n = t.get("memory_limit")) {
      std::string error;
      uint64_t bytes = 0;
      if (auto i = n->as_integer()) {
        if (i->get() > 0) bytes = static_cast<uint64_t>(i->get());
        else error = "expected a positive size, got " + show(*n);
      } else if (auto s = n->as_string()) {
        bytes = parse_size(s->get(), error);
      } else {
        error = "expected a size: an integer (bytes) or a string such as \"512MiB\", \"1GiB\", \"64KiB\" or \"100B\", got " +
                show(*n);
      }
      if (!error.empty()) problem(pos_of(n->source()), section + ".memory_limit", error);
      else out.memory_limit = bytes;
    }
    get_duration(t, section, "cpu_limit", out.cpu_limit, false);
    if (out.isolation != Isolation::process) {
      for (const char* key : {"processes", "memory_limit", "cpu_limit"}) {
        if (const toml::node* n = t.get(key))
          problem(pos_of(n->source()), section + "." + key,
                  std::string("applies only to plugins in worker processes; add isolation = \"process\" to [") + section +
                      "], or remove " + key);
      }
    }
    return out;
  }

  void plugins(const toml::table& t) {
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      auto kp = pos_of(k.source());
      if (key == "dir") {
        record("plugins.dir", pos_of(v.source()));
        if (auto s = v.as_string()) {
          if (s->get().empty()) problem(pos_of(v.source()), "plugins.dir", "expected a directory path, got an empty string");
          else cfg_.plugins.dir = s->get();
        } else {
          problem(pos_of(v.source()), "plugins.dir", "expected a string (a directory path), got " + show(v));
        }
        continue;
      }
      if (auto pt = v.as_table()) {
        record("plugins." + key, kp);
        record_settings("plugins." + key, *pt);
        cfg_.plugins.settings[key] = plugin_settings(key, *pt, kp);
        continue;
      }
      std::string msg = "unknown key \"" + key + "\" in [plugins]";
      if (closest(key, {"dir"}) == "dir") msg += "; did you mean \"dir\"?";
      msg += " (expected \"dir\" or a table [plugins." + key + "] of settings for the plugin named " + key + ")";
      problem(kp, "plugins." + key, msg);
    }
  }

  void get_bool(const toml::table& t, const std::string& section, const char* key, bool& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (auto b = n->as_boolean()) {
      out = b->get();
      return;
    }
    problem(pos_of(n->source()), section + "." + key, "expected true or false, got " + show(*n));
  }

  void retention(const toml::table& t) {
    const std::string s = "retention";
    check_keys(t, s, {"completed", "discarded", "failed", "interval", "batch_size"});
    auto& r = cfg_.retention;
    get_duration(t, s, "completed", r.completed, true);
    get_duration(t, s, "discarded", r.discarded, true);
    get_duration(t, s, "failed", r.failed, true);
    get_duration(t, s, "interval", r.interval, false);
    get_int(t, s, "batch_size", r.batch_size, 1, 100000);
  }

  void maintenance(const toml::table& t) {
    const std::string s = "maintenance";
    check_keys(t, s, {"enabled", "leader_check", "health_check", "long_transaction", "reindex"});
    auto& m = cfg_.maintenance;
    get_bool(t, s, "enabled", m.enabled);
    get_duration(t, s, "leader_check", m.leader_check, false);
    get_duration(t, s, "health_check", m.health_check, true);
    get_duration(t, s, "long_transaction", m.long_transaction, false);
    get_duration(t, s, "reindex", m.reindex, true);
  }

  // An entry's name: its identity in <table>_periodic and in its jobs' unique keys.
  static bool valid_periodic_name(const std::string& name) {
    if (name.empty() || name.size() > 100) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
    });
  }

  void periodic(const toml::node& v, Position kp) {
    auto arr = v.as_array();
    if (!arr || !arr->is_array_of_tables()) {
      problem(kp, "periodic",
              "expected entries written as [[periodic]] tables (kind = \"...\" and cron = \"...\" or every = "
              "\"...\"), got " + show(v));
      return;
    }
    std::map<std::string, std::string> names;  // name -> key of the entry that has it
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto* t = arr->get(i)->as_table();
      const std::string key = "periodic[" + std::to_string(i) + "]";
      PeriodicConfig e;
      e.key = key;
      e.pos = pos_of(t->source());
      record(key, e.pos);
      check_keys(*t, key,
                 {"name", "kind", "args", "queue", "priority", "max_attempts", "cron", "every", "timezone", "catch_up"});
      const size_t before = problems.size();
      get_string(*t, key, "kind", e.kind);
      if (!t->get("kind")) problem(e.pos, key + ".kind", "missing: every [[periodic]] entry needs kind = \"<job kind>\"");
      else if (t->get("kind")->is_string() && e.kind.empty())
        problem(pos_of(t->get("kind")->source()), key + ".kind", "expected a job kind, got an empty string");
      e.name = e.kind;
      if (const toml::node* n = t->get("name")) {
        get_string(*t, key, "name", e.name);
        if (n->is_string() && !valid_periodic_name(e.name))
          problem(pos_of(n->source()), key + ".name",
                  "\"" + e.name + "\" is not a valid entry name: use 1 to 100 of A-Z a-z 0-9 _ . : -");
      } else if (!e.kind.empty() && !valid_periodic_name(e.kind)) {
        problem(e.pos, key + ".name",
                "missing, and the kind \"" + e.kind + "\" cannot stand in for it (names are 1 to 100 of A-Z a-z 0-9 _ . : -): "
                "set name = \"...\"");
      }
      if (const toml::node* n = t->get("args")) {
        if (auto at = n->as_table()) {
          std::ostringstream os;
          os << toml::json_formatter(*at, toml::format_flags::none);
          e.args = os.str();
        } else {
          problem(pos_of(n->source()), key + ".args", "expected an inline table such as { report = \"daily\" }, got " + show(*n));
        }
      }
      get_string(*t, key, "queue", e.queue);
      if (t->get("queue") && t->get("queue")->is_string() && e.queue.empty())
        problem(pos_of(t->get("queue")->source()), key + ".queue", "expected a queue name, got an empty string");
      get_int(*t, key, "priority", e.priority, -32768, 32767);
      get_int(*t, key, "max_attempts", e.max_attempts, 1, 32767);
      get_string(*t, key, "cron", e.cron);
      if (const toml::node* n = t->get("cron"); n && n->is_string() && e.cron.empty())
        problem(pos_of(n->source()), key + ".cron", "expected a cron expression such as \"*/5 * * * *\", got an empty string");
      get_duration(*t, key, "every", e.every, false);
      if (const toml::node* n = t->get("every"); n && e.every.count() > 0) {
        if (e.every < std::chrono::seconds(1) || e.every.count() % 1000 != 0)
          problem(pos_of(n->source()), key + ".every",
                  "expected whole seconds, at least 1s (runs are at multiples of it since the Unix epoch), got " +
                      format_duration(e.every));
      }
      const bool has_cron = t->get("cron") != nullptr, has_every = t->get("every") != nullptr;
      if (has_cron && has_every)
        problem(pos_of(t->get("every")->source()), key + ".every",
                "set either cron or every, not both (cron at line " + std::to_string(pos_of(t->get("cron")->source()).line) +
                    ")");
      else if (!has_cron && !has_every)
        problem(e.pos, key, "missing a schedule: set cron = \"<minute hour day-of-month month day-of-week>\" or every = "
                            "\"<duration>\"");
      get_string(*t, key, "timezone", e.timezone);
      if (const toml::node* n = t->get("timezone"); n && has_every && !has_cron)
        problem(pos_of(n->source()), key + ".timezone",
                "applies to cron only: every runs at multiples of its period since the Unix epoch, whatever the zone "
                "(for wall-clock times in a zone, use cron, e.g. cron = \"0 3 * * *\")");
      get_bool(*t, key, "catch_up", e.catch_up);
      if (problems.size() == before && valid_periodic_name(e.name)) {
        auto [it, inserted] = names.emplace(e.name, key);
        if (!inserted)
          problem(t->get("name") ? pos_of(t->get("name")->source()) : e.pos, key + ".name",
                  "\"" + e.name + "\" is already the name of " + it->second +
                      " (names identify entries in <table>_periodic; the name defaults to the kind: set name = \"...\" on "
                      "one of them)");
      }
      cfg_.periodic.push_back(std::move(e));
    }
  }

  void log(const toml::table& t) {
    const std::string s = "log";
    check_keys(t, s, {"level", "format"});
    static const std::vector<std::string> levels(std::begin(kLogLevelNames), std::end(kLogLevelNames));
    static const std::vector<std::string> formats = {"auto", "text", "json"};
    if (const toml::node* n = t.get("level")) {
      std::string v;
      get_string(t, s, "level", v);
      if (n->is_string()) {
        auto it = std::find(levels.begin(), levels.end(), v == "warn" ? std::string("warning") : v);
        if (it == levels.end()) {
          std::string msg = "unknown log level \"" + v + "\"";
          auto best = closest(v, levels);
          if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
          problem(pos_of(n->source()), "log.level", msg + " (expected one of " + quoted_list(levels) + ")");
        } else {
          cfg_.log.level = static_cast<LogLevel>(it - levels.begin());
        }
      }
    }
    if (const toml::node* n = t.get("format")) {
      std::string v;
      get_string(t, s, "format", v);
      if (n->is_string()) {
        if (v == "auto") cfg_.log.format = LogFormat::automatic;
        else if (v == "text") cfg_.log.format = LogFormat::text;
        else if (v == "json") cfg_.log.format = LogFormat::json;
        else {
          std::string msg = "unknown log format \"" + v + "\"";
          auto best = closest(v, formats);
          if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
          problem(pos_of(n->source()), "log.format", msg + " (expected one of " + quoted_list(formats) + ")");
        }
      }
    }
  }

  void http(const toml::table& t) {
    check_keys(t, "http", {"listen"});
    const toml::node* n = t.get("listen");
    if (!n) return;
    std::string v;
    get_string(t, "http", "listen", v);
    if (!n->is_string()) return;
    auto parsed = parse_listen_address(v);
    if (auto* problem_found = std::get_if<ListenProblem>(&parsed))
      problem(pos_of(n->source()), "http.listen", problem_found->message);
    else
      cfg_.http.listen = std::get<std::string>(parsed);
  }

  std::string file_;
  Config& cfg_;
};

// A Config holding `defaults`, before anything is read from a file.
std::shared_ptr<Config> start_from(const Defaults& defaults) {
  auto cfg = std::make_shared<Config>();
  cfg->database.pool_size = defaults.pool_size;
  cfg->database.timeouts = defaults.timeouts;
  cfg->worker = defaults.worker;
  cfg->backoff = defaults.backoff;
  cfg->retention = defaults.retention;
  cfg->maintenance = defaults.maintenance;
  cfg->plugins.dir = PGXQ_DEFAULT_PLUGIN_DIR;
  return cfg;
}

std::shared_ptr<const Config> parse(std::string_view text, const std::string& source, const Defaults& defaults) {
  auto cfg = start_from(defaults);
  cfg->path = source;
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::string desc(e.description());
    if (desc.find("redefin") != std::string::npos)
      desc += " (each table, e.g. a [queues.<name>], may appear only once; queue names must be unique)";
    throw ConfigError({{source, pos_of(e.source()), "", "invalid TOML: " + desc}});
  }
  Reader reader(source, *cfg);
  reader.read(root);
  if (!reader.problems.empty()) throw ConfigError(std::move(reader.problems));
  // A relative plugin dir means "next to the config file", not "wherever pgxqd was started".
  std::filesystem::path dir(cfg->plugins.dir);
  if (dir.is_relative() && !source.empty()) {
    auto base = std::filesystem::path(source).parent_path();
    cfg->plugins.dir = (base / dir).lexically_normal().string();
  }
  return cfg;
}

}  // namespace

const char* to_string(Isolation isolation) noexcept {
  return isolation == Isolation::process ? "process" : "thread";
}

uint64_t parse_size(std::string_view text, std::string& error) {
  const std::string expected =
      "expected a size such as \"512MiB\", \"1GiB\", \"64KiB\" or \"100B\" (or an integer: bytes), got \"" +
      std::string(text) + "\"";
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 19) {
    error = expected;
    return 0;
  }
  uint64_t n = 0;
  for (size_t i = 0; i < digits; ++i) n = n * 10 + static_cast<uint64_t>(text[i] - '0');
  std::string_view unit = text.substr(digits);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  int shift = -1;
  if (unit == "B") shift = 0;
  else if (unit == "KiB") shift = 10;
  else if (unit == "MiB") shift = 20;
  else if (unit == "GiB") shift = 30;
  else if (unit == "TiB") shift = 40;
  if (shift < 0) {
    error = expected + (unit.empty() ? " (a size string needs a unit)" : " (units: B, KiB, MiB, GiB, TiB)");
    return 0;
  }
  if (n == 0) {
    error = "expected a positive size, got \"" + std::string(text) + "\" (leave the key out for no limit)";
    return 0;
  }
  if (shift > 0 && n > (std::numeric_limits<uint64_t>::max() >> shift)) {
    error = expected + " (too large)";
    return 0;
  }
  return n << shift;
}

std::shared_ptr<const Config> load_string(std::string_view text, const std::string& source, const Defaults& defaults) {
  return parse(text, source, defaults);
}

std::shared_ptr<const Config> load_file(const std::string& path, const Defaults& defaults) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg;
    if (e == ENOENT)
      msg = std::string("config file not found (create it from the annotated example ") + kExampleConfigPath +
            ", which `cmake --install` puts there, or pass --config FILE)";
    else if (e == EACCES)
      msg = std::string("cannot read the config file: ") + std::strerror(e) +
            " (it must be readable by the user pgxqd runs as)";
    else
      msg = std::string("cannot open the config file: ") + std::strerror(e);
    throw ConfigError({{path, {}, "", msg}});
  }
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw ConfigError({{path, {}, "", "is a directory, expected a TOML file"}});
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw ConfigError({{path, {}, "", std::string("cannot read the config file: ") + std::strerror(e)}});
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (16u << 20)) {
      ::close(fd);
      throw ConfigError({{path, {}, "", "is larger than 16 MiB; this is not a pgxqd config file"}});
    }
  }
  ::close(fd);
  return parse(text, path, defaults);
}

std::shared_ptr<const Config> built_in(const Defaults& defaults) {
  auto cfg = start_from(defaults);
  cfg->queues.push_back({"default", 0, "", {}});
  return cfg;
}

}  // namespace pgxq::config
