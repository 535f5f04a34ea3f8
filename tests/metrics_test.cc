// Metrics: per-thread counters summed on read (including threads that have exited), the
// Prometheus rendering, and the framework's own counting of real traffic.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "echo/echo_connection.h"
#include "lf/metrics.h"
#include "support/test_client.h"

namespace lf {
namespace {

using metrics::Counter;

TEST(MetricsTest, SumsEveryThreadIncludingExitedOnes) {
  const auto before = metrics::snapshot();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 10000; ++i) metrics::add(Counter::kTimersFired);
      metrics::add(Counter::kBytesIn, 1000);
    });
  }
  // Read while they run: never more than the final total.
  EXPECT_LE(metrics::snapshot().get(Counter::kTimersFired) - before.get(Counter::kTimersFired),
            40000u);
  for (auto& t : threads) t.join();
  const auto after = metrics::snapshot();
  EXPECT_EQ(after.get(Counter::kTimersFired) - before.get(Counter::kTimersFired), 40000u);
  EXPECT_EQ(after.get(Counter::kBytesIn) - before.get(Counter::kBytesIn), 4000u);
}

TEST(MetricsTest, PrometheusTextFormat) {
  const std::string text = metrics::to_prometheus(metrics::snapshot().samples());
  std::istringstream lines(text);
  const std::regex help(R"(# HELP lf_[a-z_]+ .+)");
  const std::regex type(R"(# TYPE lf_[a-z_]+ (counter|gauge))");
  const std::regex value(R"(lf_[a-z_]+ [0-9.e+-]+)");
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    ASSERT_TRUE(std::regex_match(line, help)) << line;
    ASSERT_TRUE(std::getline(lines, line));
    ASSERT_TRUE(std::regex_match(line, type)) << line;
    ASSERT_TRUE(std::getline(lines, line));
    ASSERT_TRUE(std::regex_match(line, value)) << line;
    ++samples;
  }
  EXPECT_EQ(samples, static_cast<int>(metrics::snapshot().samples().size()));
  EXPECT_NE(text.find("lf_bytes_in_total "), std::string::npos);
  EXPECT_NE(text.find("# TYPE lf_connections_open gauge"), std::string::npos);
}

TEST(MetricsTest, CountsRealTraffic) {
  const auto before = metrics::snapshot();
  {
    test::BackgroundServer<EchoConnection> server;
    test::TestClient client(server.address());
    ASSERT_TRUE(client.connected());
    const std::string message = test::random_bytes(100000, 7);
    ASSERT_TRUE(client.send_all(message));
    ASSERT_EQ(client.recv_exact(message.size()), message);
    client.close();
    server.stop();
  }
  const auto after = metrics::snapshot();
  EXPECT_EQ(after.get(Counter::kBytesIn) - before.get(Counter::kBytesIn), 100000u);
  EXPECT_EQ(after.get(Counter::kBytesOut) - before.get(Counter::kBytesOut), 100000u);
  EXPECT_EQ(after.get(Counter::kConnectionsOpened) - before.get(Counter::kConnectionsOpened), 1u);
  EXPECT_EQ(after.get(Counter::kConnectionsClosed) - before.get(Counter::kConnectionsClosed), 1u);
  EXPECT_GT(after.get(Counter::kEventsDispatched), before.get(Counter::kEventsDispatched));
  const auto role = [](const metrics::Snapshot& s, metrics::Role r) {
    return s.role_ns[static_cast<std::size_t>(r)];
  };
  EXPECT_GT(role(after, metrics::Role::kLeading), role(before, metrics::Role::kLeading));
  EXPECT_GT(role(after, metrics::Role::kProcessing), role(before, metrics::Role::kProcessing));
}

}  // namespace
}  // namespace lf
