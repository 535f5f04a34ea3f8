// docs/writing-a-handler.md, "Metrics of your own". Try: nc 127.0.0.1 7300, type a few lines,
// then curl http://127.0.0.1:7301/metrics
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/http/metrics_route.h"
#include "lf/metrics/metric_registry.h"
#include "lf/server.h"

// Registered once, before the server starts; every connection gets a copy of the handles.
struct LineMetrics {
  lf::metrics::CounterHandle text =
      lf::metrics::register_counter("lines_total", "Lines answered, by kind", {{"kind", "text"}});
  lf::metrics::CounterHandle empty =
      lf::metrics::register_counter("lines_total", "Lines answered, by kind", {{"kind", "empty"}});
  lf::metrics::HistogramHandle duration = lf::metrics::register_histogram(
      "line_duration_seconds", "Time to answer a line");  // buckets: kDefaultLatencyBuckets
};

// Answers every line with its length in bytes.
class LineLength : public lf::StreamConnection {
 public:
  explicit LineLength(LineMetrics metrics) : metrics_(std::move(metrics)) {}

 protected:
  void on_message(lf::Buffer& input) override {
    while (const char* eol = input.find_eol()) {
      const auto started = std::chrono::steady_clock::now();
      const auto length = eol - input.peek();
      send(std::to_string(length) + "\n");
      input.retrieve_until(eol + 1);
      (length == 0 ? metrics_.empty : metrics_.text).add();  // this thread's own cell, no lock
      metrics_.duration.observe(std::chrono::steady_clock::now() - started);
    }
  }

 private:
  LineMetrics metrics_;
};

int main() {
  lf::Server server;
  server.listen<LineLength>(lf::InetAddress(7300), lf::ListenOptions{}, LineMetrics{});
  auto http = std::make_shared<lf::HttpService>();
  lf::add_metrics_route(http->router());  // the framework's metrics and yours
  server.listen<lf::HttpConnection>(lf::InetAddress(7301), lf::ListenOptions{},
                                    std::shared_ptr<const lf::HttpService>(http));
  server.run();
}
