// Internal. OpenSSL's thread-local error queue, read into one line for logs and exceptions.
#pragma once

#include <string>

namespace lf {

// The queued errors' reasons joined with "; " (or "no error reported"); empties the queue, so
// that the next operation on this thread does not see them (SSL_get_error looks at it).
[[nodiscard]] std::string tls_error_string();

}  // namespace lf
