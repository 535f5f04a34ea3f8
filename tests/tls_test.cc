// TLS on a listener (ListenOptions::tls): a plaintext handler (lf::EchoConnection) served over TLS
// to real clients: `openssl s_client` (TLS 1.3, 1.2; 1.1 refused; resumption), Python's ssl
// module (a 1 MiB round trip, close_notify both ways), curl and Redis's tools, and hostile ones:
// plaintext bytes on the TLS port, random bytes, damaged and cut records, a handshake that never
// finishes, 1,000 abandoned handshakes, a peer that closes without close_notify. The certificate
// is a self-signed ECDSA P-256 one made by `openssl req` for each run. Every case checks its log
// line, that the server still serves, and that the descriptors come back; the TLS counters of
// /metrics are checked where a case moves them. Also: the heap an idle TLS connection keeps.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/http/http_service.h"
#include "lf/handlers/kv/kv_connection.h"
#include "lf/handlers/kv/kv_store.h"
#include "lf/metrics/metrics.h"
#include "lf/net/inet_address.h"
#include "lf/net/tls_context.h"
#include "lf/server.h"
#include "support/heap.h"
#include "support/models.h"
#include "support/test_client.h"
#include "support/wrk.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

// A temporary directory with the test's certificate, key and client scripts; removed at the end.
class TlsFiles {
 public:
  TlsFiles() {
    char pattern[] = "/tmp/lf-tls-test.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    const std::string made = test::run_shell(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
            key() + " -out " + cert(),
        30);
    // A second key, to show a mismatch is refused.
    (void)test::run_shell(
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out " + other_key(),
        30);
    if (::access(cert().c_str(), R_OK) != 0 || ::access(other_key().c_str(), R_OK) != 0) {
      throw std::runtime_error("openssl could not make a certificate: " + made);
    }
  }
  ~TlsFiles() { (void)test::run_shell("rm -rf " + dir_, 10); }
  TlsFiles(const TlsFiles&) = delete;
  TlsFiles& operator=(const TlsFiles&) = delete;

  [[nodiscard]] std::string cert() const { return dir_ + "/cert.pem"; }
  [[nodiscard]] std::string key() const { return dir_ + "/key.pem"; }
  [[nodiscard]] std::string other_key() const { return dir_ + "/other-key.pem"; }
  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
  // Writes `text` to a file in the directory and returns its path.
  [[nodiscard]] std::string write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

 private:
  std::string dir_;
};

// Says goodbye and half-closes as soon as it is connected: close_notify must follow the bytes.
class Goodbye : public StreamConnection {
 protected:
  void on_connect() override {
    send("bye\n");
    shutdown();
  }
  void on_message(Buffer& input) override { input.retrieve_all(); }
};

class TlsTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::installed("openssl")) return;
    files_ = std::make_unique<TlsFiles>();
  }
  static void TearDownTestSuite() { files_.reset(); }

  void SetUp() override {
    if (files_ == nullptr) GTEST_SKIP() << "openssl is not installed";
  }

  // A server with one TLS listener of Handler on 127.0.0.1 (with listen.tls, or the test
  // certificate's defaults); returns its address.
  template <typename Handler = EchoConnection, typename... Args>
  InetAddress start(ListenOptions listen = {}, Args... args) {
    ServerOptions options;
    options.threads = 2;
    options.handle_signals = false;
    options.model = model_;
    server_ = std::make_unique<Server>(options);
    if (listen.tls == nullptr) {
      listen.tls = TlsContext::create(
          TlsOptions{.cert_chain_file = files_->cert(), .key_file = files_->key(), .alpn = {}});
    }
    const InetAddress address =
        server_->listen<Handler>(InetAddress(0, /*loopback=*/true), listen, args...);
    server_->start();
    fds_at_start_ = test::open_fd_count();
    return address;
  }
  // Every connection closed: the descriptors are those of the idle server again.
  void expect_fds_back() {
    EXPECT_TRUE(test::wait_until([this] { return test::open_fd_count() == fds_at_start_; }))
        << "open fds: " << test::open_fd_count() << ", at start: " << fds_at_start_;
    EXPECT_TRUE(test::wait_until([this] { return server_->connections() == 0; }));
  }
  void stop() {
    if (server_ == nullptr) return;
    server_->stop();
    server_->wait();
    server_.reset();
  }
  void TearDown() override { stop(); }

  // `openssl s_client` sends `line` with the given protocol flag and stays `linger` seconds for
  // the echo; its output (the session summary and what it received).
  static std::string s_client(const InetAddress& address, const std::string& line,
                              const std::string& flags, int linger = 1) {
    return test::run_shell("sh -c '(printf \"" + line + "\\n\"; sleep " + std::to_string(linger) +
                               ") | openssl s_client " + flags + " -no_ign_eof -CAfile " +
                               files_->cert() +
                               " -connect 127.0.0.1:" + std::to_string(address.port()) + "'",
                           20);
  }
  // Runs a Python script (with PORT and CA set) and returns its output.
  static std::string python(const std::string& name, const std::string& script,
                            const InetAddress& address) {
    const std::string path = files_->write(name, "PORT = " + std::to_string(address.port()) +
                                                     "\nCA = '" + files_->cert() + "'\n" + script);
    return test::run_shell("python3 " + path, 60);
  }

  static std::unique_ptr<TlsFiles> files_;
  Model model_ = kDefaultModel;
  std::unique_ptr<Server> server_;
  std::size_t fds_at_start_ = 0;
};

