// Public. HTTP dates (RFC 9110 5.6.7 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"): the current
// one for the Date header, cached per second, and conversions for Last-Modified and the
// conditional request headers. Thread safe.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace lf {

// The current time as an IMF-fixdate. The view stays valid on this thread until the next call
// (each thread keeps its own copy, formatted again when the second changes: no lock).
[[nodiscard]] std::string_view http_date_now();

[[nodiscard]] std::string format_http_date(std::time_t time);
// Parses an HTTP-date in any of the three forms a recipient must accept (RFC 9110 5.6.7):
// IMF-fixdate, the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime's
// ("Sun Nov  6 08:49:37 1994"); nullopt for anything else.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;
// The same, with `now` deciding the century of an RFC 850 two-digit year (testable).
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text,
                                                         std::time_t now) noexcept;

}  // namespace lf
