// docs/writing-a-handler.md, "Putting it together: a newsroom": timers, drain, bounded sending
// and metrics in one protocol. Try it: newsroom_server, then a few `nc 127.0.0.1 7400` side by
// side; every line one of them types reaches the others. curl http://127.0.0.1:7401/metrics
// shows the newsroom's counters next to the framework's.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/http/metrics_route.h"
#include "lf/metrics/metric_registry.h"
#include "lf/server.h"

using namespace std::chrono_literals;

// Registered once, before the server starts; every connection gets a copy of the handles.
struct NewsMetrics {
  lf::metrics::CounterHandle published =
      lf::metrics::register_counter("newsroom_lines_total", "Lines published");
  lf::metrics::CounterHandle dropped = lf::metrics::register_counter(
      "newsroom_dropped_total", "Deliveries refused: the reader was too far behind");
};

// Every connected reporter. Publishing sends from the publisher's thread to the others'
// connections, so a reporter that stops reading must not make the server hold an unbounded
// backlog for it: try_send() refuses a line once kMaxBehind bytes wait for that reader.
class Newsroom {
 public:
  static constexpr std::size_t kMaxBehind = 256 * 1024;

  explicit Newsroom(NewsMetrics metrics) : metrics_(std::move(metrics)) {}

  void join(const std::shared_ptr<lf::StreamConnection>& reporter) {
    std::lock_guard lock(mutex_);
    reporters_[reporter.get()] = reporter;
  }
  void leave(const lf::StreamConnection* reporter) {
    std::lock_guard lock(mutex_);
    reporters_.erase(reporter);
  }
  void publish(const lf::StreamConnection* from, std::string_view line) {
    metrics_.published.add();
    std::lock_guard lock(mutex_);  // try_send never blocks: it queues or refuses at once
    for (const auto& [reporter, weak] : reporters_) {
      const auto reader = weak.lock();
      if (reporter == from || reader == nullptr) continue;
      if (!reader->try_send(line, kMaxBehind)) metrics_.dropped.add();
    }
  }

 private:
  NewsMetrics metrics_;
  std::mutex mutex_;
  std::unordered_map<const lf::StreamConnection*, std::weak_ptr<lf::StreamConnection>> reporters_;
};

// One connection: every line it sends goes to the others. A reporter silent for a minute gets a
// reminder, one silent for five is let go; when the server stops, everyone hears it.
class Reporter : public lf::StreamConnection {
 public:
  explicit Reporter(std::shared_ptr<Newsroom> room) : room_(std::move(room)) {}

 protected:
  void on_connect() override {
    room_->join(std::static_pointer_cast<lf::StreamConnection>(shared_from_this()));
    send("welcome to the newsroom\n");
    // A periodic timer's callback runs like a hook: it may use the members without a lock.
    start_periodic(1min, [this] {
      if (++quiet_minutes_ == 5) {
        send("five quiet minutes: goodbye\n");
        shutdown();
      } else if (quiet_minutes_ == 1) {
        send("still there? type something\n");
      }
    });
  }
  void on_message(lf::Buffer& input) override {
    while (const char* eol = input.find_eol()) {
      room_->publish(this, std::string_view(input.peek(), eol + 1 - input.peek()));
      input.retrieve_until(eol + 1);
      quiet_minutes_ = 0;
    }
  }
  void on_drain() override {  // the server is stopping
    send("the newsroom is closing\n");
    shutdown();  // written after what is queued, before the FIN
  }
  void on_close() override { room_->leave(this); }  // timers are already cancelled here

 private:
  std::shared_ptr<Newsroom> room_;
  int quiet_minutes_ = 0;
};

// newsroom_server [PORT]: the room on 127.0.0.1:PORT (default 7400), /metrics on PORT + 1.
int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::stoi(argv[1]) : 7400);
  auto room = std::make_shared<Newsroom>(NewsMetrics{});
  lf::Server server;
  server.listen<Reporter>(lf::InetAddress(port, /*loopback=*/true), lf::ListenOptions{}, room);
  auto http = std::make_shared<lf::HttpService>();
  lf::add_metrics_route(http->router());
  server.listen<lf::HttpConnection>(lf::InetAddress(static_cast<std::uint16_t>(port + 1), true),
                                    lf::ListenOptions{},
                                    std::shared_ptr<const lf::HttpService>(http));
  server.run();  // until SIGINT or SIGTERM: then every reporter gets on_drain()
}