std::unique_ptr<TlsFiles> TlsTest::files_;

// A framework counter's growth from the moment this object is made.
class CounterGrowth {
 public:
  explicit CounterGrowth(metrics::Counter counter)
      : counter_(counter), start_(metrics::snapshot().get(counter)) {}
  [[nodiscard]] std::uint64_t now() const { return metrics::snapshot().get(counter_) - start_; }

 private:
  metrics::Counter counter_;
  std::uint64_t start_;
};

// The opening of every Python client: a context trusting the test's certificate, TLS 1.2+.
constexpr const char* kPythonClient = R"(
import hashlib, os, socket, ssl, sys, threading
context = ssl.create_default_context(cafile=CA)
context.minimum_version = ssl.TLSVersion.TLSv1_2
def connect():
    raw = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    return context.wrap_socket(raw, server_hostname='localhost', suppress_ragged_eofs=False)
def memory_session():
    # A session over memory BIOs, so the test decides how its records go out (damaged, cut,
    # together). Returns after the handshake with the client's Finished still in `outgoing`.
    raw = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname='localhost')
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            incoming.write(raw.recv(65536))
    return raw, tls, incoming, outgoing
def receive(raw, tls, incoming, size):
    # Up to `size` plaintext bytes of a memory_session(): fewer if the server closes or goes
    # silent for the socket's timeout.
    got = b''
    while len(got) < size:
        try:
            got += tls.read(65536)
        except ssl.SSLWantReadError:
            try:
                chunk = raw.recv(65536)
            except socket.timeout:
                return got
            if not chunk:
                return got
            incoming.write(chunk)
    return got
)";

TEST_F(TlsTest, ContextNamesTheFileAndOpenSslsReasonWhenItCannotLoad) {
  try {
    (void)TlsContext::create(TlsOptions{
        .cert_chain_file = "/nonexistent/cert.pem", .key_file = files_->key(), .alpn = {}});
    FAIL() << "a missing certificate was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/cert.pem"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("No such file"), std::string::npos) << error.what();
  }
  try {
    (void)TlsContext::create(
        TlsOptions{.cert_chain_file = files_->cert(), .key_file = files_->other_key(), .alpn = {}});
    FAIL() << "a key that does not match the certificate was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("does not match"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(files_->other_key()), std::string::npos)
        << error.what();
  }
  const std::string garbage = files_->write("garbage.pem", "not a certificate\n");
  EXPECT_THROW((void)TlsContext::create(
                   TlsOptions{.cert_chain_file = garbage, .key_file = files_->key(), .alpn = {}}),
               std::runtime_error);
}

TEST_F(TlsTest, SClientEchoesOverTls13AndTls12) {
  const InetAddress address = start();
  const std::string tls13 = s_client(address, "hello over 1.3", "-tls1_3");
  EXPECT_NE(tls13.find("TLSv1.3"), std::string::npos) << tls13;
  EXPECT_NE(tls13.find("Verify return code: 0 (ok)"), std::string::npos) << tls13;
  EXPECT_NE(tls13.find("hello over 1.3"), std::string::npos) << tls13;
  const std::string tls12 = s_client(address, "hello over 1.2", "-tls1_2");
  EXPECT_NE(tls12.find("TLSv1.2"), std::string::npos) << tls12;
  EXPECT_NE(tls12.find("ECDHE-ECDSA-AES"), std::string::npos) << tls12;
  EXPECT_NE(tls12.find("hello over 1.2"), std::string::npos) << tls12;
  expect_fds_back();
}

