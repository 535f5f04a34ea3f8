#include "lf/handlers/kv/glob_match.h"

#include <cctype>
#include <utility>

namespace lf {
namespace {

constexpr int kMaxNesting = 1000;

int lower(char c) { return std::tolower(static_cast<unsigned char>(c)); }

// Redis reads one byte past the pattern (its NUL terminator) in places: at() does the same.
struct Cursor {
  const char* data;
  long long length;
  [[nodiscard]] char at(long long i) const noexcept { return i < length ? data[i] : '\0'; }
  void advance(long long n = 1) noexcept {
    data += n;
    length -= n;
  }
};

bool match(Cursor pattern, Cursor text, bool nocase, bool& skip_longer, int nesting) {
  if (nesting > kMaxNesting) return false;
  while (pattern.length > 0 && text.length > 0) {
    switch (pattern.at(0)) {
      case '*':
        while (pattern.length > 0 && pattern.at(1) == '*') pattern.advance();
        if (pattern.length == 1) return true;
        while (text.length > 0) {
          if (match({pattern.data + 1, pattern.length - 1}, text, nocase, skip_longer,
                    nesting + 1)) {
            return true;
          }
          if (skip_longer) return false;
          text.advance();
        }
        // No match for the rest anywhere in the rest of the text: an earlier '*' matching
        // more could not help either.
        skip_longer = true;
        return false;
      case '?':
        text.advance();
        break;
      case '[': {
        pattern.advance();
        const bool negate = pattern.at(0) == '^';
        if (negate) pattern.advance();
        bool matched = false;
        for (;;) {
          if (pattern.at(0) == '\\' && pattern.length >= 2) {
            pattern.advance();
            if (pattern.at(0) == text.at(0)) matched = true;
          } else if (pattern.at(0) == ']') {
            break;
          } else if (pattern.length == 0) {
            pattern.data--;
            pattern.length++;
            break;
          } else if (pattern.length >= 3 && pattern.at(1) == '-') {
            int start = static_cast<unsigned char>(pattern.at(0));
            int end = static_cast<unsigned char>(pattern.at(2));
            int c = static_cast<unsigned char>(text.at(0));
            if (start > end) std::swap(start, end);
            if (nocase) {
              start = std::tolower(start);
              end = std::tolower(end);
              c = std::tolower(c);
            }
            pattern.advance(2);
            if (c >= start && c <= end) matched = true;
          } else if (nocase ? lower(pattern.at(0)) == lower(text.at(0))
                            : pattern.at(0) == text.at(0)) {
            matched = true;
          }
          pattern.advance();
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        text.advance();
        break;
      }
      case '\\':
        if (pattern.length >= 2) pattern.advance();
        [[fallthrough]];
      default:
        if (nocase ? lower(pattern.at(0)) != lower(text.at(0)) : pattern.at(0) != text.at(0)) {
          return false;
        }
        text.advance();
        break;
    }
    pattern.advance();
    if (text.length == 0) {
      while (pattern.length > 0 && pattern.at(0) == '*') pattern.advance();
      break;
    }
  }
  return pattern.length == 0 && text.length == 0;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case) noexcept {
  bool skip_longer = false;
  return match({pattern.data(), static_cast<long long>(pattern.size())},
               {text.data(), static_cast<long long>(text.size())}, ignore_case, skip_longer, 0);
}

}  // namespace lf
