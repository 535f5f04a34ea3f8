// Internal to the HTTP handler (usable by apps): request-target helpers. Pure functions, thread
// safe.
#pragma once

#include <string>
#include <string_view>

namespace lf {

// Appends the percent-decoded `in` to `out` ('+' is left alone: it is not a space in a path).
// False on a malformed escape ("%4", "%zz") or an escape that decodes to NUL.
[[nodiscard]] bool percent_decode(std::string_view in, std::string& out);

}  // namespace lf