TEST_F(TlsTest, Tls11IsRefusedAndTheServerGoesOn) {
  const InetAddress address = start();
  testing::internal::CaptureStderr();  // before log::init(), lines go to stderr at once
  // SECLEVEL=0: OpenSSL 3's client would not even offer TLS 1.1 otherwise.
  const std::string old = s_client(address, "hello over 1.1", "-tls1_1 -cipher DEFAULT@SECLEVEL=0");
  EXPECT_NE(old.find("alert protocol version"), std::string::npos) << old;
  EXPECT_NE(old.find("Cipher is (NONE)"), std::string::npos) << old;
  const std::string again = s_client(address, "still serving", "-tls1_3");
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(again.find("still serving"), std::string::npos) << again;
  EXPECT_NE(log.find("TLS handshake failed"), std::string::npos) << log;
  EXPECT_NE(log.find("unsupported protocol"), std::string::npos) << log;
  expect_fds_back();
}

// The client writes 1 MiB before it reads: the echo fills the socket buffers, so the server's
// SSL_write runs into EAGAIN and its output waits for EPOLLOUT (back-pressure through the
// transport's wants) without a byte lost; then close_notify both ways (unwrap). One thread:
// OpenSSL does not allow one SSL object to read and write from two threads at once.
constexpr const char* kBulkRoundTrip = R"(
s = connect()
data = os.urandom(1 << 20)
s.sendall(data)
got = bytearray()
while len(got) < len(data):
    chunk = s.recv(65536)
    if not chunk:
        break
    got.extend(chunk)
print('version', s.version())
print('match', hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), len(got))
s.unwrap()  # our close_notify, then the server's
print('unwrapped cleanly')
)";

TEST_F(TlsTest, PythonRoundTripsOneMebibyteAndBothSidesCloseCleanly) {
  const InetAddress address = start();
  const std::string out = python("bulk.py", std::string(kPythonClient) + kBulkRoundTrip, address);
  EXPECT_NE(out.find("version TLSv1.3"), std::string::npos) << out;
  EXPECT_NE(out.find("match True 1048576"), std::string::npos) << out;
  EXPECT_NE(out.find("unwrapped cleanly"), std::string::npos) << out;
  expect_fds_back();
}

// The handshake and the wants under every model: one-shot re-arming and edge-triggered epoll
// see different events.
class TlsEveryModel : public TlsTest, public testing::WithParamInterface<Model> {};

TEST_P(TlsEveryModel, BulkEchoAndTls12) {
  model_ = GetParam();
  const InetAddress address = start();
  const std::string out = python("bulk.py", std::string(kPythonClient) + kBulkRoundTrip, address);
  EXPECT_NE(out.find("match True 1048576"), std::string::npos) << out;
  EXPECT_NE(out.find("unwrapped cleanly"), std::string::npos) << out;
  const std::string tls12 = s_client(address, "hello over 1.2", "-tls1_2");
  EXPECT_NE(tls12.find("hello over 1.2"), std::string::npos) << tls12;
  expect_fds_back();
}

// OpenSSL reads ahead (one read takes what the socket holds) and a read stops at a short read
// of the socket without asking it again: records that arrive with the client's Finished, several
// in one segment, one cut in two, and a burst longer than OpenSSL's buffer must all be answered,
// under one-shot and edge-triggered epoll alike.
TEST_P(TlsEveryModel, RecordsArrivingTogetherCutOrInABurstAreAllRead) {
  model_ = GetParam();
  const InetAddress address = start();
  const std::string out = python("records.py", std::string(kPythonClient) + R"(
import time
raw, tls, incoming, outgoing = memory_session()
def expect(want):
    return receive(raw, tls, incoming, len(want)) == want
# 1. The client's Finished and three records in one segment.
for word in (b'one', b'two', b'three'):
    tls.write(word)
raw.sendall(outgoing.read())
print('together', expect(b'onetwothree'))
# 2. One record cut in two, the second part 100 ms later.
tls.write(b'four')
record = outgoing.read()
raw.sendall(record[:7])
time.sleep(0.1)
raw.sendall(record[7:])
print('cut', expect(b'four'))
# 3. 100 records of 1000 bytes in one send: far more than one read ahead takes.
burst = b''.join(bytes([65 + i % 26]) * 1000 for i in range(100))
for i in range(100):
    tls.write(burst[i * 1000:(i + 1) * 1000])
raw.sendall(outgoing.read())
print('burst', expect(burst))
raw.close()
)",
                                 address);
  EXPECT_NE(out.find("together True"), std::string::npos) << out;
  EXPECT_NE(out.find("cut True"), std::string::npos) << out;
  EXPECT_NE(out.find("burst True"), std::string::npos) << out;
  expect_fds_back();
}

