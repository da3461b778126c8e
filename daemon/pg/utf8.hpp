// pg/utf8: UTF-8 validation and repair for text bound for PostgreSQL, e.g. from plugins, which may
// hand us any bytes as an error message; PostgreSQL rejects invalid UTF-8 in a text column,
// which would make recording the job's outcome itself fail, so bad bytes are replaced. The one
// definition of well-formed UTF-8 in the daemon (JSON log lines use it too).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgxq::pg {

// Length of the well-formed UTF-8 sequence starting at s[i] (1 to 4), or 0 when the bytes there
// are not one (RFC 3629: overlong forms, surrogates, code points above U+10FFFF, truncation).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

bool valid_utf8(std::string_view s) noexcept;
// `s` with every byte that is not part of a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF included) replaced by U+FFFD, and NUL bytes dropped.
std::string repair_utf8(std::string_view s);

}  // namespace pgxq::pg
