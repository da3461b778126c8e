// bench/report: the machine facts that make a figure comparable (CPUs, memory, load,
// PostgreSQL's version and the settings that matter), the table printed at the end, and the
// --json object.
#pragma once

#include <map>
#include <string>

#include "bench.hpp"
#include "scenarios.hpp"

namespace pgxq::bench {

struct Machine {
  int nproc = 0;
  double mem_total_gb = 0;
  std::string cpu_model;
  std::string loadavg_start, loadavg_end;
  std::string pg_version;
  std::map<std::string, std::string> pg_settings;
};

Machine read_machine(const Env& env);
void read_load_end(Machine& m);

std::string format_table(const Machine& m, const Report& r);
std::string format_json(const Env& env, const Machine& m, const Report& r, double total_seconds);

}  // namespace pgxq::bench