// A round reads at most 16 records: records left in OpenSSL's buffer are read in later rounds,
// which need not read the socket. A record that arrives meanwhile is a new edge, which such a
// round takes; it must then still read the socket, not trust a short read of an earlier round.
// The second segment comes 0 to 600 us after the first, across the rounds' window.
TEST_P(TlsEveryModel, ARecordArrivingWhileEarlierOnesWaitInOpensslIsRead) {
  model_ = GetParam();
  const InetAddress address = start();
  const std::string out = python("late.py", std::string(kPythonClient) + R"(
import time
raw, tls, incoming, outgoing = memory_session()
raw.sendall(outgoing.read())
raw.settimeout(3)
stalled = 0
for i in range(60):
    for _ in range(40):
        tls.write(b'x' * 10)
    raw.sendall(outgoing.read())
    time.sleep((i % 7) * 0.0001)
    tls.write(b'late')
    raw.sendall(outgoing.read())
    if not receive(raw, tls, incoming, 404).endswith(b'late'):
        stalled += 1
        break
print('stalled', stalled)
raw.close()
)",
                                 address);
  EXPECT_NE(out.find("stalled 0"), std::string::npos) << out;
  expect_fds_back();
}

INSTANTIATE_TEST_SUITE_P(Models, TlsEveryModel, test::every_model(), test::model_param_name);

TEST_F(TlsTest, CurlGetsARouteAndAStaticFileOverHttps) {
  if (!test::installed("curl")) GTEST_SKIP() << "curl is not installed";
  // 3 MiB and a bit: the static file goes out through send_file, so over TLS through pread and
  // SSL_write in 64 KiB pieces, the last one short.
  const std::string root = files_->dir() + "/www";
  (void)test::run_shell(
      "mkdir -p " + root + " && head -c 3145777 /dev/urandom > " + root + "/big.bin", 10);
  auto service = std::make_shared<HttpService>(HttpOptions{.root = root});
  service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
    response.set_body("Hello, TLS!", "text/plain");
  });
  const InetAddress address =
      start<HttpConnection>(ListenOptions{}, std::shared_ptr<const HttpService>(service));
  const std::string port = std::to_string(address.port());
  const std::string curl = "curl -sS --http1.1 --cacert " + files_->cert() +
                           " --resolve localhost:" + port + ":127.0.0.1 https://localhost:" + port;
  const CounterGrowth handshakes(metrics::Counter::kTlsHandshakes);
  const CounterGrowth by_kernel(metrics::Counter::kTlsFilesByKernel);
  const CounterGrowth by_copy(metrics::Counter::kTlsFilesByCopy);
  EXPECT_EQ(test::run_shell(curl + "/hello", 20), "Hello, TLS!");
  const std::string sums = test::run_shell(
      curl + "/big.bin | sha256sum | cut -c1-64; sha256sum " + root + "/big.bin | cut -c1-64", 30);
  ASSERT_EQ(sums.size(), 130u) << sums;
  EXPECT_EQ(sums.substr(0, 64), sums.substr(65, 64)) << "the file arrived changed";
  EXPECT_EQ(handshakes.now(), 2u) << "one per curl";
  // One file, counted by the way it went: by kernel TLS where the kernel offers it (not on
  // machines without the tls module), else by pread + SSL_write.
  EXPECT_EQ(by_kernel.now() + by_copy.now(), 1u);
  expect_fds_back();
}

