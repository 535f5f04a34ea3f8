// Internal to the HTTP handler (usable by apps): request-target helpers. Pure functions, thread
// safe.
#pragma once

#include <string>
#include <string_view>

namespace lf {

// Appends the percent-decoded `in` to `out` ('+' is left alone: it is not a space in a path).
// False on a malformed escape ("%4", "%zz") or an escape that decodes to NUL.
[[nodiscard]] bool percent_decode(std::string_view in, std::string& out);

// RFC 9112 3.2 / RFC 3986 3.2.2-3.2.3: `host [ ":" port ]`, where host is a reg-name
// (unreserved, sub-delims, percent escapes; may be empty), an IPv4 address (which is a
// reg-name too) or a bracketed IPv6 or IPvFuture literal, and port is digits. No userinfo.
[[nodiscard]] bool is_valid_host(std::string_view host) noexcept;

}  // namespace lf
