// What a wrk run must show to pass: some requests, no socket errors (connect, read, write,
// timeout) and no non-2xx/3xx answers. Shared by the plaintext and the HTTPS wrk tests.
#pragma once

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace lf::test {

inline void expect_wrk_ran_cleanly(const std::string& output) {
  // "  12345 requests in 1.00s, 1.23MB read"
  std::smatch match;
  ASSERT_TRUE(std::regex_search(output, match, std::regex(R"((\d+) requests in)"))) << output;
  EXPECT_GT(std::stoul(match[1]), 0u) << output;
  // wrk prints these lines only when something went wrong; all-zero counts are fine too.
  if (std::regex_search(
          output, match,
          std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    for (std::size_t i = 1; i <= 4; ++i) EXPECT_EQ(match[i], "0") << output;
  }
  if (std::regex_search(output, match, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    EXPECT_EQ(match[1], "0") << output;
  }
}

}  // namespace lf::test