// wrk over https: 10 keep-alive connections for a second, every request answered, no socket
// error; one handshake per connection.
TEST_F(TlsTest, WrkOverHttpsGetsEveryAnswer) {
  if (!test::installed("wrk")) GTEST_SKIP() << "wrk is not installed";
  auto service = std::make_shared<HttpService>();
  service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
    response.set_body("Hello, TLS!", "text/plain");
  });
  const InetAddress address =
      start<HttpConnection>(ListenOptions{}, std::shared_ptr<const HttpService>(service));
  const CounterGrowth handshakes(metrics::Counter::kTlsHandshakes);
  const std::string out = test::run_shell(
      "wrk -t1 -c10 -d1s https://127.0.0.1:" + std::to_string(address.port()) + "/hello 2>&1", 30);
  test::expect_wrk_ran_cleanly(out);
  EXPECT_GE(handshakes.now(), 10u) << out;
  expect_fds_back();
}

// The kv handler, unchanged, over TLS to Redis's own tools: redis-cli --tls for single commands
// and redis-benchmark --tls for 20 pipelining clients at once.
TEST_F(TlsTest, RedisCliAndRedisBenchmarkTalkToTheKvStoreOverTls) {
  if (!test::installed("redis-cli") || !test::installed("redis-benchmark")) {
    GTEST_SKIP() << "redis-tools is not installed";
  }
  const InetAddress address =
      start<KvConnection>(ListenOptions{}, std::make_shared<KvStore>(), KvOptions{});
  const std::string tls = " --tls --cacert " + files_->cert() + " -h 127.0.0.1 -p " +
                          std::to_string(address.port()) + " ";
  EXPECT_EQ(test::run_shell("redis-cli" + tls + "set greeting hello", 20), "OK\n");
  EXPECT_EQ(test::run_shell("redis-cli" + tls + "get greeting", 20), "hello\n");
  const std::string benchmark =
      test::run_shell("redis-benchmark" + tls + "-c 20 -n 20000 -P 16 -t set,get -q 2>&1", 120);
  EXPECT_NE(benchmark.find("SET: "), std::string::npos) << benchmark;
  EXPECT_NE(benchmark.find("GET: "), std::string::npos) << benchmark;
  EXPECT_EQ(benchmark.find("rror"), std::string::npos) << benchmark;
  EXPECT_EQ(test::run_shell("redis-cli" + tls + "dbsize", 20), "2\n")
      << "the benchmark's key:__rand_int__ and greeting";
  expect_fds_back();
}

TEST_F(TlsTest, ShutdownSendsCloseNotifyAfterTheLastBytes) {
  const InetAddress address = start<Goodbye>();
  const std::string out = python("goodbye.py", std::string(kPythonClient) + R"(
s = connect()
got = b''
try:
    while True:
        chunk = s.recv(100)
        if not chunk:
            print('clean end')  # close_notify: recv returns b'' (ragged EOFs raise instead)
            break
        got += chunk
except ssl.SSLEOFError as error:
    print('truncated', error)
print('got', got)
)",
                                 address);
  EXPECT_NE(out.find("got b'bye\\n'"), std::string::npos) << out;
  EXPECT_NE(out.find("clean end"), std::string::npos) << out;
  expect_fds_back();
}

TEST_F(TlsTest, PlaintextOnTheTlsPortIsLoggedAndClosed) {
  const InetAddress address = start();
  const CounterGrowth failures(metrics::Counter::kTlsHandshakeFailures);
  testing::internal::CaptureStderr();
  {
    test::TestClient client(address);
    ASSERT_TRUE(client.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(client.wait_for_close()) << "plaintext on the TLS port was not closed";
  }
  const std::string again = s_client(address, "still serving", "-tls1_3");
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(again.find("still serving"), std::string::npos) << again;
  EXPECT_NE(log.find("TLS handshake failed"), std::string::npos) << log;
  EXPECT_NE(log.find("127.0.0.1"), std::string::npos) << log;
  EXPECT_EQ(failures.now(), 1u) << "lf_tls_handshake_failures_total";
  expect_fds_back();
}

TEST_F(TlsTest, AHandshakeThatNeverFinishesIsClosedByTheHandshakeTimeout) {
  ListenOptions listen;
  listen.handshake_timeout = 300ms;
  listen.idle_timeout = 60s;  // not this one: the handshake's own deadline closes it
  const InetAddress address = start(listen);
  testing::internal::CaptureStderr();
  test::TestClient silent(address);
  test::TestClient partial(address);
  ASSERT_TRUE(partial.send_all(std::string("\x16\x03\x01\x02\x00", 5)));  // a record header only
  const auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.wait_for_close());
  EXPECT_TRUE(partial.wait_for_close());
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, 5s);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("TLS handshake timed out after 300 ms"), std::string::npos) << log;
  silent.close();
  partial.close();
  expect_fds_back();
}

