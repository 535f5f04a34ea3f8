// Public. Integers in Redis's textual form, for arguments and stored values. Thread safe.
#pragma once

#include <string_view>

namespace lf {

// Redis's string2ll: an optional '-', digits, no leading zeros or '+', no spaces, within the
// range of long long. False (and `value` untouched) otherwise.
[[nodiscard]] bool parse_integer(std::string_view text, long long& value) noexcept;

// A SCAN/HSCAN cursor as Redis 7.0 parses it (strtoul): optional sign, decimal digits, no leading
// space or trailing characters, no overflow; an empty text is cursor 0; "-1" wraps around.
[[nodiscard]] bool parse_scan_cursor(std::string_view text, unsigned long& cursor);

}  // namespace lf
