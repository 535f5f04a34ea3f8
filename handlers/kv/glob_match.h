// Public. Redis's glob-style patterns (KEYS, SCAN MATCH, HSCAN MATCH, CONFIG GET, COMMAND LIST
// FILTERBY PATTERN): '*', '?', '[abc]', '[^a-z]', '\' escapes. Thread safe.
#pragma once

#include <string_view>

namespace lf {

// Redis's stringmatchlen, byte for byte, with its quirks (an unterminated '[' matches as if
// closed). Patterns nested deeper than Redis 7.2 allows (1000 '*') do not match, so a hostile
// pattern cannot exhaust the stack.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text,
                              bool ignore_case = false) noexcept;

}  // namespace lf
