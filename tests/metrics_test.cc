// Metrics: per-thread counters summed on read (including threads that have exited), the
// Prometheus rendering, the framework's own counting of real traffic, and /metrics fetched over
// HTTP with the HTTP and key-value latency histograms in it, checked strictly here and parsed by
// prometheus_client (python3-prometheus-client) when it is installed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "http/http_test_util.h"
#include "lf/metrics/metric_registry.h"
#include "lf/metrics/metrics.h"
#include "support/kv_server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using metrics::Counter;

// The Prometheus text format (0.0.4), strictly: one HELP and one TYPE line per family, before its
// samples, never repeated; samples named after their family (a histogram's _bucket, _sum and
// _count); well-formed, escaped labels; values that parse; no series twice; histogram buckets
// with increasing le, cumulative counts, +Inf last and _count equal to it. Returns the first
// problem found, or "".
std::string prometheus_format_problem(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
  static const std::regex sample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^\n]*)\})? ([^ ]+))");
  static const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)")re");
  struct Buckets {
    double last_le = -INFINITY;
    double last_count = 0;
    bool inf = false;
  };
  if (text.empty() || text.back() != '\n') return "does not end with a newline";
  std::istringstream lines(text);
  std::string line;
  std::set<std::string> families;
  std::set<std::string> series;
  std::map<std::string, Buckets> histograms;  // by labels without le
  std::string family;
  std::string family_type;
  bool help_seen = false;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      if (!families.insert(m[1]).second) return "family twice: " + line;
      family = m[1];
      family_type.clear();
      help_seen = true;
      continue;
    }
    if (std::regex_match(line, m, type)) {
      if (!help_seen || m[1] != family || !family_type.empty()) return "TYPE out of place: " + line;
      family_type = m[2];
      continue;
    }
    if (!std::regex_match(line, m, sample)) return "not a sample: " + line;
    if (family_type.empty()) return "sample before its TYPE: " + line;
    const std::string name = m[1];
    const bool histogram = family_type == "histogram";
    if (histogram
            ? name != family + "_bucket" && name != family + "_sum" && name != family + "_count"
            : name != family) {
      return "sample outside its family " + family + ": " + line;
    }
    std::string labels = m[3];
    std::string le;
    std::string other_labels;
    for (auto it = labels.cbegin(); it != labels.cend();) {
      std::smatch lm;
      if (!std::regex_search(it, labels.cend(), lm, label,
                             std::regex_constants::match_continuous)) {
        return "bad labels: " + line;
      }
      if (lm[1] == "le") {
        le = lm[2];
      } else {
        other_labels += lm.str() + ",";
      }
      it = lm[0].second;
      if (it != labels.cend() && *it++ != ',') return "bad label separator: " + line;
    }
    const std::string value_text = m[4];
    char* end = nullptr;
    const double value = std::strtod(value_text.c_str(), &end);
    if (value_text.empty() || *end != '\0') return "bad value: " + line;
    if (!series.insert(name + "{" + labels + "}").second) return "series twice: " + line;
    if (!histogram) continue;
    Buckets& buckets = histograms[family + "{" + other_labels + "}"];
    if (name == family + "_bucket") {
      char* le_end = nullptr;
      const double bound = std::strtod(le.c_str(), &le_end);
      if (le.empty() || *le_end != '\0' || bound <= buckets.last_le || buckets.inf ||
          value < buckets.last_count) {
        return "bucket out of order: " + line;
      }
      buckets = {bound, value, le == "+Inf"};
    } else if (name == family + "_count" && (!buckets.inf || value != buckets.last_count)) {
      return "_count without a matching +Inf bucket: " + line;
    }
  }
  for (const auto& [name, buckets] : histograms) {
    if (!buckets.inf) return "histogram without +Inf: " + name;
  }
  return "";
}

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

