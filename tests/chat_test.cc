// ChatRoom and ChatConnection on a 4-thread server over loopback: five clients where every line
// reaches every other client exactly once, in order, with its sender's name and never its
// sender; join, leave and /nick notices; long lines refused; and a client that never reads,
// which must neither stall the others nor make the server buffer without bound.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/handlers/chat/chat_connection.h"
#include "lf/handlers/chat/chat_room.h"
#include "lf/server.h"
#include "support/peak.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What the members' own threads report.
struct MemberProbe {
  // The largest output_bytes() a member's own thread saw (a periodic timer samples it). From
  // that thread it is exact: no move from the inbox is half done.
  std::atomic<std::size_t> peak_output{0};
  // SO_SNDBUF for members that connect from now on (0: the kernel's default). Small, the kernel
  // holds little of a member's output and the server's own queue fills.
  std::atomic<int> send_buffer{0};
};

// A ChatConnection that reports to a MemberProbe.
class ObservedChatConnection : public ChatConnection {
 public:
  ObservedChatConnection(std::shared_ptr<ChatRoom> room, std::shared_ptr<MemberProbe> probe)
      : ChatConnection(std::move(room)), probe_(std::move(probe)) {}

 protected:
  void on_connect() override {
    if (const int size = probe_->send_buffer.load(); size > 0) {
      ::setsockopt(handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    // Samples the pending output every timer tick, on this connection's own thread.
    start_periodic(1ms, [this] { test::raise_peak(probe_->peak_output, output_bytes()); });
    ChatConnection::on_connect();
  }

 private:
  std::shared_ptr<MemberProbe> probe_;
};

// A room served by a 4-thread server on 127.0.0.1, until the object is destroyed. Its members
// report to `probe`.
struct ChatServer {
  explicit ChatServer(ChatOptions options = {})
      : room(std::make_shared<ChatRoom>(options)),
        server(std::make_unique<Server>(server_options())) {
    address = server->listen<ObservedChatConnection>(InetAddress(0, /*loopback=*/true),
                                                     ListenOptions{}, room, probe);
    server->start();
  }
  ~ChatServer() {
    server->stop();
    server->wait();
  }
  ChatServer(const ChatServer&) = delete;
  ChatServer& operator=(const ChatServer&) = delete;

  static ServerOptions server_options() {
    ServerOptions options;
    options.threads = 4;
    options.handle_signals = false;
    return options;
  }

  std::shared_ptr<ChatRoom> room;
  std::shared_ptr<MemberProbe> probe = std::make_shared<MemberProbe>();
  std::unique_ptr<Server> server;
  InetAddress address;
};

// A blocking line client. receive_buffer > 0 sets SO_RCVBUF before connecting, so that a client
// that does not read fills its socket buffers quickly.
class LineClient {
 public:
  explicit LineClient(const InetAddress& server, int receive_buffer = 0)
      : fd_(::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (receive_buffer > 0) {
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    connected_ = ::connect(fd_.get(), server.sockaddr_ptr(), server.length()) == 0;
  }

  [[nodiscard]] bool connected() const noexcept { return connected_; }

  [[nodiscard]] bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The next line without its '\n'; nullopt on EOF, error or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto eol = pending_.find('\n');
      if (eol != std::string::npos) {
        std::string line = pending_.substr(0, eol);
        pending_.erase(0, eol + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // True if nothing arrives for `period`.
  bool quiet_for(std::chrono::milliseconds period) {
    return pending_.empty() && !fill(Clock::now() + period);
  }

  void close() { fd_.reset(); }

  std::string name;

 private:
  // Waits for and reads what is there; false on EOF, error or timeout.
  bool fill(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) <= 0) return false;
    char chunk[65536];
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  UniqueFd fd_;
  bool connected_ = false;
  std::string pending_;
};

const std::regex kWelcome(
    R"(\*\*\* you are (\S+) \(\d+ in the room\); /nick NAME changes your name \*\*\*)");

// Connects, reads the welcome, and has every client in `others` read the join notice.
std::unique_ptr<LineClient> join(const ChatServer& chat,
                                 std::vector<std::unique_ptr<LineClient>>& others,
                                 int receive_buffer = 0) {
  auto client = std::make_unique<LineClient>(chat.address, receive_buffer);
  EXPECT_TRUE(client->connected());
  const auto welcome = client->read_line();
  std::smatch match;
  EXPECT_TRUE(welcome && std::regex_match(*welcome, match, kWelcome)) << welcome.value_or("(none)");
  if (!match.empty()) client->name = match[1];
  for (auto& other : others) {
    EXPECT_EQ(other->read_line(), "*** " + client->name + " joined ***") << other->name;
  }
  return client;
}

TEST(ChatRoom, ValidNames) {
  EXPECT_TRUE(ChatRoom::valid_name("alice"));
  EXPECT_TRUE(ChatRoom::valid_name("Bob_2-x"));
  EXPECT_TRUE(ChatRoom::valid_name(std::string(ChatRoom::kMaxNameLength, 'a')));
  EXPECT_FALSE(ChatRoom::valid_name(""));
  EXPECT_FALSE(ChatRoom::valid_name(std::string(ChatRoom::kMaxNameLength + 1, 'a')));
  EXPECT_FALSE(ChatRoom::valid_name("two words"));
  EXPECT_FALSE(ChatRoom::valid_name("colon:"));
  EXPECT_FALSE(ChatRoom::valid_name("caf\xc3\xa9"));
}

TEST(ChatConnection, FiveClientsEachLineReachesEveryOtherOnce) {
  ChatServer chat;
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(join(chat, clients));
  EXPECT_EQ(chat.room->size(), 5u);

  // Everyone talks at once: 200 lines each, in one write.
  constexpr int kLines = 200;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    std::string lines;
    for (int k = 0; k < kLines; ++k)
      lines += "line " + std::to_string(k) + " from " + std::to_string(i) + "\n";
    ASSERT_TRUE(clients[i]->send(lines));
  }
  for (std::size_t r = 0; r < clients.size(); ++r) {
    // Per sender, the next line number expected: the lines of one sender arrive in order.
    std::map<std::string, int> next;
    for (std::size_t s = 0; s < clients.size(); ++s) {
      if (s != r) next[clients[s]->name + ": line "] = 0;
    }
    for (int n = 0; n < kLines * 4; ++n) {
      const auto line = clients[r]->read_line();
      ASSERT_TRUE(line.has_value()) << "client " << r << " after " << n << " lines";
      bool matched = false;
      for (std::size_t s = 0; s < clients.size(); ++s) {
        const std::string prefix = clients[s]->name + ": line ";
        if (!line->starts_with(prefix)) continue;
        ASSERT_NE(s, r) << "a client got its own line: " << *line;
        const std::string expected =
            prefix + std::to_string(next[prefix]++) + " from " + std::to_string(s);
        ASSERT_EQ(*line, expected);
        matched = true;
      }
      ASSERT_TRUE(matched) << *line;
    }
    for (const auto& [prefix, count] : next) EXPECT_EQ(count, kLines) << prefix;
  }

  // /nick: announced to everyone, the renamed client included; nothing came before it, so no
  // line was delivered twice.
  const std::string old_name = clients[0]->name;
  ASSERT_TRUE(clients[0]->send("/nick alpha\n"));
  for (auto& client : clients)
    EXPECT_EQ(client->read_line(), "*** " + old_name + " is now alpha ***");
  clients[0]->name = "alpha";
  ASSERT_TRUE(clients[0]->send("hello from alpha\r\n"));
  for (std::size_t r = 1; r < clients.size(); ++r)
    EXPECT_EQ(clients[r]->read_line(), "alpha: hello from alpha");

  // Refused renames are told to their sender only.
  ASSERT_TRUE(clients[1]->send("/nick alpha\n/nick two words\n/nick\n/nick " + clients[1]->name +
                               "\n/whois x\n\n"));
  EXPECT_EQ(clients[1]->read_line(), "*** alpha is taken ***");
  const std::string usage = "*** usage: /nick NAME (1 to 32 letters, digits, '_' or '-') ***";
  EXPECT_EQ(clients[1]->read_line(), usage);
  EXPECT_EQ(clients[1]->read_line(), usage);
  EXPECT_EQ(clients[1]->read_line(), "*** you are already " + clients[1]->name + " ***");
  EXPECT_EQ(clients[1]->read_line(), "*** unknown command /whois; try /nick NAME ***");
  ASSERT_TRUE(clients[2]->send("marker\n"));
  for (std::size_t r = 0; r < clients.size(); ++r) {
    if (r != 2) EXPECT_EQ(clients[r]->read_line(), clients[2]->name + ": marker") << r;
  }

  // Leaving is announced.
  const std::string leaver = clients[4]->name;
  clients[4]->close();
  clients.pop_back();
  for (auto& client : clients) EXPECT_EQ(client->read_line(), "*** " + leaver + " left ***");
  for (auto& client : clients) EXPECT_TRUE(client->quiet_for(50ms)) << client->name;
  EXPECT_EQ(chat.room->size(), 4u);
  EXPECT_EQ(chat.room->dropped_messages(), 0u);
}

TEST(ChatConnection, LongLinesAreRefused) {
  ChatOptions options;
  options.max_line = 100;
  ChatServer chat(options);
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 2; ++i) clients.push_back(join(chat, clients));
  LineClient& talker = *clients[0];
  LineClient& listener = *clients[1];
  const std::string refused = "*** line too long (over 100 bytes), not sent ***";

  // At the limit: sent. One byte over, whole: refused.
  ASSERT_TRUE(talker.send(std::string(100, 'a') + "\n" + std::string(101, 'b') + "\nafter\n"));
  EXPECT_EQ(listener.read_line(), talker.name + ": " + std::string(100, 'a'));
  EXPECT_EQ(listener.read_line(), talker.name + ": after");
  EXPECT_EQ(talker.read_line(), refused);

  // Over the limit before its end has arrived: refused once, the rest of it dropped as it comes.
  ASSERT_TRUE(talker.send(std::string(300, 'c')));
  EXPECT_EQ(talker.read_line(), refused);
  ASSERT_TRUE(talker.send(std::string(300, 'c')));
  ASSERT_TRUE(talker.send("tail of the long line\nnext\n"));
  EXPECT_EQ(listener.read_line(), talker.name + ": next");
  EXPECT_TRUE(talker.quiet_for(50ms));
  EXPECT_TRUE(listener.quiet_for(50ms));
}

TEST(ChatConnection, ClientThatNeverReadsDoesNotStallTheOthers) {
  ChatOptions options;
  options.max_pending_output = 64 * 1024;
  ChatServer chat(options);
  std::vector<std::unique_ptr<LineClient>> talkers;
  for (int i = 0; i < 4; ++i) talkers.push_back(join(chat, talkers));
  // Small socket buffers, so that little sits in the kernel and the server's own queue fills.
  chat.probe->send_buffer = 4096;
  auto sleeper = join(chat, talkers, /*receive_buffer=*/4096);
  chat.probe->send_buffer = 0;

  // Rounds: every talker sends kBatch lines, every talker reads the 3 * kBatch lines of the
  // others. The sleeper reads nothing. Go on until the server has dropped messages for it, and
  // a few rounds more.
  constexpr int kBatch = 20;
  const std::string padding(400, '.');
  const auto deadline = Clock::now() + 60s;
  int rounds = 0;
  int rounds_after_drops = 0;
  auto slowest_round = Clock::duration::zero();
  while (rounds_after_drops < 5 && Clock::now() < deadline) {
    const auto start = Clock::now();
    for (std::size_t t = 0; t < talkers.size(); ++t) {
      std::string lines;
      for (int k = 0; k < kBatch; ++k) lines += "r" + std::to_string(rounds) + " " + padding + "\n";
      ASSERT_TRUE(talkers[t]->send(lines));
    }
    for (auto& talker : talkers) {
      for (int n = 0; n < kBatch * 3; ++n) {
        const auto line = talker->read_line(5s);
        ASSERT_TRUE(line.has_value()) << talker->name << " stalled in round " << rounds;
        ASSERT_TRUE(line->ends_with("r" + std::to_string(rounds) + " " + padding)) << *line;
      }
    }
    slowest_round = std::max(slowest_round, Clock::now() - start);
    ++rounds;
    if (chat.room->dropped_messages() > 0) ++rounds_after_drops;
  }
  ASSERT_GT(chat.room->dropped_messages(), 0u) << "the sleeper's output never filled up";
  // The server held at most the bound for the sleeper, however much the others said, and it did
  // fill up to about that.
  // The sleeper's output stays full until it reads, so the sampling timer sees it.
  EXPECT_TRUE(test::wait_until(
      [&] { return chat.probe->peak_output.load() > options.max_pending_output / 2; }));
  EXPECT_LE(chat.probe->peak_output.load(), options.max_pending_output);
  // Prompt means: no round waited for the sleeper (a round is a few ms; 5 s would fail above).
  EXPECT_LT(slowest_round, 2s);

  // Now the sleeper reads: it gets the lines the server kept, then one notice for the rest.
  const std::uint64_t sent_to_sleeper =
      static_cast<std::uint64_t>(rounds) * talkers.size() * kBatch;
  const std::regex dropped_notice(R"(\*\*\* (\d+) messages dropped \*\*\*)");
  std::uint64_t received = 0;
  std::uint64_t dropped = 0;
  int notices = 0;
  while (received + dropped < sent_to_sleeper) {
    const auto line = sleeper->read_line();
    ASSERT_TRUE(line.has_value()) << received << " received + " << dropped << " dropped of "
                                  << sent_to_sleeper;
    std::smatch match;
    if (std::regex_match(*line, match, dropped_notice)) {
      dropped += std::stoull(match[1]);
      ++notices;
    } else {
      ++received;
    }
  }
  EXPECT_EQ(received + dropped, sent_to_sleeper);
  EXPECT_EQ(dropped, chat.room->dropped_messages());
  EXPECT_GE(notices, 1);
  EXPECT_TRUE(sleeper->quiet_for(50ms));
  // The talkers lost nothing.
  for (auto& talker : talkers) EXPECT_TRUE(talker->quiet_for(10ms)) << talker->name;
  std::printf(
      "rounds %d, sent to the sleeper %llu, dropped %llu, peak output %zu KiB, slowest "
      "round %lld us\n",
      rounds, static_cast<unsigned long long>(sent_to_sleeper),
      static_cast<unsigned long long>(dropped), chat.probe->peak_output.load() / 1024,
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::microseconds>(slowest_round).count()));
}

}  // namespace
}  // namespace lf
