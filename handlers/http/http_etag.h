// Public. Entity tags (RFC 9110 8.8.3): the weak validator StaticFiles sends, and the two
// comparisons the conditional headers use (13.1.1 If-Match: strong, 13.1.2 If-None-Match:
// weak). Pure functions, thread safe.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace lf {

// W/"<mtime hex>-<size hex>": nginx's ETag, made weak since a file rewritten within one second
// keeps its size and mtime.
[[nodiscard]] std::string weak_etag(std::time_t mtime, std::uint64_t size);

enum class EtagComparison : std::uint8_t {
  kStrong,  // both strong and their opaque tags equal
  kWeak,    // opaque tags equal, W/ or not
};

// Whether the single entity-tag `tag` (an If-Range value) matches `etag`; false if `tag` is
// not an entity-tag.
[[nodiscard]] bool etag_matches(std::string_view tag, std::string_view etag,
                                EtagComparison comparison) noexcept;

// Whether an If-Match or If-None-Match value ("*", or a list of entity-tags) matches `etag` of
// an existing representation. A malformed element ends the list: what follows does not match.
[[nodiscard]] bool etag_list_matches(std::string_view list, std::string_view etag,
                                     EtagComparison comparison) noexcept;

}  // namespace lf
