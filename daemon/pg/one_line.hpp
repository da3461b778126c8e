// pg/one_line: text from outside (job args, handler and plugin messages, server errors) made
// safe to put on one log line. A line break would let that text start a line of its own that
// looks like pgxqd's, or like a journald "<N>" priority prefix; a terminal control sequence
// could rewrite what an operator sees. The one definition of that escaping, shared by the
// logger and by the messages that are printed without it.
#pragma once

#include <string>
#include <string_view>

namespace pgxq::pg {

// `s` with CR and LF written as the two characters \r and \n, and every other control byte
// (below 0x20 except tab, and 0x7f) as \xNN; all else, UTF-8 included, unchanged. Visible, so
// a reader sees what the text held; nothing it holds can end the line.
std::string one_line(std::string_view s);

// Whether one_line(s) would change anything (saves a copy on the common path).
bool needs_one_line(std::string_view s) noexcept;

}  // namespace pgxq::pg
