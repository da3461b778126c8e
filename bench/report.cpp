// bench/report: see report.hpp.
#include "report.hpp"

#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "pg/connection.hpp"

namespace pgxq::bench {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string format_value(double v, const std::string& unit) {
  char buf[64];
  if (unit == "jobs/s") {
    return group_thousands(static_cast<int64_t>(std::llround(v))) + " " + unit;
  }
  std::snprintf(buf, sizeof(buf), v < 10 ? "%.2f %s" : "%.1f %s", v, unit.c_str());
  return buf;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

Machine read_machine(const Env& env) {
  Machine m;
  m.nproc = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemTotal:", 0) == 0) m.mem_total_gb = std::stod(line.substr(9)) / 1024.0 / 1024.0;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      m.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  m.loadavg_start = first_line("/proc/loadavg");
  pg::Connection conn(env.conninfo);
  m.pg_version = std::string(conn.exec("SELECT version()").text(0, 0));
  auto r = conn.exec(
      "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ('server_version', 'shared_buffers',"
      " 'fsync', 'synchronous_commit', 'full_page_writes', 'max_connections', 'wal_level', 'work_mem',"
      " 'max_wal_size', 'autovacuum', 'jit') ORDER BY name");
  for (int i = 0; i < r.rows(); ++i) m.pg_settings[std::string(r.text(i, 0))] = std::string(r.text(i, 1));
  return m;
}

void read_load_end(Machine& m) { m.loadavg_end = first_line("/proc/loadavg"); }

std::string format_table(const Machine& m, const Report& r) {
  std::ostringstream out;
  out << "pgxq-bench " << now_utc() << ": " << m.nproc << " CPUs (" << m.cpu_model << "), " << std::fixed;
  out.precision(1);
  out << m.mem_total_gb << " GiB; PostgreSQL " << (m.pg_settings.count("server_version") ? m.pg_settings.at("server_version") : "?");
  for (auto& [k, v] : m.pg_settings)
    if (k != "server_version") out << " " << k << "=" << v;
  out << "\nload average at start: " << m.loadavg_start << "; at end: " << m.loadavg_end << "\n\n";
  out << "| scenario | figure | value | ceiling | ratio | daemon CPU / 1k jobs | target | met |\n";
  out << "|---|---|---|---|---|---|---|---|\n";
  for (auto& f : r.figures) {
    out << "| " << f.scenario << " | " << f.name << (f.note.empty() ? "" : " (" + f.note + ")") << " | "
        << format_value(f.value, f.unit) << " | " << (f.ceiling ? format_value(*f.ceiling, f.unit) : "") << " | ";
    if (f.ratio) out << static_cast<int>(std::lround(*f.ratio * 100)) << "%";
    out << " | ";
    if (f.cpu_ms_per_1k) out << format_value(*f.cpu_ms_per_1k, "ms");
    out << " | " << f.target << " | " << (f.met ? (*f.met ? "yes" : "**no**") : "") << " |\n";
  }
  for (auto& [scenario, why] : r.failures) out << "\nFAILED " << scenario << " (no figure reported): " << why << "\n";
  return out.str();
}

std::string format_json(const Env& env, const Machine& m, const Report& r, double total_seconds) {
  const auto& o = env.options;
  std::ostringstream j;
  j << "{\n  \"tool\": \"pgxq-bench\",\n  \"date\": " << json_string(now_utc()) << ",\n  \"quick\": "
    << (o.quick ? "true" : "false") << ",\n  \"total_seconds\": " << json_number(total_seconds) << ",\n";
  j << "  \"machine\": {\"nproc\": " << m.nproc << ", \"mem_total_gb\": " << json_number(m.mem_total_gb)
    << ", \"cpu_model\": " << json_string(m.cpu_model) << ", \"loadavg_start\": " << json_string(m.loadavg_start)
    << ", \"loadavg_end\": " << json_string(m.loadavg_end) << "},\n";
  j << "  \"postgresql\": {\"version\": " << json_string(m.pg_version) << ", \"settings\": {";
  bool first = true;
  for (auto& [k, v] : m.pg_settings) {
    j << (first ? "" : ", ") << json_string(k) << ": " << json_string(v);
    first = false;
  }
  j << "}},\n";
  j << "  \"options\": {\"process_jobs\": " << o.process_jobs << ", \"tx_jobs\": " << o.tx_jobs
    << ", \"backlog_big\": " << o.backlog_big << ", \"backlog_small\": " << o.backlog_small
    << ", \"enqueue_one\": " << o.enqueue_one << ", \"enqueue_many\": " << o.enqueue_many
    << ", \"latency_rate\": " << json_number(o.latency_rate) << ", \"latency_seconds\": " << json_number(o.latency_seconds)
    << ", \"retry_jobs\": " << o.retry_jobs << ", \"pool_size\": " << o.pool_size << "},\n";
  j << "  \"scenarios\": [";
  first = true;
  for (auto& name : r.ran) {
    auto failed = r.failures.find(name);
    j << (first ? "\n" : ",\n") << "    {\"name\": " << json_string(name) << ", \"verified\": "
      << (failed == r.failures.end() ? "true" : "false") << ", \"seconds\": "
      << json_number(r.scenario_seconds.count(name) ? r.scenario_seconds.at(name) : 0);
    if (failed != r.failures.end()) j << ", \"error\": " << json_string(failed->second);
    j << "}";
    first = false;
  }
  j << "\n  ],\n  \"figures\": [";
  first = true;
  for (auto& f : r.figures) {
    j << (first ? "\n" : ",\n") << "    {\"scenario\": " << json_string(f.scenario) << ", \"name\": " << json_string(f.name)
      << ", \"unit\": " << json_string(f.unit) << ", \"value\": " << json_number(f.value);
    if (f.ceiling) j << ", \"ceiling\": " << json_number(*f.ceiling) << ", \"ceiling_name\": " << json_string(f.ceiling_name);
    if (f.ratio) j << ", \"ratio\": " << json_number(*f.ratio);
    if (!f.target.empty()) j << ", \"target\": " << json_string(f.target);
    if (f.met) j << ", \"met\": " << (*f.met ? "true" : "false");
    if (f.cpu_ms_per_1k) j << ", \"daemon_cpu_ms_per_1k_jobs\": " << json_number(*f.cpu_ms_per_1k);
    if (f.workers_cpu_ms_per_1k) j << ", \"workers_cpu_ms_per_1k_jobs\": " << json_number(*f.workers_cpu_ms_per_1k);
    if (f.jobs) j << ", \"jobs\": " << f.jobs;
    if (f.seconds > 0) j << ", \"seconds\": " << json_number(f.seconds);
    if (!f.note.empty()) j << ", \"note\": " << json_string(f.note);
    j << "}";
    first = false;
  }
  j << "\n  ]\n}\n";
  return j.str();
}

}  // namespace pgxq::bench
