// The key-value server's small parsers and formatters, against what Redis 7.0 does: glob
// patterns (stringmatchlen), long doubles (string2ld, ld2string), SCAN cursors (strtoul), and
// the insertion-ordered hash behind HGETALL.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "lf/handlers/kv/float_text.h"
#include "lf/handlers/kv/glob_match.h"
#include "lf/handlers/kv/integer_text.h"
#include "lf/handlers/kv/kv_hash.h"

namespace lf {
namespace {

TEST(KvGlobMatch, MatchesLikeRedisStringmatchlen) {
  EXPECT_FALSE(glob_match("*", ""));  // as Redis: KEYS and SCAN treat a lone "*" apart
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("h?llo", "hello"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h*llo", "heeeello"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(glob_match("h[b-a]llo", "hallo"));  // reversed ranges work
  EXPECT_TRUE(glob_match("a\\*b", "a*b"));
  EXPECT_FALSE(glob_match("a\\*b", "axb"));
  EXPECT_TRUE(glob_match("[\\]]", "]"));
  EXPECT_FALSE(glob_match("ab[", "ab"));
  EXPECT_TRUE(glob_match("ab[c", "abc"));  // an unterminated class ends with the pattern
  EXPECT_FALSE(glob_match("GET", "get"));
  EXPECT_TRUE(glob_match("GET", "get", /*ignore_case=*/true));
  EXPECT_TRUE(glob_match("G[A-F]T", "get", /*ignore_case=*/true));
  EXPECT_TRUE(glob_match("a**b", "ab"));
  EXPECT_FALSE(glob_match("a*b", "ac"));
  EXPECT_TRUE(glob_match("*b*", "abc"));
  EXPECT_TRUE(glob_match(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
}

TEST(KvGlobMatch, HostilePatternsEndQuickly) {
  // Many stars against a long non-matching text: without Redis's skip-longer-matches rule this
  // would take exponential time; nesting beyond 1000 stops instead of exhausting the stack.
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(glob_match(pattern, std::string(10000, 'a')));
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "a*";
  EXPECT_FALSE(glob_match(deep, std::string(200000, 'a')));
}

TEST(KvGlobMatch, RandomPatternsNeverCrash) {
  std::mt19937 random(42);
  const std::string alphabet = "ab*?[]^-\\";
  for (int i = 0; i < 20000; ++i) {
    std::string pattern, text;
    for (int n = static_cast<int>(random() % 12); n > 0; --n) pattern += alphabet[random() % alphabet.size()];
    for (int n = static_cast<int>(random() % 12); n > 0; --n) text += alphabet[random() % 3];
    (void)glob_match(pattern, text, (random() & 1) != 0);
  }
}

TEST(KvFloatText, ParsesLikeRedisString2ld) {
  long double value = 0;
  EXPECT_TRUE(parse_long_double("1.5", value));
  EXPECT_EQ(value, 1.5L);
  EXPECT_TRUE(parse_long_double("-5.0e3", value));
  EXPECT_EQ(value, -5000.0L);
  EXPECT_TRUE(parse_long_double("inf", value));  // accepted; INCRBYFLOAT then refuses the sum
  EXPECT_TRUE(parse_long_double(std::string_view("3\0junk", 6), value));  // NUL ends the text
  EXPECT_EQ(value, 3.0L);
  for (const char* bad : {"", " 1", "1 ", "abc", "nan", "1e99999", "1.5x"}) {
    EXPECT_FALSE(parse_long_double(bad, value)) << bad;
  }
  EXPECT_FALSE(parse_long_double(std::string(6000, '1'), value));  // over MAX_LONG_DOUBLE_CHARS
}

TEST(KvFloatText, FormatsLikeRedisLd2stringHuman) {
  EXPECT_EQ(format_long_double(10.6L), "10.6");
  EXPECT_EQ(format_long_double(3.0L), "3");
  EXPECT_EQ(format_long_double(-0.0L), "0");
  EXPECT_EQ(format_long_double(5000.0L), "5000");
  EXPECT_EQ(format_long_double(0.1L), "0.1");
  EXPECT_EQ(format_long_double(-1.25L), "-1.25");
}

TEST(KvIntegerText, ParsesScanCursorsLikeStrtoul) {
  unsigned long cursor = 7;
  EXPECT_TRUE(parse_scan_cursor("0", cursor));
  EXPECT_EQ(cursor, 0u);
  EXPECT_TRUE(parse_scan_cursor("", cursor));  // Redis: an empty cursor is 0
  EXPECT_EQ(cursor, 0u);
  EXPECT_TRUE(parse_scan_cursor("+12", cursor));
  EXPECT_EQ(cursor, 12u);
  EXPECT_TRUE(parse_scan_cursor("-1", cursor));  // wraps, as strtoul does
  EXPECT_EQ(cursor, static_cast<unsigned long>(-1));
  EXPECT_TRUE(parse_scan_cursor(std::string(100, '0') + "5", cursor));
  EXPECT_EQ(cursor, 5u);
  for (const char* bad : {" 1", "1 ", "x", "1x", "99999999999999999999999"}) {
    EXPECT_FALSE(parse_scan_cursor(bad, cursor)) << bad;
  }
}

TEST(KvHash, KeepsInsertionOrderAcrossDeletes) {
  KvHash hash;
  EXPECT_TRUE(hash.set("a", "1"));
  EXPECT_TRUE(hash.set("b", "2"));
  EXPECT_TRUE(hash.set("c", "3"));
  EXPECT_FALSE(hash.set("a", "one"));  // overwritten in place
  EXPECT_TRUE(hash.erase("b"));
  EXPECT_FALSE(hash.erase("b"));
  EXPECT_TRUE(hash.set("d", "4"));
  ASSERT_EQ(hash.size(), 3u);
  EXPECT_EQ(hash.fields()[0], (KvHash::Field{"a", "one"}));
  EXPECT_EQ(hash.fields()[1], (KvHash::Field{"c", "3"}));
  EXPECT_EQ(hash.fields()[2], (KvHash::Field{"d", "4"}));
  ASSERT_NE(hash.find("c"), nullptr);
  EXPECT_EQ(*hash.find("c"), "3");  // the index followed the move
  EXPECT_EQ(hash.find("b"), nullptr);
}

}  // namespace
}  // namespace lf
