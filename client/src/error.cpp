// Error reporting into the caller's pgxq_error: SQLSTATE plus a message, truncated on a UTF-8
// character boundary so a long server message never ends in half a character.
#include <cstring>

#include "internal.hpp"

namespace pgxq::client::detail {

namespace {

void copy_truncated(char* dst, size_t cap, std::string_view src) noexcept {
  size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
  if (n < src.size()) {
    // Back off continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
    while (n > 0 && (static_cast<unsigned char>(src[n]) & 0xC0) == 0x80) --n;
  }
  if (n > 0) std::memcpy(dst, src.data(), n);  // an empty view may have a null data()
  dst[n] = '\0';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

void clear_error(pgxq_error* err) noexcept {
  if (!err) return;
  err->sqlstate[0] = '\0';
  err->message[0] = '\0';
}

void set_error(pgxq_error* err, std::string_view message) noexcept { set_error(err, {}, message); }

void set_error(pgxq_error* err, std::string_view sqlstate, std::string_view message) noexcept {
  if (!err) return;
  copy_truncated(err->sqlstate, sizeof err->sqlstate, sqlstate);
  copy_truncated(err->message, sizeof err->message, message);
}

void set_pg_error(pgxq_error* err, PGconn* conn, const PGresult* res, std::string_view context) noexcept {
  if (!err) return;
  try {
    std::string_view state;
    std::string_view primary;
    if (res) {
      if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) state = s;
      if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) primary = m;
      else if (const char* m2 = PQresultErrorMessage(res)) primary = trim(m2);
    }
    if (primary.empty() && conn) primary = trim(PQerrorMessage(conn));
    if (primary.empty()) primary = "unknown libpq failure";
    // A dead connection has no SQLSTATE from the server; report it as connection_failure so
    // callers can tell "reconnect and retry" from "the request was wrong".
    if (state.empty() && conn && PQstatus(conn) == CONNECTION_BAD) state = "08006";

    std::string msg;
    if (!context.empty()) msg.append(context).append(": ");
    msg.append(primary);
    if (state == "42P01") msg.append(" (create the job table first with pgxq_migrate or `pgxqd migrate`)");
    set_error(err, state, msg);
  } catch (...) {
    set_error(err, "out of memory while reporting a database error");
  }
}

}  // namespace pgxq::client::detail
