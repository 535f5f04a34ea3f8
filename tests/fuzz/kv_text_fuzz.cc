// libFuzzer target: the key-value server's text helpers. The input's first byte splits the rest
// into a pattern and a text for glob_match (both cases), which must agree with plain equality
// for patterns without special characters and match any text against its fully escaped self;
// the whole input is also a long double (what parses must format and parse again) and a SCAN
// cursor (digits alone parse to their value), and a command name for COMMAND INFO / DOCS
// ("parent|sub"; what it finds is named so, in any case). Under ASan nothing may read past the
// input.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lf/handlers/kv/command_meta.h"
#include "lf/handlers/kv/float_text.h"
#include "lf/handlers/kv/glob_match.h"
#include "lf/handlers/kv/integer_text.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool has_special(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (!input.empty()) {
    const std::size_t split = static_cast<unsigned char>(input[0]) % input.size();
    // Exact-size copies, so a read past either end is caught.
    const std::string pattern(input.substr(1, split));
    const std::string text(input.substr(1 + std::min(split, input.size() - 1)));
    const bool matched = lf::glob_match(pattern, text);
    (void)lf::glob_match(pattern, text, /*ignore_case=*/true);
    if (!has_special(pattern)) check(matched == (pattern == text));
    std::string escaped;
    for (const char c : text) {
      escaped += '\\';
      escaped += c;
    }
    check(text.empty() || lf::glob_match(escaped, text));
  }

  long double value = 0;
  if (lf::parse_long_double(input, value)) {
    const std::string formatted = lf::format_long_double(value);
    long double again = 0;
    check(!formatted.empty() && lf::parse_long_double(formatted, again));
  }

  unsigned long cursor = 0;
  const bool digits = !input.empty() && input.size() <= 19 &&
                      input.find_first_not_of("0123456789") == std::string_view::npos;
  if (lf::parse_scan_cursor(input, cursor) && digits) {
    check(cursor == std::strtoul(std::string(input).c_str(), nullptr, 10));
  }
  if (digits) check(lf::parse_scan_cursor(input, cursor));

  if (const lf::CommandMeta* meta = lf::find_command_meta(input)) {
    check(meta->name.size() == input.size());
    for (std::size_t i = 0; i < input.size(); ++i) {
      check(meta->name[i] == std::tolower(static_cast<unsigned char>(input[i])));
    }
  }
  return 0;
}
