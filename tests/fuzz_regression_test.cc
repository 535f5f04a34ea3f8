// Regression tests for what the libFuzzer targets in tests/fuzz/ found: each case is the reduced
// input of a crash (an invariant the fuzz target asserts), kept here so a plain ctest run checks
// it under GCC and every sanitizer preset.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "lf/handlers/http/http_uri.h"
#include "lf/handlers/kv/resp_parser.h"

namespace lf {
namespace {

// Parses `input` handed over whole and again one byte at a time; returns both errors.
std::pair<std::string, std::string> errors_whole_and_bytewise(std::string_view input,
                                                              RespLimits limits) {
  RespParser whole(limits);
  std::string whole_error;
  if (whole.parse(input) == RespParser::Status::kError) whole_error = whole.error();
  RespParser bytewise(limits);
  std::string bytewise_error;
  for (std::size_t n = 1; n <= input.size(); ++n) {
    const auto status = bytewise.parse(input.substr(0, n));
    if (status == RespParser::Status::kError) {
      bytewise_error = bytewise.error();
      break;
    }
    if (status == RespParser::Status::kCommand) break;
  }
  return {whole_error, bytewise_error};
}

// Found by resp_parser_fuzz: an inline request longer than max_inline_length was refused when it
// came in pieces but accepted when its newline arrived in the same read.
TEST(FuzzRegression, RespInlineLimitDoesNotDependOnReads) {
  const RespLimits limits{64, 8, 128};
  const std::string line = std::string(200, 'x') + "\r\n";
  const auto [whole, bytewise] = errors_whole_and_bytewise(line, limits);
  EXPECT_EQ(whole, "Protocol error: too big inline request");
  EXPECT_EQ(whole, bytewise);
}

TEST(FuzzRegression, RespMultibulkCountLimitDoesNotDependOnReads) {
  const RespLimits limits{64, 8, 128};
  const std::string header = "*" + std::string(200, '1') + "\r\n";
  const auto [whole, bytewise] = errors_whole_and_bytewise(header, limits);
  EXPECT_EQ(whole, "Protocol error: too big mbulk count string");
  EXPECT_EQ(whole, bytewise);
}

TEST(FuzzRegression, RespBulkCountLimitDoesNotDependOnReads) {
  const RespLimits limits{64, 8, 128};
  const std::string command = "*1\r\n$" + std::string(200, '1') + "\r\n";
  const auto [whole, bytewise] = errors_whole_and_bytewise(command, limits);
  EXPECT_EQ(whole, "Protocol error: too big bulk count string");
  EXPECT_EQ(whole, bytewise);
}

// A line exactly at the limit is still a command.
TEST(FuzzRegression, RespInlineAtTheLimitIsAccepted) {
  RespParser parser(RespLimits{64, 8, 128});
  const std::string line = std::string(128, 'x') + "\n";
  ASSERT_EQ(parser.parse(line), RespParser::Status::kCommand);
  EXPECT_EQ(parser.consumed(), line.size());
}

// Found by http_parser_fuzz: an IPv6 literal was handed to inet_pton as a C string, so a NUL in
// it ended the address early and "[::<NUL>junk]" was a valid Host.
TEST(FuzzRegression, HttpHostWithNulInsideAnIpv6LiteralIsInvalid) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(is_valid_host("[::\0\r\nH\x01\x90\0G1]:"sv));
  EXPECT_FALSE(is_valid_host("[::1\0]"sv));
  EXPECT_TRUE(is_valid_host("[::1]"sv));
  EXPECT_TRUE(is_valid_host("[::ffff:127.0.0.1]:80"sv));
}

}  // namespace
}  // namespace lf
