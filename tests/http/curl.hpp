// tests/http curl: fetching from the embedded server with the real HTTP client (curl), as an
// operator's scraper would, returning the status code, headers and body.
#pragma once

#include <string>
#include <vector>

namespace pgxq::test {

struct HttpReply {
  int status = 0;        // 0: no HTTP reply at all (connection refused, ...)
  std::string headers;   // the raw response headers
  std::string body;
};

// `extra` are further curl arguments (e.g. {"-X", "POST"}, {"-I"} for HEAD).
HttpReply curl(const std::string& url, const std::vector<std::string>& extra = {});

}  // namespace pgxq::test
