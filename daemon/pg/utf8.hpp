// pg/utf8: UTF-8 validation and repair for text bound for PostgreSQL, e.g. from plugins, which may
// hand us any bytes as an error message; PostgreSQL rejects invalid UTF-8 in a text column,
// which would make recording the job's outcome itself fail, so bad bytes are replaced.
#pragma once

#include <string>
#include <string_view>

namespace pgxq::pg {

bool valid_utf8(std::string_view s) noexcept;
// `s` with every byte that is not part of a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF included) replaced by U+FFFD, and NUL bytes dropped.
std::string repair_utf8(std::string_view s);

}  // namespace pgxq::pg
