// Slow keep-alive downloads: a response that takes longer to write than the request-head timeout
// is delivered whole, and the connection is reused afterwards (the head timeout starts when the
// previous response has been written, not when it was queued). Real client: curl --limit-rate.
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "http/http_test_util.h"
#include "support/models.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

// An HTTP server over a folder with big.bin (`file_size` bytes) and small.txt, under `model`.
// The file is larger than what the kernel's socket buffers hold on loopback (up to about 10 MiB
// in all), so the server is still writing long after the head timeout.
class SlowDownload : public ::testing::TestWithParam<Model> {
 protected:
  void serve(std::size_t file_size, std::chrono::milliseconds header_timeout) {
    file_ = test::random_bytes(file_size, 3);
    dir_.write("big.bin", file_);
    dir_.write("small.txt", "small\n");
    HttpOptions options;
    options.root = dir_.path().string();
    options.header_timeout = header_timeout;
    options.linger_timeout = 200ms;
    ServerOptions server_options;
    server_options.model = GetParam();
    server_options.threads = 4;
    server_options.handle_signals = false;
    server_ = std::make_unique<Server>(server_options);
    address_ = server_->listen<HttpConnection>(InetAddress(0, /*loopback=*/true), ListenOptions{},
                                               std::make_shared<const HttpService>(options));
    server_->start();
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    server_->wait();
  }
  [[nodiscard]] std::string url(std::string_view path) const {
    return "http://" + address_.to_string() + std::string(path);
  }

  TempDir dir_;
  std::string file_;
  std::unique_ptr<Server> server_;
  InetAddress address_;
};

// RFC 9112 9.3 (persistence): a response with Content-Length is delivered whole and the
// connection stays usable, however slowly the client reads.
TEST_P(SlowDownload, CurlDownloadSlowerThanTheHeadTimeoutIsWholeAndTheConnectionIsReused) {
  if (GetParam() != kDefaultModel && GetParam() != Model::kReactor) {
    GTEST_SKIP() << "4 s each: the default model and the reactor are enough for a handler fix";
  }
  // The head timeout is longer than curl needs to read what the kernel buffers once the server
  // has written the file (the connection is idle then), far shorter than the download.
  serve(32 * 1024 * 1024, 1500ms);
  const std::filesystem::path got = dir_.path() / "got.bin";
  // 32 MiB at 8 MiB/s: about 4 s, over twice the head timeout. Both URLs share a connection.
  const test::CommandResult result = test::curl(
      "--limit-rate 8M -o " + got.string() + " -o /dev/null -w '%{http_code} %{size_download} "
      "%{num_connects}\\n' " + url("/big.bin") + " " + url("/small.txt"));
  ASSERT_EQ(result.exit_code, 0) << "curl failed (18 is a truncated transfer): " << result.output;
  EXPECT_EQ(result.output, "200 " + std::to_string(file_.size()) + " 1\n200 6 0\n")
      << "expected the whole file, then the second request on the same connection";
  std::ifstream in(got, std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(body == file_) << "the downloaded file differs";
}

// A request pipelined behind a slow download waits for it, then gets its own answer.
TEST_P(SlowDownload, RequestPipelinedBehindASlowDownloadIsAnsweredAfterIt) {
  serve(20 * 1024 * 1024, 300ms);
  test::TestClient client(address_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send_all("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Read 128 KiB every 10 ms: about 2 s in all; the request answered second was read before
  // the first answer was written, so it is answered whatever the head timeout.
  std::string received;
  std::vector<char> chunk(128 * 1024);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (received.find("small\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    pollfd p{client.fd(), POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    const ssize_t n = ::recv(client.fd(), chunk.data(), chunk.size(), 0);
    if (n <= 0) break;  // closed or reset: the bug
    received.append(chunk.data(), static_cast<std::size_t>(n));
  }
  const std::size_t first_end = received.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos);
  EXPECT_TRUE(received.starts_with("HTTP/1.1 200 "));
  ASSERT_GE(received.size(), first_end + 4 + file_.size());
  EXPECT_TRUE(received.compare(first_end + 4, file_.size(), file_) == 0) << "the file differs";
  const std::string second = received.substr(first_end + 4 + file_.size());
  EXPECT_TRUE(second.starts_with("HTTP/1.1 200 ")) << second.substr(0, 80);
  EXPECT_TRUE(second.ends_with("\r\n\r\nsmall\n")) << second;
  EXPECT_EQ(second.find("Connection: close"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(http_download, SlowDownload, test::every_model(),
                         test::model_param_name);

}  // namespace
}  // namespace lf
