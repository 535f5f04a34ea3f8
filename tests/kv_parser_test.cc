// RespParser alone (no sockets): multibulk and inline requests, requests split at every byte,
// Redis's exact protocol error texts, the limits, and random input that must never crash it or
// make it claim bytes it was not given.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lf/handlers/kv/integer_text.h"
#include "lf/handlers/kv/resp_parser.h"

namespace lf {
namespace {

using Status = RespParser::Status;

std::vector<std::string> args_of(const RespParser& parser) {
  return {parser.args().begin(), parser.args().end()};
}

// Parses one complete request from `text`; fails the test otherwise.
std::vector<std::string> parse_one(std::string_view text) {
  RespParser parser;
  EXPECT_EQ(parser.parse(text), Status::kCommand) << parser.error();
  EXPECT_EQ(parser.consumed(), text.size());
  return args_of(parser);
}

std::string parse_error(std::string_view text, RespLimits limits = {}) {
  RespParser parser(limits);
  Status status = parser.parse(text);
  EXPECT_EQ(status, Status::kError);
  return parser.error();
}

using Args = std::vector<std::string>;

TEST(KvRespParser, Multibulk) {
  EXPECT_EQ(parse_one("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), (Args{"GET", "k"}));
  EXPECT_EQ(parse_one("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n"), (Args{"SET", "", "a\r\nb"}));
  // Binary data, NUL included.
  EXPECT_EQ(parse_one(std::string("*1\r\n$3\r\na\0b\r\n", 13)), (Args{std::string("a\0b", 3)}));
}

TEST(KvRespParser, EmptyMultibulkIsSkipped) {
  RespParser parser;
  EXPECT_EQ(parser.parse("*0\r\n*-1\r\n"), Status::kCommand);
  EXPECT_TRUE(parser.args().empty());
  EXPECT_EQ(parser.consumed(), 4u);
}

TEST(KvRespParser, Inline) {
  EXPECT_EQ(parse_one("PING\r\n"), (Args{"PING"}));
  EXPECT_EQ(parse_one("set  k   v\n"), (Args{"set", "k", "v"}));
  EXPECT_EQ(parse_one("SET k \"a b\\x41\\n\"\r\n"), (Args{"SET", "k", "a bA\n"}));
  EXPECT_EQ(parse_one("SET k 'it\\'s'\r\n"), (Args{"SET", "k", "it's"}));
  EXPECT_EQ(parse_one("SET k \"\"\r\n"), (Args{"SET", "k", ""}));
  RespParser parser;
  EXPECT_EQ(parser.parse("   \r\n"), Status::kCommand);  // an empty line: nothing to run
  EXPECT_TRUE(parser.args().empty());
  EXPECT_EQ(parser.consumed(), 5u);
}

TEST(KvRespParser, InlineQuoteErrors) {
  EXPECT_EQ(parse_error("SET k \"abc\r\n"), "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(parse_error("SET k 'abc\r\n"), "Protocol error: unbalanced quotes in request");
  // A closing quote must be followed by a space or the end.
  EXPECT_EQ(parse_error("SET k \"a\"b\r\n"), "Protocol error: unbalanced quotes in request");
}

TEST(KvRespParser, EveryByteSplit) {
  const std::string request = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n";
  RespParser parser;
  for (std::size_t n = 0; n < request.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(request).substr(0, n)), Status::kNeedMore) << n;
  }
  ASSERT_EQ(parser.parse(request), Status::kCommand);
  EXPECT_EQ(args_of(parser), (Args{"SET", "key", "0123456789"}));
  EXPECT_EQ(parser.consumed(), request.size());
}

TEST(KvRespParser, PipelinedRequests) {
  const std::string input = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI";
  RespParser parser;
  std::vector<Args> commands;
  std::size_t used = 0;
  while (parser.parse(std::string_view(input).substr(used)) == Status::kCommand) {
    commands.push_back(args_of(parser));
    used += parser.consumed();
  }
  EXPECT_EQ(commands, (std::vector<Args>{{"PING"}, {"ECHO", "hi"}, {"GET", "k"}}));
  EXPECT_EQ(input.substr(used), "*1\r\n$4\r\nPI");
}

TEST(KvRespParser, BytesNeededComesFromTheHeaders) {
  RespParser parser;
  EXPECT_EQ(parser.parse("*2\r\n$3\r\nGET\r\n$100000\r\nab"), Status::kNeedMore);
  EXPECT_EQ(parser.bytes_needed(), 4u + 9u + 9u + 100002u);
}

TEST(KvRespParser, ProtocolErrorsAsRedisWordsThem) {
  EXPECT_EQ(parse_error("*1\r\nx3\r\nfoo\r\n"), "Protocol error: expected '$', got 'x'");
  EXPECT_EQ(parse_error("*x\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(parse_error("*1048577\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(parse_error("*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(parse_error("*1\r\n$536870913\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(parse_error("*1\r\n$99999999999999999999999\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(parse_error("*1\r\n$+3\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(parse_error(std::string(70000, 'a')), "Protocol error: too big inline request");
  EXPECT_EQ(parse_error("*" + std::string(70000, '1')), "Protocol error: too big mbulk count string");
  EXPECT_EQ(parse_error("*1\r\n$" + std::string(70000, '1')),
            "Protocol error: too big bulk count string");
  // CR and LF never reach the reply line.
  EXPECT_EQ(parse_error("*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
}

TEST(KvRespParser, LimitsAreConfigurable) {
  RespLimits limits;
  limits.max_bulk_length = 10;
  limits.max_multibulk_length = 2;
  EXPECT_EQ(parse_error("*1\r\n$11\r\n", limits), "Protocol error: invalid bulk length");
  EXPECT_EQ(parse_error("*3\r\n", limits), "Protocol error: invalid multibulk length");
  RespParser parser(limits);
  EXPECT_EQ(parser.parse("*1\r\n$10\r\n0123456789\r\n"), Status::kCommand);
}

TEST(KvRespParser, HugeCountsAllocateNothingUpFront) {
  // A million arguments announced, none sent: the parser only waits.
  RespParser parser;
  EXPECT_EQ(parser.parse("*1048576\r\n$1\r\na\r\n"), Status::kNeedMore);
}

TEST(KvRespParser, RandomInputNeverCrashes) {
  std::mt19937_64 rng(42);
  const std::string alphabet = "*$\r\n0123456789-+ \"'\\xabAB";
  for (int round = 0; round < 20000; ++round) {
    std::string input(rng() % 64, ' ');
    for (char& c : input) c = alphabet[rng() % alphabet.size()];
    RespParser parser;
    std::size_t used = 0;
    for (int step = 0; step < 100 && used <= input.size(); ++step) {
      const Status status = parser.parse(std::string_view(input).substr(used));
      if (status != Status::kCommand) break;
      ASSERT_GT(parser.consumed(), 0u);
      ASSERT_LE(used + parser.consumed(), input.size());
      used += parser.consumed();
    }
  }
}

TEST(KvIntegerText, ParsesLikeRedisString2ll) {
  long long value = 0;
  EXPECT_TRUE(parse_integer("0", value));
  EXPECT_TRUE(parse_integer("-9223372036854775808", value));
  EXPECT_EQ(value, INT64_MIN);
  EXPECT_TRUE(parse_integer("9223372036854775807", value));
  EXPECT_EQ(value, INT64_MAX);
  for (const char* bad : {"", "-", "+1", "01", " 1", "1 ", "9223372036854775808", "-0", "1a"}) {
    EXPECT_FALSE(parse_integer(bad, value)) << bad;
  }
}

}  // namespace
}  // namespace lf