TEST_F(TlsTest, AClientHelloSentByteByByteStillCompletesTheHandshake) {
  // Every byte of the client's handshake is its own TCP segment: each read gives OpenSSL a
  // fragment of a record, so the handshake wants read again and again before it completes.
  const InetAddress address = start();
  const std::string out = python("split.py", std::string(kPythonClient) + R"(
import time
raw = socket.create_connection(('127.0.0.1', PORT), timeout=20)
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = context.wrap_bio(incoming, outgoing, server_hostname='localhost')
def pump_out():
    data = outgoing.read()
    for i in range(len(data)):
        raw.send(data[i:i + 1])
        time.sleep(0.0005)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        pump_out()
        incoming.write(raw.recv(65536))
pump_out()
tls.write(b'split hello')
pump_out()
got = b''
while len(got) < 11:
    try:
        got += tls.read(100)
    except ssl.SSLWantReadError:
        incoming.write(raw.recv(65536))
print('version', tls.version(), 'echo', got)
raw.close()
)",
                                 address);
  EXPECT_NE(out.find("echo b'split hello'"), std::string::npos) << out;
  expect_fds_back();
}

// A client that kept its session (a TLS 1.3 ticket, a TLS 1.2 ticket) resumes it: s_client says
// "Reused", and /metrics counts two handshakes of which one resumed, for each version.
TEST_F(TlsTest, AKeptSessionIsResumedAndCountedAsResumed) {
  const InetAddress address = start();
  for (const std::string version : {"-tls1_3", "-tls1_2"}) {
    const CounterGrowth handshakes(metrics::Counter::kTlsHandshakes);
    const CounterGrowth resumed(metrics::Counter::kTlsResumed);
    const std::string session = files_->dir() + "/session" + version;
    const std::string first = s_client(address, "first", version + " -sess_out " + session);
    EXPECT_NE(first.find("New, TLSv1."), std::string::npos) << first;
    const std::string second = s_client(address, "second", version + " -sess_in " + session);
    const std::string reused = version == "-tls1_3" ? "Reused, TLSv1.3" : "Reused, TLSv1.2";
    EXPECT_NE(second.find(reused), std::string::npos) << second;
    EXPECT_NE(second.find("second"), std::string::npos) << second;
    EXPECT_EQ(handshakes.now(), 2u) << version;
    EXPECT_EQ(resumed.now(), 1u) << version;
  }
  expect_fds_back();
}

// Without tickets a session lives in the server's cache. A close that sends no close_notify (here
// the idle timeout; also a reset, a drain or a failed write) must not drop it: OpenSSL evicts the
// session of an SSL freed unshut, which would make every such client pay a full handshake again.
// Since TLS 1.1 a session may be resumed after such a close (RFC 5246, 7.2.1).
TEST_F(TlsTest, ASessionTheServerClosedWithoutCloseNotifyIsStillResumed) {
  ListenOptions listen;
  listen.idle_timeout = 300ms;
  listen.tls = TlsContext::create(TlsOptions{.cert_chain_file = files_->cert(),
                                             .key_file = files_->key(),
                                             .alpn = {},
                                             .session_tickets = false});
  const InetAddress address = start(listen);
  for (const std::string version : {"-tls1_2", "-tls1_3"}) {
    const CounterGrowth idle_closes(metrics::Counter::kIdleTimeouts);
    const std::string session = files_->dir() + "/idle-session" + version;
    // Still reading when the server closes it for idleness.
    const std::string first =
        s_client(address, "first", version + " -sess_out " + session, /*linger=*/2);
    EXPECT_NE(first.find("New, TLSv1."), std::string::npos) << first;
    EXPECT_EQ(idle_closes.now(), 1u) << version << ": the server did not close it for idleness";
    const std::string second = s_client(address, "second", version + " -sess_in " + session);
    const std::string reused = version == "-tls1_3" ? "Reused, TLSv1.3" : "Reused, TLSv1.2";
    EXPECT_NE(second.find(reused), std::string::npos) << version << "\n" << second;
    EXPECT_NE(second.find("second"), std::string::npos) << second;
  }
  expect_fds_back();
}

