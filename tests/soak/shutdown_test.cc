// Graceful shutdown under load: lf-echo (a child process, --log-dir) serves 100 busy clients;
// SIGTERM arrives mid-load. Every request whose sending finished before the signal must be
// answered in full, the process must exit 0 within a bound, and its log file must end with the
// "stopped" line (the logger was flushed).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_client.h"

#ifndef LF_ECHO_PATH
#error "LF_ECHO_PATH: the lf-echo program under test"
#endif

namespace lf::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST(GracefulShutdown, SigtermUnderLoadAnswersEveryRequestAndFlushesTheLog) {
  const std::filesystem::path logs =
      std::filesystem::temp_directory_path() / ("lf-shutdown-" + std::to_string(::getpid()));
  std::filesystem::remove_all(logs);
  std::filesystem::create_directories(logs);
  // A free port: bind port 0, note it, release it for the child.
  std::uint16_t port = 0;
  {
    auto probe = Socket::listen(InetAddress(0, /*loopback=*/true));
    port = InetAddress::local_of(probe.fd()).port();
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string port_text = std::to_string(port);
    const std::string log_dir = logs.string();
    ::execl(LF_ECHO_PATH, LF_ECHO_PATH, "--host", "127.0.0.1", "--port", port_text.c_str(),
            "--threads", "4", "--log-dir", log_dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const InetAddress address(port, /*loopback=*/true);
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = TestClient(address, std::chrono::milliseconds(100)).connected();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up);

  constexpr int kClients = 100;
  std::atomic<Clock::rep> signal_time{Clock::time_point::max().time_since_epoch().count()};
  std::atomic<std::uint64_t> answered{0}, unanswered{0}, corrupt{0}, after_signal{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      TestClient client(address, std::chrono::seconds(20));
      if (!client.connected()) {
        ++unanswered;
        return;
      }
      std::mt19937_64 random(static_cast<std::uint64_t>(i) + 1);
      for (;;) {
        const std::string request = random_bytes(1 + random() % 8192, random());
        const bool sent = client.send_all(request);
        const bool before_signal = Clock::now().time_since_epoch().count() < signal_time.load();
        const auto reply = sent ? client.recv_exact(request.size()) : std::nullopt;
        if (reply) {
          (*reply == request ? answered : corrupt)++;
          if (!before_signal) ++after_signal;
          continue;
        }
        if (sent && before_signal) ++unanswered;  // sent before the signal: must be answered
        return;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const std::uint64_t answered_before = answered.load();
  const auto start = Clock::now();
  signal_time = start.time_since_epoch().count();
  ASSERT_EQ(::kill(child, SIGTERM), 0);
  for (auto& t : clients) t.join();
  int status = -1;
  while (::waitpid(child, &status, WNOHANG) == 0) {
    if (Clock::now() - start > std::chrono::seconds(30)) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      FAIL() << "lf-echo did not exit within 30 s of SIGTERM";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double exit_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(unanswered.load(), 0u);
  EXPECT_EQ(corrupt.load(), 0u);
  EXPECT_GT(answered_before, 0u);

  // The log: one file, whose last line says the program stopped.
  std::string last_line;
  for (const auto& entry : std::filesystem::directory_iterator(logs)) {
    std::ifstream file(entry.path());
    for (std::string line; std::getline(file, line);) last_line = line;
  }
  EXPECT_NE(last_line.find("lf-echo stopped"), std::string::npos) << last_line;
  std::printf("shutdown: %d clients, %llu requests answered (%llu before SIGTERM, %llu completed "
              "after it), 0 unanswered; exit status 0 %.2f s after SIGTERM\n",
              kClients, static_cast<unsigned long long>(answered.load()),
              static_cast<unsigned long long>(answered_before),
              static_cast<unsigned long long>(after_signal.load()), exit_seconds);
  std::filesystem::remove_all(logs);
}

}  // namespace
}  // namespace lf::test
