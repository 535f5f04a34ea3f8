// TimestampConnection on a 4-thread server over loopback: the reply format (checked with a regex
// and against the clock), several lines in one write, a partial line that waits, "\r\n" endings,
// and a line over the limit.
#include <gtest/gtest.h>
#include <poll.h>

#include <ctime>
#include <regex>
#include <string>
#include <thread>

#include "support/test_client.h"
#include "lf/handlers/timestamp/timestamp_connection.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using TimestampServer = test::BackgroundServer<TimestampConnection>;

// "[YYYY-mm-dd HH:MM:SS]server reply: " is 35 bytes.
constexpr std::size_t kPrefixSize = 35;
const std::regex kReply(
    R"(\[(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\]server reply: (.*)\n)");

// Reads the reply to `message` (its size is known) and checks its form; returns its time.
std::time_t expect_reply(test::TestClient& client, const std::string& message) {
  const auto reply = client.recv_exact(kPrefixSize + message.size() + 1);
  EXPECT_TRUE(reply.has_value());
  if (!reply) return -1;
  std::smatch match;
  EXPECT_TRUE(std::regex_match(*reply, match, kReply)) << *reply;
  if (match.empty()) return -1;
  EXPECT_EQ(match[7].str(), message);
  std::tm tm{};
  tm.tm_year = std::stoi(match[1]) - 1900;
  tm.tm_mon = std::stoi(match[2]) - 1;
  tm.tm_mday = std::stoi(match[3]);
  tm.tm_hour = std::stoi(match[4]);
  tm.tm_min = std::stoi(match[5]);
  tm.tm_sec = std::stoi(match[6]);
  return ::timegm(&tm);
}

TEST(TimestampConnection, FormatsTheTime) {
  EXPECT_EQ(TimestampConnection::format_time(0), "[1970-01-01 00:00:00]");
  EXPECT_EQ(TimestampConnection::format_time(1795425209), "[2026-11-23 09:13:29]");
}

TEST(TimestampConnection, RepliesWithTheUtcTime) {
  TimestampServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  const std::time_t before = std::time(nullptr);
  ASSERT_TRUE(client.send_all("hello world\n"));
  const std::time_t stamp = expect_reply(client, "hello world");
  const std::time_t after = std::time(nullptr);
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
}

TEST(TimestampConnection, SeveralLinesInOneWrite) {
  TimestampServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.send_all("one\ntwo\r\n\nthree with spaces\n"));
  expect_reply(client, "one");
  expect_reply(client, "two");  // "\r\n" is a line ending too
  expect_reply(client, "");
  expect_reply(client, "three with spaces");
}

TEST(TimestampConnection, PartialLineWaits) {
  TimestampServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.send_all("first\nsecond ha"));
  expect_reply(client, "first");
  // No reply to the partial line.
  pollfd readable{client.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&readable, 1, 200), 0);
  ASSERT_TRUE(client.send_all("lf done\n"));
  expect_reply(client, "second half done");
}

TEST(TimestampConnection, LineOverTheLimitEndsTheConnection) {
  TimestampServer server;
  test::TestClient client(server.address());
  const std::string long_line(TimestampConnection::kDefaultMaxLine + 10, 'x');
  ASSERT_TRUE(client.send_all("short\n" + long_line));
  expect_reply(client, "short");  // answered before the connection ends
  EXPECT_TRUE(client.wait_for_close());

  // Other connections are not affected.
  test::TestClient other(server.address());
  ASSERT_TRUE(other.send_all("still here\n"));
  expect_reply(other, "still here");
}

}  // namespace
}  // namespace lf
