// Public. Floating-point numbers in Redis's textual form (INCRBYFLOAT, HINCRBYFLOAT). Thread
// safe.
#pragma once

#include <string>
#include <string_view>

namespace lf {

// Redis's string2ld: strtold over the whole text (no leading space, nothing left over, no NaN,
// no overflow); false otherwise, `value` untouched. Like Redis, a NUL ends the text.
[[nodiscard]] bool parse_long_double(std::string_view text, long double& value) noexcept;

// Redis's ld2string in "human" mode: 17 decimals, trailing zeros (and a bare '.') removed,
// "-0" as "0". `value` must be finite.
[[nodiscard]] std::string format_long_double(long double value);

}  // namespace lf
