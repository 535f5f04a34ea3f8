// The concurrency models (lf/models/model.h): names, the reactor's round-robin assignment of connections
// to loops, and, under every model, that one handler is never processed by two threads at once
// while clients, foreign threads and notify() all make it ready.
#include "support/models.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/server.h"
#include "support/overlap_probe.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

TEST(ModelTest, NamesRoundTrip) {
  EXPECT_EQ(all_models().size(), 7u);
  for (const Model model : all_models()) EXPECT_EQ(parse_model(to_string(model)), model);
  EXPECT_EQ(parse_model("lf"), Model::kLeaderFollowers);
  EXPECT_EQ(parse_model("reactor"), Model::kReactor);
  EXPECT_EQ(parse_model("lf-handoff"), Model::kLeaderFollowersHandOff);
  EXPECT_FALSE(parse_model("LF").has_value());
  EXPECT_FALSE(parse_model("").has_value());
  EXPECT_EQ(ServerOptions{}.model, kDefaultModel);
  EXPECT_EQ(kDefaultModel, Model::kLeaderFollowersEdge);
}

// Which threads processed a connection, and whether two ever did so at once.
struct Probe {
  std::mutex mutex;
  std::set<std::thread::id> threads;       // over every connection
  std::atomic<int> overlaps{0};            // processing that found another one in progress
  std::atomic<int> connections_on_one_thread{0};
  std::atomic<int> connections_on_many_threads{0};
};

// Echoes, and checks in every hook (connect, messages, write completion, peer close, drain,
// close) that no other thread is inside this handler. on_message blocks briefly, so that events
// for other connections queue up meanwhile and other threads must take them.
class ExclusiveEcho : public StreamConnection {
 public:
  explicit ExclusiveEcho(std::shared_ptr<Probe> probe) : probe_(std::move(probe)) {}

 protected:
  void on_connect() override { const test::OverlapProbe::Inside inside(overlap_); }
  void on_message(Buffer& input) override {
    const test::OverlapProbe::Inside inside(overlap_);
    threads_.insert(std::this_thread::get_id());
    std::this_thread::sleep_for(200us);
    send(input);
  }
  void on_write_complete() override { const test::OverlapProbe::Inside inside(overlap_); }
  void on_peer_closed() override { const test::OverlapProbe::Inside inside(overlap_); }
  void on_drain() override {
    const test::OverlapProbe::Inside inside(overlap_);
    StreamConnection::on_drain();
  }
  void on_close() override {
    const test::OverlapProbe::Inside inside(overlap_);
    (threads_.size() == 1 ? probe_->connections_on_one_thread
                          : probe_->connections_on_many_threads)
        .fetch_add(1);
    std::lock_guard lock(probe_->mutex);
    probe_->threads.insert(threads_.begin(), threads_.end());
  }

 private:
  std::shared_ptr<Probe> probe_;
  test::OverlapProbe overlap_{probe_->overlaps};
  std::set<std::thread::id> threads_;  // only touched by hooks, which never overlap
};

ServerOptions model_options(Model model, std::size_t threads) {
  ServerOptions options;
  options.model = model;
  options.threads = threads;
  options.handle_signals = false;
  return options;
}

class ModelExclusion : public ::testing::TestWithParam<Model> {};

TEST_P(ModelExclusion, OneHandlerNeverRunsOnTwoThreadsAtOnce) {
  constexpr int kClients = 8;
  constexpr int kRounds = 100;
  auto probe = std::make_shared<Probe>();
  Server server(model_options(GetParam(), 4));
  const InetAddress address = server.listen(
      InetAddress(0, true), [probe] { return std::make_shared<ExclusiveEcho>(probe); });
  server.start();

  // Foreign threads keep making every connection ready through notify(), the path send() from
  // another thread takes, while the clients' own traffic makes it ready through epoll.
  std::atomic<bool> done{false};
  std::vector<std::thread> notifiers;
  for (int t = 0; t < 2; ++t) {
    notifiers.emplace_back([&] {
      while (!done.load()) {
        for (HandleSet* set : server.dispatcher().handle_sets()) {
          for (const auto& handler : set->handlers()) handler->notify(event::kWake);
        }
        std::this_thread::yield();
      }
    });
  }
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      test::TestClient client(address, 10s);
      for (int r = 0; r < kRounds; ++r) {
        const std::string message = "client " + std::to_string(c) + " round " + std::to_string(r);
        if (!client.send_all(message) || client.recv_exact(message.size()) != message) {
          failures.fetch_add(1);
          return;
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  done = true;
  for (auto& notifier : notifiers) notifier.join();
  server.stop();
  server.wait();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(probe->overlaps.load(), 0) << "a handler was processed by two threads at once";
  EXPECT_EQ(probe->connections_on_one_thread.load() + probe->connections_on_many_threads.load(),
            kClients);
  switch (GetParam()) {
    case Model::kSingle:
      EXPECT_EQ(probe->threads.size(), 1u);
      break;
    case Model::kReactor:
      // A connection lives on its loop: every hook of it runs on that loop's thread.
      EXPECT_EQ(probe->connections_on_many_threads.load(), 0);
      EXPECT_EQ(probe->threads.size(), 4u);
      break;
    case Model::kLeaderFollowersHandOff:
      EXPECT_GE(probe->threads.size(), 2u);
      EXPECT_GT(server.thread_set().stats().hand_offs, 0u) << "the leader never handed an event off";
      break;
    default:
      // A pool: connections move between threads, yet never run on two at once.
      EXPECT_GE(probe->threads.size(), 2u);
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(models, ModelExclusion, test::every_model(), test::model_param_name);

// reactor: connection k goes to loop k mod N, and listeners and timers stay on the acceptor loop.
TEST(ReactorTest, ConnectionsAreAssignedToLoopsRoundRobin) {
  constexpr std::size_t kLoops = 3;
  Server server(model_options(Model::kReactor, kLoops));
  const InetAddress address = server.listen<EchoConnection>(InetAddress(0, true));
  server.start();
  const std::vector<HandleSet*> sets = server.dispatcher().handle_sets();
  ASSERT_EQ(sets.size(), 1 + kLoops);
  EXPECT_EQ(server.dispatcher().threads(), 1 + kLoops);

  std::vector<std::unique_ptr<test::TestClient>> clients;
  for (std::size_t i = 0; i < 2 * kLoops; ++i) {
    clients.push_back(std::make_unique<test::TestClient>(address, 10s));
    // Echoed: the connection is accepted and registered before the next one connects.
    ASSERT_TRUE(clients.back()->send_all("x"));
    ASSERT_EQ(clients.back()->recv_exact(1), "x");
    for (std::size_t loop = 0; loop < kLoops; ++loop) {
      const std::size_t expected = (i + 1) / kLoops + (loop < (i + 1) % kLoops ? 1 : 0);
      EXPECT_EQ(sets[1 + loop]->size(), expected) << "after " << i + 1 << " connections";
    }
  }
  EXPECT_EQ(sets[0]->size(), 2u) << "the acceptor loop holds the listener and the timers only";
  EXPECT_EQ(server.connections(), 2 * kLoops);
  EXPECT_THROW(static_cast<void>(server.thread_set()), std::logic_error);
  clients.clear();
  server.stop();
  server.wait();
  EXPECT_EQ(server.connections(), 0u);
}

}  // namespace
}  // namespace lf