TEST(MetricsTest, FormatCheckerCatchesBrokenText) {
  EXPECT_EQ(prometheus_format_problem(metrics::prometheus_text()), "");
  const std::string head = "# HELP h_seconds h\n# TYPE h_seconds histogram\n";
  EXPECT_EQ(prometheus_format_problem(head + "h_seconds_bucket{le=\"1\"} 1\n"
                                             "h_seconds_bucket{le=\"+Inf\"} 2\n"
                                             "h_seconds_sum 3\nh_seconds_count 2\n"),
            "");
  EXPECT_NE(prometheus_format_problem(head + "h_seconds_bucket{le=\"1\"} 1\n"
                                             "h_seconds_count 1\n"),
            "");
  EXPECT_NE(prometheus_format_problem(head + "h_seconds_bucket{le=\"+Inf\"} 1\n"
                                             "h_seconds_count 2\n"),
            "");
  EXPECT_NE(prometheus_format_problem("# HELP a h\n# TYPE a gauge\na{x=\"1} 1\n"), "");
  EXPECT_NE(prometheus_format_problem("# HELP a h\n# TYPE a gauge\nb 1\n"), "");
  EXPECT_NE(prometheus_format_problem("# HELP a h\n# TYPE a gauge\na 1x\n"), "");
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

// /metrics over a real HTTP GET, after HTTP requests and key-value commands have been timed.
class MetricsEndpoint : public ::testing::Test {
 protected:
  MetricsEndpoint() : http_(make_service()) {}

  static std::shared_ptr<HttpService> make_service() {
    auto service = std::make_shared<HttpService>();
    service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
      response.set_body("hello", "text/plain");
    });
    add_metrics_route(service->router());
    return service;
  }
  // The series the handlers observe into (registering returns the same one).
  static metrics::HistogramHandle http_series(const std::string& status_class) {
    return metrics::register_histogram("lf_http_request_duration_seconds", "",
                                       {{"method", "GET"}, {"status_class", status_class}});
  }
  static metrics::HistogramHandle kv_series(const std::string& command) {
    return metrics::register_histogram("lf_kv_command_duration_seconds", "",
                                       {{"command", command}});
  }

  // Three pipelined GETs (two found, one not) and three key-value commands; then GET /metrics.
  std::string traffic_then_scrape() {
    const std::uint64_t ok_before = http_series("2xx").count();
    const std::uint64_t missing_before = http_series("4xx").count();
    const std::uint64_t set_before = kv_series("set").count();
    const std::uint64_t get_before = kv_series("get").count();
    {
      test::TestClient client(http_.address());
      EXPECT_TRUE(
          client.send_all("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"
                          "GET /missing HTTP/1.1\r\nHost: h\r\n\r\n"
                          "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"));
      test::ResponseReader reader(client.fd());
      for (const int status : {200, 404, 200}) {
        const auto response = reader.next();
        EXPECT_TRUE(response && response->status == status);
      }
    }
    {
      test::TestClient client(kv_.address());
      const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
      const std::string get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
      EXPECT_TRUE(client.send_all(set + get + set));
      EXPECT_EQ(client.recv_exact(17), "+OK\r\n$1\r\nv\r\n+OK\r\n");
    }
    // Each observation is made before its answer is written, so all are in by now.
    EXPECT_EQ(http_series("2xx").count() - ok_before, 2u);
    EXPECT_EQ(http_series("4xx").count() - missing_before, 1u);
    EXPECT_EQ(kv_series("set").count() - set_before, 2u);
    EXPECT_EQ(kv_series("get").count() - get_before, 1u);

    const auto response = test::curl_response(http_.url("/metrics"));
    EXPECT_TRUE(response && response->status == 200);
    return response ? response->body : std::string();
  }

  test::HttpTestServer http_;
  test::KvServer kv_;
};

TEST_F(MetricsEndpoint, ServesLatencyHistogramsInStrictPrometheusFormat) {
  const std::string body = traffic_then_scrape();
  EXPECT_EQ(prometheus_format_problem(body), "") << body;
  for (const char* part :
       {"# TYPE lf_connections_total counter\n",
        "# TYPE lf_http_request_duration_seconds histogram\n",
        "lf_http_request_duration_seconds_bucket{method=\"GET\",status_class=\"2xx\",le=\"+Inf\"} ",
        "lf_http_request_duration_seconds_count{method=\"GET\",status_class=\"4xx\"} ",
        "# TYPE lf_kv_command_duration_seconds histogram\n",
        "lf_kv_command_duration_seconds_bucket{command=\"set\",le=\"1e-05\"} ",
        "lf_kv_command_duration_seconds_sum{command=\"get\"} "}) {
    EXPECT_NE(body.find(part), std::string::npos) << part << " not in\n" << body;
  }
}

TEST_F(MetricsEndpoint, ParsesWithPrometheusClient) {
  // Debian's python3-prometheus-client (install-deps.sh), in the system's python.
  if (test::run_command("/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null")
          .exit_code != 0) {
    GTEST_SKIP() << "python3-prometheus-client is not installed";
  }
  const std::string body = traffic_then_scrape();
  const test::TempDir dir;
  const auto file = dir.write("metrics.txt", body);
  const auto result = test::run_command(
      "/usr/bin/python3 -c '\n"
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      "    print(family.name, family.type, len(family.samples))\n' " +
      file.string() + " 2>&1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("lf_http_request_duration_seconds histogram "), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("lf_kv_command_duration_seconds histogram "), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("lf_connections_open gauge 1"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace lf