TEST_F(TlsTest, AThousandAbandonedHandshakesReleaseEverything) {
  constexpr int kClients = 1000;
  if (test::raise_fd_limit(2 * kClients + 64) < 2 * kClients + 64) {
    GTEST_SKIP() << "needs " << 2 * kClients + 64 << " file descriptors";
  }
  ListenOptions listen;
  listen.handshake_timeout = 500ms;
  const InetAddress address = start(listen);
  const CounterGrowth failures(metrics::Counter::kTlsHandshakeFailures);
  testing::internal::CaptureStderr();
  {
    // Half of them leave silently, half after the first bytes of a record; a quarter reset;
    // none finishes.
    std::vector<std::unique_ptr<test::TestClient>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<test::TestClient>(address));
      if (i % 2 == 1) ASSERT_TRUE(clients.back()->send_all(std::string("\x16\x03\x01", 3)));
    }
    for (int i = 0; i < kClients; i += 4) clients[static_cast<std::size_t>(i)]->reset();
  }  // the rest close now
  EXPECT_TRUE(test::wait_until([this] { return server_->connections() == 0; }));
  const std::string again = s_client(address, "still serving", "-tls1_3");
  EXPECT_NE(again.find("still serving"), std::string::npos) << again;
  const std::string log = testing::internal::GetCapturedStderr();  // its file counts as an fd
  EXPECT_NE(log.find("TLS handshake failed"), std::string::npos) << log.substr(0, 2000);
  // Every one failed, by a reset, an EOF or the deadline; none was served.
  EXPECT_EQ(failures.now(), static_cast<std::uint64_t>(kClients));
  expect_fds_back();
}

// Hostile bytes, each on its own connection, while a good client stays connected: random bytes,
// random bytes behind a handshake record's header, a record damaged after the handshake, and a
// record cut short by a FIN. Each hostile connection is closed with its reason in the log; the
// good one still echoes afterwards.
TEST_F(TlsTest, RandomBytesAndDamagedOrCutRecordsCloseOnlyTheirOwnConnection) {
  const InetAddress address = start();
  testing::internal::CaptureStderr();
  const std::string out = python("hostile.py", std::string(kPythonClient) + R"(
def closed_by_server(raw):
    raw.settimeout(10)
    try:
        while raw.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

def established():
    raw, tls, _, outgoing = memory_session()
    raw.sendall(outgoing.read())
    return raw, tls, outgoing

good = connect()
random_closed = 0
for i in range(20):
    raw = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    prefix = b'\x16\x03\x01\x02\x00' if i % 2 else b''
    raw.sendall(prefix + os.urandom(4096))
    random_closed += closed_by_server(raw)
    raw.close()
print('random bytes closed', random_closed)

raw, tls, outgoing = established()
tls.write(b'x' * 1000)
record = bytearray(outgoing.read())
record[len(record) // 2] ^= 0x55
raw.sendall(bytes(record))
print('damaged record closed', closed_by_server(raw))
raw.close()

raw, tls, outgoing = established()
tls.write(b'y' * 1000)
record = outgoing.read()
raw.sendall(record[:len(record) // 2])
raw.shutdown(socket.SHUT_WR)
print('cut record closed', closed_by_server(raw))
raw.close()

good.sendall(b'still here')
print('good echo', good.recv(100))
good.unwrap()
)",
                                 address);
  EXPECT_NE(out.find("random bytes closed 20"), std::string::npos) << out;
  EXPECT_NE(out.find("damaged record closed True"), std::string::npos) << out;
  EXPECT_NE(out.find("cut record closed True"), std::string::npos) << out;
  EXPECT_NE(out.find("good echo b'still here'"), std::string::npos) << out;
  EXPECT_TRUE(test::wait_until([this] { return server_->connections() == 0; }));
  const std::string log = testing::internal::GetCapturedStderr();  // its file counts as an fd
  expect_fds_back();
  EXPECT_NE(log.find("TLS handshake failed"), std::string::npos) << log;
  EXPECT_NE(log.find("TLS read failed"), std::string::npos) << log;
  EXPECT_NE(log.find("bad record mac"), std::string::npos) << log;
  EXPECT_NE(log.find("TLS truncation"), std::string::npos) << log;
}

TEST_F(TlsTest, APeerClosingWithoutCloseNotifyIsReportedAsATruncation) {
  const InetAddress address = start();
  const CounterGrowth truncations(metrics::Counter::kTlsTruncations);
  testing::internal::CaptureStderr();
  const std::string out = python("truncate.py", std::string(kPythonClient) + R"(
s = connect()
s.sendall(b'ping')
print('echo', s.recv(4))
raw = s.detach()  # the TCP socket, without sending close_notify
raw.close()
)",
                                 address);
  EXPECT_NE(out.find("echo b'ping'"), std::string::npos) << out;
  EXPECT_TRUE(test::wait_until([this] { return server_->connections() == 0; }));
  stop();  // the log line is written before the connection closes
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("TLS truncation: the peer closed without close_notify"), std::string::npos)
      << log;
  EXPECT_EQ(truncations.now(), 1u) << "lf_tls_truncations_total";
}

