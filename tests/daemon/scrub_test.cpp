// Password scrubbing (pg/scrub): every form a password takes — the conninfo's password keyword
// echoed anywhere, a URI's user:password@, password= in key/value text or a URI query — is
// masked, whatever connection string the text came with; nothing else is touched.
#include <doctest/doctest.h>

#include <string>

#include "pg/scrub.hpp"

using pgxq::pg::mask_conninfo;
using pgxq::pg::scrub_password;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("scrub: the conninfo's password keyword, wherever its value is echoed") {
  const std::string conninfo = "host=db user=app password=s3cr3t-pw dbname=jobs";
  auto out = scrub_password("FATAL: password \"s3cr3t-pw\" rejected for host=db", conninfo);
  CHECK_FALSE(contains(out, "s3cr3t-pw"));
  CHECK(contains(out, "\"***\""));
  CHECK(contains(out, "host=db"));
  // Percent-decoded from a URI: libpq's value is what gets echoed.
  out = scrub_password("auth failed with p@ss w0rd", "postgresql://app:p%40ss%20w0rd@db/jobs");
  CHECK_FALSE(contains(out, "p@ss w0rd"));
}

TEST_CASE("scrub: a URI's user:password@, in any text and with any conninfo") {
  auto out = scrub_password("cannot connect (postgresql://app:hunter2@db.example:5432/jobs): timeout", "");
  CHECK(out == "cannot connect (postgresql://app:***@db.example:5432/jobs): timeout");
  CHECK(scrub_password("postgres://u:pw@h/d", "dbname=other") == "postgres://u:***@h/d");
  // host:port is not user:password.
  CHECK(scrub_password("postgresql://db:5432/jobs?x=a@b", "") == "postgresql://db:5432/jobs?x=a@b");
  CHECK(scrub_password("postgresql://app@db/jobs", "") == "postgresql://app@db/jobs");
}

TEST_CASE("scrub: password= in key/value text and URI query parameters") {
  CHECK(scrub_password("host=db password=hunter2 user=app", "") == "host=db password=*** user=app");
  CHECK(scrub_password("host=db password = 'a b\\' c' user=app", "") == "host=db password = *** user=app");
  CHECK(scrub_password("postgresql://db/jobs?user=app&password=hunter2&sslmode=require", "") ==
        "postgresql://db/jobs?user=app&password=***&sslmode=require");
  // An unquoted value runs to the next blank, whatever characters it holds.
  CHECK_FALSE(contains(scrub_password("(password=hun)ter2)", ""), "ter2"));
  // sslpassword (the client key's passphrase) is as secret; other keys ending in it are not keys.
  CHECK(scrub_password("sslpassword=keyphrase", "") == "sslpassword=***");
  CHECK(scrub_password("mypassword=x", "") == "mypassword=x");
}

TEST_CASE("scrub: masking twice changes nothing more, and text without a password is unchanged") {
  const std::string conninfo = "postgresql://app:hunter2@db/jobs?password=other";
  auto once = mask_conninfo(conninfo);
  CHECK(once == "postgresql://app:***@db/jobs?password=***");
  auto message = "cannot connect to the database (" + once + "): refused";
  CHECK(scrub_password(message, conninfo) == message);
  CHECK(scrub_password("host=db dbname=jobs", "host=db dbname=jobs") == "host=db dbname=jobs");
  CHECK(mask_conninfo("") == "");
  CHECK(scrub_password("anything", "not a valid = conninfo '") == "anything");
}

TEST_CASE("scrub: a displayed connection string masks the password's place only, so the host stays readable") {
  CHECK(mask_conninfo("postgresql://postgres:postgres@localhost/postgres") == "postgresql://postgres:***@localhost/postgres");
  CHECK(mask_conninfo("host=db1 dbname=app password=1") == "host=db1 dbname=app password=***");
}
