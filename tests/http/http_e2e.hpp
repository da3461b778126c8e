// tests/http end-to-end helpers: the real pgxqd with [http] listen = ":0", the address it logs
// ("http: listening on 127.0.0.1:PORT"), scrapes with curl, `promtool check metrics`, and reading
// one value out of an exposition.
#pragma once

#include <string>
#include <vector>

#include "curl.hpp"
#include "support.hpp"

namespace pgxq::test {

// The port pgxqd logged it listens on; 0 when it did not log one within the deadline.
int logged_http_port(Process& daemon, std::chrono::milliseconds deadline = std::chrono::seconds(60));

// GET http://127.0.0.1:PORT<path_and_query> (extra: further curl arguments).
HttpReply fetch(int port, const std::string& path_and_query, const std::vector<std::string>& extra = {});

// `promtool check metrics` on an exposition: {exit code, its output}.
RunResult promtool_check_metrics(const std::string& exposition);

// The sum of the samples of `name` whose labels include every `label="value"` in `labels`
// (e.g. {"kind=\"noop\"", "outcome=\"completed\""}); -1 when no sample matches.
double metric_value(const std::string& exposition, const std::string& name, const std::vector<std::string>& labels = {});

}  // namespace pgxq::test
