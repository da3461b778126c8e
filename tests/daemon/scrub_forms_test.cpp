// Password scrubbing, every form a connection string can hold a secret in: a key/value value
// with '&' or backslash-escaped blanks, quoted values, a URI query's password=, sslpassword in
// both forms, and each of them through the start-up summary.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "app/summary.hpp"
#include "config/config.hpp"
#include "pg/scrub.hpp"

using pgxq::pg::mask_conninfo;
using pgxq::pg::scrub_password;

namespace {

struct Form {
  std::string conninfo;
  std::vector<std::string> secrets;  // none of these may survive
  std::vector<std::string> kept;     // what must stay readable
};

const std::vector<Form>& forms() {
  static const std::vector<Form> all = {
      {"host=db password=ab&cd user=app", {"ab&cd", "&cd"}, {"host=db", "user=app"}},
      {R"(host=db password=Qx1\ Qx2\ Qx3 user=app)", {"Qx1", "Qx2", "Qx3"}, {"host=db", "user=app"}},
      {"host=db password='a b&c' user=app", {"a b&c", "b&c"}, {"host=db", "user=app"}},
      {"postgresql:///jobs?host=/run/pg&password=hunter2&sslmode=disable", {"hunter2"}, {"sslmode=disable", "/run/pg"}},
      {"postgresql://db/jobs?sslpassword=keyphrase&user=app", {"keyphrase"}, {"user=app"}},
      {"host=db sslpassword=keyphrase user=app", {"keyphrase"}, {"host=db", "user=app"}},
      {"postgresql://app:hunter2@db/jobs?sslpassword=kp2", {"hunter2", "kp2"}, {"@db/jobs"}},
  };
  return all;
}

}  // namespace

TEST_CASE("scrub: every form of a password in a connection string is masked where it stands") {
  for (const auto& f : forms()) {
    const std::string masked = mask_conninfo(f.conninfo);
    const std::string scrubbed = scrub_password("cannot connect (" + f.conninfo + "): refused", f.conninfo);
    for (const auto& out : {masked, scrubbed}) {
      INFO(f.conninfo, " -> ", out);
      for (const auto& secret : f.secrets) CHECK(out.find(secret) == std::string::npos);
      for (const auto& keep : f.kept) CHECK(out.find(keep) != std::string::npos);
      CHECK(out.find("***") != std::string::npos);
    }
  }
}

TEST_CASE("scrub: an sslpassword libpq read is masked wherever it is echoed") {
  const std::string conninfo = "host=db sslkey=/k.pem sslpassword=Phr4se-9";
  CHECK(scrub_password("could not decrypt key with Phr4se-9", conninfo) == "could not decrypt key with ***");
}

TEST_CASE("start-up summary: no password, whatever form the connection string holds it in") {
  pgxq::config::Config config;
  config.worker.table = "pgxq_job";
  config.queues.push_back({"default", 2, "", {}});
  for (const auto& f : forms()) {
    const std::string line = pgxq::app::startup_summary(config, f.conninfo, {});
    INFO(line);
    for (const auto& secret : f.secrets) CHECK(line.find(secret) == std::string::npos);
    CHECK(line.find("***") != std::string::npos);
  }
}
