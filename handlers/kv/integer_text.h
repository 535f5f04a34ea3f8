// Public. Integers in Redis's textual form, for arguments and stored values. Thread safe.
#pragma once

#include <string_view>

namespace lf {

// Redis's string2ll: an optional '-', digits, no leading zeros or '+', no spaces, within the
// range of long long. False (and `value` untouched) otherwise.
[[nodiscard]] bool parse_integer(std::string_view text, long long& value) noexcept;

}  // namespace lf
