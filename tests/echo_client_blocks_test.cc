// EchoConnection with client-chosen blocking (EchoOptions::message_size, lf-echo --client-blocks):
// whole messages only, echoed in order however the reads split or batch them; only the messages
// whose first byte asks for it sleep or compute (counted by the blocked_messages hook); and while
// one connection's marked message sleeps, another connection's unmarked message is answered.
// No upper bound on any time: the only timing checks are lower bounds (a block lasts at least its
// time) and the order of two replies when one of them waits seconds. Every test name starts with
// "EchoClientBlocks", so `ctest -R EchoClientBlocks` selects them.
#include <poll.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"
#include "support/models.h"
#include "support/running_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kSize = 8;

// One kSize-byte message: its mark, then a filler that tells messages apart.
std::string message(BlockKind kind, char filler) {
  return std::string(1, static_cast<char>(kind)) + std::string(kSize - 1, filler);
}

// Whether bytes arrive on `client` within `wait` (for "nothing was echoed yet").
bool readable_within(const test::TestClient& client, std::chrono::milliseconds wait) {
  pollfd p{client.fd(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

ServerOptions server_options(Model model) {
  ServerOptions options;
  options.threads = 4;
  options.handle_signals = false;
  options.model = model;
  return options;
}

class ClientBlocks : public ::testing::TestWithParam<Model> {
 protected:
  EchoOptions echo_options(std::chrono::milliseconds block_time) {
    EchoOptions options;
    options.message_size = kSize;
    options.block_time = block_time;
    options.blocked_messages = &blocked_;
    return options;
  }

  std::atomic<std::uint64_t> blocked_{0};
};

TEST_P(ClientBlocks, EchoesWholeMessagesInOrderHoweverTheyAreSplitOrBatched) {
  test::RunningServer server(test::factory_of<EchoConnection>(echo_options(1ms)),
                             server_options(GetParam()));
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());

  // Three messages and half of a fourth in one write: the three come back, the half waits.
  const std::string batch = message(BlockKind::kNone, 'a') + message(BlockKind::kSleep, 'b') +
                            message(BlockKind::kNone, 'c');
  const std::string fourth = message(BlockKind::kCompute, 'd');
  ASSERT_TRUE(client.send_all(batch + fourth.substr(0, 3)));
  EXPECT_EQ(client.recv_exact(batch.size()), batch);
  EXPECT_FALSE(readable_within(client, 50ms)) << "part of a message was echoed";

  // The rest of the fourth, then a fifth one byte per write.
  ASSERT_TRUE(client.send_all(fourth.substr(3)));
  EXPECT_EQ(client.recv_exact(kSize), fourth);
  const std::string fifth = message(BlockKind::kNone, 'e');
  for (const char byte : fifth) ASSERT_TRUE(client.send_all(std::string(1, byte)));
  EXPECT_EQ(client.recv_exact(kSize), fifth);

  // A first byte that is no BlockKind is echoed like an unmarked message.
  const std::string unknown = std::string(1, '\x07') + std::string(kSize - 1, 'f');
  ASSERT_TRUE(client.send_all(unknown));
  EXPECT_EQ(client.recv_exact(kSize), unknown);

  EXPECT_EQ(blocked_.load(), 2U) << "only the sleep and the compute message block";
}

TEST_P(ClientBlocks, OnlyMarkedMessagesBlockAndEachBlocksForItsTime) {
  test::RunningServer server(test::factory_of<EchoConnection>(echo_options(20ms)),
                             server_options(GetParam()));
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  std::string plain;
  for (int i = 0; i < 200; ++i) plain += message(BlockKind::kNone, static_cast<char>('A' + i % 26));
  ASSERT_TRUE(client.send_all(plain));
  EXPECT_EQ(client.recv_exact(plain.size()), plain);
  EXPECT_EQ(blocked_.load(), 0U);

  for (const BlockKind kind : {BlockKind::kSleep, BlockKind::kCompute}) {
    const std::string marked = message(kind, 'x');
    const auto start = Clock::now();
    ASSERT_TRUE(client.send_all(marked));
    EXPECT_EQ(client.recv_exact(kSize), marked);
    EXPECT_GE(Clock::now() - start, 20ms) << "a marked message came back before its block ended";
  }
  EXPECT_EQ(blocked_.load(), 2U);
}

INSTANTIATE_TEST_SUITE_P(EchoClientBlocks, ClientBlocks, test::every_model(),
                         test::model_param_name);

// A marked message sleeps for seconds on one connection; an unmarked one on another connection is
// answered meanwhile (the sleeping one is still unanswered when it is). The default model
// (Leader/Followers), 4 threads.
TEST(EchoClientBlocks, AnUnmarkedMessageIsAnsweredWhileAMarkedOneSleeps) {
  std::atomic<std::uint64_t> blocked{0};
  EchoOptions options;
  options.message_size = kSize;
  options.block_time = 3s;
  options.blocked_messages = &blocked;
  test::RunningServer server(test::factory_of<EchoConnection>(options),
                             server_options(kDefaultModel));
  test::TestClient sleeper(server.address());
  test::TestClient victim(server.address());
  ASSERT_TRUE(sleeper.connected() && victim.connected());

  const std::string marked = message(BlockKind::kSleep, 's');
  ASSERT_TRUE(sleeper.send_all(marked));
  ASSERT_TRUE(test::wait_until([&] { return blocked.load() == 1; }));

  const std::string plain = message(BlockKind::kNone, 'v');
  ASSERT_TRUE(victim.send_all(plain));
  EXPECT_EQ(victim.recv_exact(kSize), plain);
  EXPECT_FALSE(readable_within(sleeper, 0ms)) << "the sleeping message was answered first";
  EXPECT_EQ(sleeper.recv_exact(kSize), marked);
}

}  // namespace
}  // namespace lf
