// Public. The Content-Type of a static file, from its extension. Thread safe.
#pragma once

#include <string_view>

namespace lf {

// "text/html; charset=utf-8" for "index.html"; "application/octet-stream" when unknown.
// Case-insensitive on the extension.
[[nodiscard]] std::string_view mime_type_for(std::string_view path) noexcept;

}  // namespace lf