// The resident cost of an idle TLS connection (the target is 48 KiB): the server's heap growth
// (glibc's mallinfo2, OpenSSL allocating through malloc) over 500 connections that each finished
// a handshake and one echo, then stay open and silent. The clients are another process, so only
// the server's memory is counted. SSL_MODE_RELEASE_BUFFERS gives the record buffers back once a
// connection is idle; what stays is the SSL object, its session and the connection itself.
TEST_F(TlsTest, AnIdleTlsConnectionKeepsUnder48KibibytesOfHeap) {
  if (test::kMallocReplaced) GTEST_SKIP() << "the sanitizer's allocator does not feed mallinfo2";
  constexpr int kClients = 500;
  constexpr std::size_t kLimitPerConnection = 48 * 1024;
  if (test::raise_fd_limit(kClients + 64) < kClients + 64) {
    GTEST_SKIP() << "needs " << kClients + 64 << " file descriptors";
  }
  const InetAddress address = start();
  // One connection first, so every thread's first-use allocations are in the baseline.
  const std::string warm = python("warm.py", std::string(kPythonClient) + R"(
s = connect()
s.sendall(b'warm')
print('warm', s.recv(4))
s.unwrap()
)",
                                  address);
  ASSERT_NE(warm.find("warm b'warm'"), std::string::npos) << warm;
  const std::size_t before = test::heap_in_use();
  const std::string done = files_->dir() + "/idle-done";
  const std::string script = files_->write(
      "idle.py", "PORT = " + std::to_string(address.port()) + "\nCA = '" + files_->cert() +
                     "'\nDONE = '" + done + "'\nCLIENTS = " + std::to_string(kClients) + "\n" +
                     kPythonClient + R"(
import time
held = []
for i in range(CLIENTS):
    s = connect()
    s.sendall(b'ping')
    assert s.recv(4) == b'ping'
    held.append(s)
print('ready', flush=True)
deadline = time.time() + 60
while not os.path.exists(DONE) and time.time() < deadline:
    time.sleep(0.05)
)");
  FILE* clients = ::popen(("python3 " + script).c_str(), "r");
  ASSERT_NE(clients, nullptr);
  char line[64] = {};
  const bool ready =
      std::fgets(line, sizeof line, clients) != nullptr && std::string(line).starts_with("ready");
  std::size_t measured = 0;
  if (ready) {
    ASSERT_TRUE(test::wait_until([&] { return server_->connections() == kClients; }));
    // The server gives a connection's buffers back just after its echo: a moment for the last.
    const auto per_connection = [&] {
      const std::size_t now = test::heap_in_use();
      return now > before ? (now - before) / kClients : 0;
    };
    (void)test::wait_until([&] { return per_connection() <= kLimitPerConnection; }, 5s);
    measured = per_connection();
  }
  std::ofstream(done) << "done";
  ::pclose(clients);
  ASSERT_TRUE(ready) << "the clients did not connect: " << line;
  RecordProperty("heap_bytes_per_idle_tls_connection", std::to_string(measured));
  std::printf("heap per idle TLS connection: %zu bytes\n", measured);
  EXPECT_LE(measured, kLimitPerConnection) << "bytes of heap per idle TLS connection";
  expect_fds_back();
}

}  // namespace
}  // namespace lf
