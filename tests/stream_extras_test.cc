// StreamConnection's send_file (zero-copy file ranges in order with other output) and its
// connection timers (start_timer; tests/connection_timers_test.cc has the rest).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "lf/server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

struct TempFile {
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/lf-sendfile-XXXXXX";
    const int fd = ::mkstemp(name);
    path = name;
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::close(fd);
  }
  ~TempFile() { ::unlink(path.c_str()); }
  std::string path;
};

std::string g_file_path;  // set by each test before the server accepts

// Sends "head", a range of the file, "middle", the whole file, "tail", then half-closes.
class FileSender : public StreamConnection {
 protected:
  void on_connect() override {
    send("head");
    send_file(UniqueFd(::open(g_file_path.c_str(), O_RDONLY | O_CLOEXEC)), 10, 1000);
    send("middle");
    UniqueFd whole(::open(g_file_path.c_str(), O_RDONLY | O_CLOEXEC));
    const off_t size = ::lseek(whole.get(), 0, SEEK_END);
    send_file(std::move(whole), 0, static_cast<std::uint64_t>(size));
    send("tail");
    shutdown();
  }
  void on_message(Buffer& input) override { input.retrieve_all(); }
};

TEST(StreamExtrasTest, SendFileKeepsOrderWithOtherOutput) {
  const std::string content = test::random_bytes(3 * 1024 * 1024 + 17, 99);
  TempFile file(content);
  g_file_path = file.path;
  test::BackgroundServer<FileSender> server;
  const std::size_t fds_before = test::open_fd_count();
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  const auto received = client.recv_until_eof();
  ASSERT_TRUE(received.has_value());
  const std::string expected =
      "head" + content.substr(10, 1000) + "middle" + content + "tail";
  EXPECT_EQ(received->size(), expected.size());
  EXPECT_TRUE(*received == expected) << "bytes differ";
  client.close();
  // The file descriptors were closed once sent. Waited for on the count itself: the connection
  // leaves the HandleSet (connections() drops) just before its socket is closed.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (test::open_fd_count() > fds_before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_LE(test::open_fd_count(), fds_before);
}

std::atomic<int> g_timer_calls{0};
std::atomic<int> g_late_cancels{0};

// Answers "tick" from a timer 30 ms after connecting; a cancelled timer never fires.
class TimerUser : public StreamConnection {
 protected:
  void on_connect() override {
    const TimerId doomed = start_timer(10ms, [this] { tick(); });
    EXPECT_TRUE(doomed.valid());
    // A thread preempted for 10 ms (tsan on a loaded machine) cancels too late: the timer has
    // fired, cancel_timer() says so, and its callback runs. Only those may tick twice.
    if (!cancel_timer(doomed)) g_late_cancels.fetch_add(1);
    start_timer(30ms, [this] { tick(); });
  }
  void on_message(Buffer& input) override { input.retrieve_all(); }

 private:
  void tick() {
    g_timer_calls.fetch_add(1);
    send("tick");
  }
};

TEST(StreamExtrasTest, TimersRunTheirCallbackInProcessing) {
  g_timer_calls = 0;
  g_late_cancels = 0;
  test::BackgroundServer<TimerUser> server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.recv_exact(4), "tick");  // on_connect() has returned: g_late_cancels is final
  const int fired = 1 + g_late_cancels.load();
  if (fired == 2) EXPECT_EQ(client.recv_exact(4), "tick");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(g_timer_calls.load(), fired);
  client.close();
}

}  // namespace
}  // namespace lf
