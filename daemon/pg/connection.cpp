// pg/connection: libpq calls wrapped so that every handle is owned and every failure throws a
// pg::Error with its SQLSTATE.
#include "pg/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

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

namespace {

// The keys a connection string sets itself (its values win over ConnectOptions). A string libpq
// cannot parse as key=value or URI (a bare database name, or a mistake libpq reports when
// connecting) sets none.
std::vector<std::string> keys_set_by(const std::string& conninfo) {
  std::vector<std::string> keys;
  if (conninfo.empty()) return keys;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return keys;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (o->val && *o->val) keys.emplace_back(o->keyword);
  PQconninfoFree(opts);
  return keys;
}

std::optional<std::string> value_in(const std::string& conninfo, std::string_view key) {
  if (conninfo.empty()) return std::nullopt;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return std::nullopt;
  std::optional<std::string> out;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (key == o->keyword && o->val && *o->val) out = o->val;
  PQconninfoFree(opts);
  return out;
}

std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

std::chrono::milliseconds effective_connect_timeout(const std::string& conninfo, std::chrono::milliseconds fallback) {
  std::optional<std::string> given = value_in(conninfo, "connect_timeout");
  if (!given)
    if (const char* env = std::getenv("PGCONNECT_TIMEOUT"); env && *env) given = env;
  if (!given) return fallback;
  // As libpq reads it: whole seconds, 1 means 2, zero, negative or garbage means no limit.
  long secs = std::strtol(given->c_str(), nullptr, 10);
  if (secs <= 0) return std::chrono::milliseconds::zero();
  if (secs == 1) secs = 2;
  return std::chrono::seconds(secs);
}

Connection::Connection(const std::string& conninfo, const ConnectOptions& options) {
  const std::vector<std::string> given = keys_set_by(conninfo);
  std::vector<std::pair<std::string, std::string>> params;
  if (!conninfo.empty()) params.emplace_back("dbname", conninfo);  // expanded: a URI or key=value
  auto fallback = [&](const char* key, std::string value) {
    if (std::find(given.begin(), given.end(), key) == given.end()) params.emplace_back(key, std::move(value));
  };
  if (options.keepalives_idle.count() > 0) {
    fallback("keepalives", "1");
    fallback("keepalives_idle", std::to_string(options.keepalives_idle.count()));
    fallback("keepalives_interval", std::to_string(std::max<int64_t>(1, options.keepalives_interval.count())));
    fallback("keepalives_count", std::to_string(std::max(1, options.keepalives_count)));
  }
  if (options.tcp_user_timeout.count() > 0) fallback("tcp_user_timeout", std::to_string(options.tcp_user_timeout.count()));
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  const std::string where = conninfo.empty()
                                ? std::string("from the environment (PGHOST, PGDATABASE, ...) or libpq's defaults")
                                : mask_conninfo(conninfo);
  auto fail = [&](std::string why) -> Error {
    return Error("cannot connect to the database (" + where + "): " + scrub_password(std::move(why), conninfo), "08001");
  };

  // Opened without blocking, so the attempt can be bounded and abandoned (libpq's own
  // connect_timeout applies to its blocking connect only).
  const auto limit = effective_connect_timeout(conninfo, options.connect_timeout);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  conn_.reset(PQconnectStartParams(keys.data(), values.data(), 1));
  if (!conn_) throw Error("cannot connect: out of memory");
  if (PQstatus(conn_.get()) == CONNECTION_BAD) throw fail(trim_trailing_newlines(PQerrorMessage(conn_.get())));
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) throw fail(trim_trailing_newlines(PQerrorMessage(conn_.get())));
    if (state == PGRES_POLLING_READING || state == PGRES_POLLING_WRITING) {
      const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
      for (;;) {
        if (options.should_stop && options.should_stop()) throw fail("abandoned: shutting down");
        auto wait = std::chrono::milliseconds(100);
        if (limit.count() > 0) {
          const auto left =
              std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
          if (left.count() <= 0)
            throw fail("no answer within " + describe(limit) +
                       " (connect_timeout): the server accepted no connection or never replied; check that the "
                       "host and port are right and reachable");
          wait = std::min(wait, left);
        }
        pollfd pfd{PQsocket(conn_.get()), events, 0};
        const int rc = ::poll(&pfd, 1, static_cast<int>(wait.count()));
        if (rc > 0) break;
        if (rc < 0 && errno != EINTR) throw fail(std::string("waiting for the server: ") + std::strerror(errno));
      }
    }
    state = PQconnectPoll(conn_.get());
  }
}

Result Connection::check(PGresult* r) {
  Result res(r);
  if (on_statement_) on_statement_();
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
