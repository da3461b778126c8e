// tests/http end-to-end helpers: see http_e2e.hpp.
#include "http_e2e.hpp"

#include <sstream>

namespace pgxq::test {

int logged_http_port(Process& daemon, std::chrono::milliseconds deadline) {
  const std::string marker = "http: listening on 127.0.0.1:";
  if (!daemon.wait_for_output(marker, deadline)) return 0;
  const std::string log = daemon.err() + daemon.out();
  const auto at = log.find(marker) + marker.size();
  const auto end = log.find_first_not_of("0123456789", at);
  return end == at ? 0 : std::stoi(log.substr(at, end - at));
}

HttpReply fetch(int port, const std::string& path_and_query, const std::vector<std::string>& extra) {
  return curl("http://127.0.0.1:" + std::to_string(port) + path_and_query, extra);
}

RunResult promtool_check_metrics(const std::string& exposition) {
  return run({"promtool", "check", "metrics"}, {}, exposition);
}

double metric_value(const std::string& exposition, const std::string& name, const std::vector<std::string>& labels) {
  std::istringstream lines(exposition);
  std::string line;
  double sum = 0;
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;  // another metric whose name starts with `name`
    const auto close = line.rfind('}');
    const std::string label_text = next == '{' ? line.substr(name.size(), close - name.size() + 1) : "";
    bool all = true;
    for (const auto& l : labels) all &= label_text.find(l) != std::string::npos;
    if (!all) continue;
    const auto space = line.rfind(' ');
    sum += std::stod(line.substr(space + 1));
    found = true;
  }
  return found ? sum : -1;
}

}  // namespace pgxq::test
