// Maintenance test helpers: see maintenance.hpp.
#include "maintenance.hpp"

namespace pgxq::test::maint {

std::string maintenance_toml(const std::string& leader_check, const std::string& retention,
                             const std::string& maintenance_extra) {
  return "\n[maintenance]\nleader_check = \"" + leader_check + "\"\n" + maintenance_extra + "\n[retention]\n" +
         (retention.empty() ? "interval = \"200ms\"\n" : retention) + "\n";
}

std::optional<queue::LeaderInfo> leader_of(const std::string& table) {
  auto conn = connect();
  return queue::read_leader(conn, table);
}

int leader_daemon_pid(const std::string& table) {
  auto info = leader_of(table);
  if (!info) return 0;
  auto colon = info->application_name.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::stoi(info->application_name.substr(colon + 1));
}

int64_t count_jobs_where(const std::string& table, const std::string& where) {
  auto c = connect();
  return scalar(c, "SELECT count(*) FROM " + table + " WHERE " + where);
}

bool log_says_leader(const std::string& log) {
  auto became = log.rfind("became leader");
  if (became == std::string::npos) return false;
  auto lost = log.rfind("lost leadership");
  auto resigned = log.rfind("resigning leadership");
  return (lost == std::string::npos || lost < became) && (resigned == std::string::npos || resigned < became);
}

}  // namespace pgxq::test::maint
