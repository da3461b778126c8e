// pg/connection: libpq calls wrapped so that every handle is owned and every failure throws a
// pg::Error with its SQLSTATE.
#include "pg/connection.hpp"

#include <algorithm>
#include <charconv>

#include "pg/scrub.hpp"

namespace pgxq::pg {

namespace {

std::string trim_trailing_newlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

int64_t Result::int64(int row, int col) const {
  auto t = text(row, col);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size())
    throw Error("expected an integer in column " + std::string(column_name(col)) + ", got '" + std::string(t) + "'");
  return v;
}

int64_t Result::affected() const noexcept {
  const char* n = res_ ? PQcmdTuples(res_.get()) : "";
  int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

Error make_error(PGconn* conn, const PGresult* res, std::string_view context) {
  std::string state;
  std::string msg;
  if (res) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) state = s;
    if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) msg = m;
    else msg = trim_trailing_newlines(PQresultErrorMessage(res));
  }
  if (msg.empty() && conn) msg = trim_trailing_newlines(PQerrorMessage(conn));
  if (msg.empty()) msg = "unknown libpq failure";
  if (!context.empty()) msg = std::string(context) + ": " + msg;
  if (!state.empty()) msg += " (SQLSTATE " + state + ")";
  return Error(std::move(msg), std::move(state));
}

Connection::Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (!conn_) throw Error("cannot connect: out of memory");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg = trim_trailing_newlines(PQerrorMessage(conn_.get()));
    throw Error("cannot connect to the database (" + mask_conninfo(conninfo.empty() ? "libpq defaults" : conninfo) +
                    "): " + scrub_password(msg, conninfo),
                "08001");
  }
}

Result Connection::check(PGresult* r) {
  Result res(r);
  if (!r) throw make_error(conn_.get(), nullptr);
  auto st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN || st == PGRES_COPY_OUT) return res;
  throw make_error(conn_.get(), r);
}

Result Connection::exec(std::string_view sql) {
  std::string q(sql);
  return check(PQexec(conn_.get(), q.c_str()));
}

namespace {
struct ParamArrays {
  std::vector<std::string> storage;
  std::vector<const char*> values;
  explicit ParamArrays(std::span<const Param> params) {
    storage.reserve(params.size());
    values.reserve(params.size());
    for (const auto& p : params) {
      if (p) {
        storage.emplace_back(*p);
        values.push_back(storage.back().c_str());
      } else {
        storage.emplace_back();
        values.push_back(nullptr);
      }
    }
  }
};
}  // namespace

Result Connection::exec(std::string_view sql, std::span<const Param> params) {
  std::string q(sql);
  ParamArrays a(params);
  return check(PQexecParams(conn_.get(), q.c_str(), static_cast<int>(params.size()), nullptr, a.values.data(), nullptr,
                            nullptr, 0));
}

void Connection::prepare(const std::string& name, std::string_view sql) {
  if (std::find(prepared_.begin(), prepared_.end(), name) != prepared_.end()) return;
  std::string q(sql);
  check(PQprepare(conn_.get(), name.c_str(), q.c_str(), 0, nullptr));
  prepared_.push_back(name);
}

Result Connection::exec_prepared(const std::string& name, std::span<const Param> params) {
  ParamArrays a(params);
  return check(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()), a.values.data(), nullptr,
                              nullptr, 0));
}

bool Connection::in_transaction() const noexcept {
  if (!conn_) return false;
  auto s = PQtransactionStatus(conn_.get());
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

std::string Connection::quote_identifier(std::string_view id) const {
  char* q = PQescapeIdentifier(conn_.get(), id.data(), id.size());
  if (!q) throw make_error(conn_.get(), nullptr, "quote identifier");
  std::string out(q);
  PQfreemem(q);
  return out;
}

Transaction::Transaction(Connection& conn) : conn_(conn) { conn_.exec("BEGIN"); }

Transaction::~Transaction() { rollback(); }

void Transaction::commit() {
  if (!open_) throw Error("commit on a transaction that is no longer open");
  open_ = false;
  Result r = conn_.exec("COMMIT");
  // COMMIT of a failed transaction "succeeds" as ROLLBACK: that is a failure for the caller.
  if (std::string_view(PQcmdStatus(r.get())) == "ROLLBACK")
    throw Error("transaction was rolled back by the server instead of committed", "40000");
}

void Transaction::rollback() noexcept {
  if (!open_) return;
  open_ = false;
  // Nothing to roll back when the server already ended it (a COMMIT or ROLLBACK sent through
  // the connection by someone else); ROLLBACK would only warn.
  if (!conn_.ok() || !conn_.in_transaction()) return;
  PGresult* r = PQexec(conn_.get(), "ROLLBACK");
  PQclear(r);
}

}  // namespace pgxq::pg
