// tests/http curl: runs /usr/bin/curl with its headers and body in files of a scratch directory.
#include "curl.hpp"

#include <cstdlib>
#include <filesystem>

#include "support.hpp"

namespace pgxq::test {

HttpReply curl(const std::string& url, const std::vector<std::string>& extra) {
  const std::string dir = temp_dir("curl");
  std::vector<std::string> argv = {"curl", "-sS", "-g", "--max-time", "30", "-D", dir + "/headers",
                                   "-o", dir + "/body", "-w", "%{http_code}"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  const RunResult result = run(argv);
  HttpReply reply;
  reply.status = std::atoi(result.out.c_str());
  if (std::filesystem::exists(dir + "/headers")) reply.headers = read_file(dir + "/headers");
  if (std::filesystem::exists(dir + "/body")) reply.body = read_file(dir + "/body");
  std::filesystem::remove_all(dir);
  return reply;
}

}  // namespace pgxq::test
