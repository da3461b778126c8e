// One statement on the caller's connection, its result checked: what pgxq_migrate and
// pgxq_schema_status send (see run() in internal.hpp).
#include <vector>

#include "internal.hpp"

namespace pgxq::client::detail {

Result run(PGconn* conn, const std::string& sql, std::initializer_list<const char*> params, ExecStatusType want,
           std::string_view context, pgxq_error* err) {
  std::vector<const char*> values(params);
  Result r(values.empty() ? PQexec(conn, sql.c_str())
                          : PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                         nullptr, nullptr, 0));
  if (!r || PQresultStatus(r.get()) != want) {
    set_pg_error(err, conn, r.get(), context);
    return nullptr;
  }
  return r;
}

}  // namespace pgxq::client::detail
