// Table-name quoting has one owner, libpgxq: pgxq_quote_table_name validates like
// pgxq_validate_table_name and quotes each part, and the engine's statements use it.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include <pgxq/client.h>

#include "queue/sql.hpp"

namespace {

std::optional<std::string> quoted(const char* table, std::string* error = nullptr) {
  pgxq_error err{};
  char* q = pgxq_quote_table_name(table, &err);
  if (!q) {
    if (error) *error = err.message;
    return std::nullopt;
  }
  std::string out(q);
  pgxq_free(q);
  return out;
}

}  // namespace

TEST_CASE("table quoting: each part quoted, the default for NULL, invalid names refused") {
  CHECK(quoted("pgxq_job") == "\"pgxq_job\"");
  CHECK(quoted("app.jobs") == "\"app\".\"jobs\"");
  CHECK(quoted("order") == "\"order\"");  // reserved words work as table names
  CHECK(quoted(nullptr) == "\"pgxq_job\"");
  std::string error;
  CHECK_FALSE(quoted("jobs\"; DROP TABLE x; --", &error));
  CHECK(error.find("invalid character") != std::string::npos);
  CHECK_FALSE(quoted("a.b.c"));
  CHECK_FALSE(quoted(""));
}

TEST_CASE("table quoting: the engine's statements use libpgxq's quoting") {
  pgxq::queue::TableSql t("app.jobs");
  CHECK(t.quoted == quoted("app.jobs"));
  CHECK_THROWS_AS(pgxq::queue::TableSql("Bad-Name"), std::invalid_argument);
}
