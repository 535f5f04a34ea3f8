// TLS on the connect side (ConnectOptions::tls, TlsContext::create_client): lf's Connector
// against an lf TLS server (bytes both ways, on_connect() after the handshake, ALPN) and against
// `openssl s_server`; certificates the client must refuse (expired, another host's, signed by a
// CA it does not trust) each fail the connect with the verifier's reason and leave no descriptor
// behind; a server that never answers the handshake times out. Then ProxyConnection terminating
// TLS, originating it, and both, driven by curl and a plain socket. The certificates come from a
// test CA made with `openssl req` / `openssl ca` for each run; everything is on 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "lf/base/unique_fd.h"
#include "lf/handlers/echo/echo_connection.h"
#include "lf/handlers/http/http_connection.h"
#include "lf/handlers/http/http_service.h"
#include "lf/handlers/proxy/proxy_connection.h"
#include "lf/metrics/metrics.h"
#include "lf/net/inet_address.h"
#include "lf/net/tls_context.h"
#include "lf/server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

// A test CA and three server certificates it signed: a good one for localhost and 127.0.0.1, an
// expired one (valid in 2020 only: `openssl ca -startdate -enddate`, since OpenSSL 3.0's x509
// has no -not_after), and the good one's key for both. Removed at the end.
class CaFiles {
 public:
  CaFiles() {
    char pattern[] = "/tmp/lf-tls-client-test.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    write("ca.cnf", "[ca]\ndefault_ca = test\n[test]\nunique_subject = no\ndatabase = " + dir_ +
                        "/index.txt\nserial = " + dir_ + "/serial\nnew_certs_dir = " + dir_ +
                        "\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
                        "[any]\ncommonName = supplied\n");
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
    const std::string ca = "openssl ca -batch -notext -config " + path("ca.cnf") + " -cert " +
                           ca_cert() + " -keyfile " + path("ca-key.pem");
    write("make.sh",
          "cd " + dir_ + " && touch index.txt && echo 01 > serial && " + "openssl req -x509" + ec +
              "-days 2 -subj /CN=lf-test-ca -keyout ca-key.pem -out " + ca_cert() +
              " && openssl req" + ec + "-subj /CN=localhost " +
              "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + key() +
              " -out leaf.csr && " + ca + " -days 2 -in leaf.csr -out " + cert() + " && " + ca +
              " -startdate 20200101000000Z -enddate 20200201000000Z -in leaf.csr -out " +
              expired_cert() + " 2>&1\n");
    const std::string made = test::run_shell("sh " + path("make.sh"), 60);
    for (const std::string& file : {ca_cert(), cert(), expired_cert(), key()}) {
      if (::access(file.c_str(), R_OK) != 0) {
        throw std::runtime_error("openssl could not make the test certificates: " + made);
      }
    }
  }
  ~CaFiles() { (void)test::run_shell("rm -rf " + dir_, 10); }
  CaFiles(const CaFiles&) = delete;
  CaFiles& operator=(const CaFiles&) = delete;

  [[nodiscard]] std::string ca_cert() const { return path("ca.pem"); }
  [[nodiscard]] std::string cert() const { return path("cert.pem"); }
  [[nodiscard]] std::string expired_cert() const { return path("expired.pem"); }
  [[nodiscard]] std::string key() const { return path("key.pem"); }
  [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
  }

 private:
  std::string dir_;
};

// What a client connection saw, read by the test thread.
struct Seen {
  std::mutex mutex;
  bool connected = false;
  std::string alpn_at_connect;  // known only once the handshake is complete
  bool resumed_at_connect = false;
  std::string received;
};

// Sends `greeting` from on_connect() and records what comes back.
class RecordingClient : public StreamConnection {
 public:
  RecordingClient(std::shared_ptr<Seen> seen, std::string greeting)
      : seen_(std::move(seen)), greeting_(std::move(greeting)) {}

 protected:
  void on_connect() override {
    {
      std::lock_guard lock(seen_->mutex);
      seen_->connected = true;
      seen_->alpn_at_connect = tls_alpn();
      seen_->resumed_at_connect = tls_resumed();
    }
    send(greeting_);
  }
  void on_message(Buffer& input) override {
    std::lock_guard lock(seen_->mutex);
    seen_->received.append(input.view());
    input.retrieve_all();
  }

 private:
  std::shared_ptr<Seen> seen_;
  std::string greeting_;
};

// A socket bound to a free port of 127.0.0.1; listening if asked to.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listening) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        (listening && ::listen(fd_.get(), 4) != 0) ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot bind a socket on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
  }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] InetAddress address() const { return *InetAddress::parse("127.0.0.1", port_); }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::uint16_t port_ = 0;
};

// A free port for a program that must be told one (released again at once).
std::uint16_t free_port() { return LoopbackSocket(/*listening=*/false).port(); }

// A listener nobody accepts from: the kernel completes TCP, then nothing speaks TLS.
class SilentListener : public LoopbackSocket {
 public:
  SilentListener() : LoopbackSocket(/*listening=*/true) {}
};

class TlsClientTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::installed("openssl")) return;
    files_ = std::make_unique<CaFiles>();
  }
  static void TearDownTestSuite() { files_.reset(); }

  void SetUp() override {
    if (files_ == nullptr) GTEST_SKIP() << "openssl is not installed";
    ServerOptions options;
    options.threads = 2;
    options.handle_signals = false;
    server_ = std::make_unique<Server>(options);
  }
  void TearDown() override {
    if (server_ == nullptr) return;
    server_->stop();
    server_->wait();
  }

  // A TLS listener of Handler (`args`) with the given certificate.
  template <typename Handler, typename... Args>
  InetAddress listen_tls(const std::string& cert, std::vector<std::string> alpn, Args... args) {
    ListenOptions listen;
    listen.tls = TlsContext::create(
        TlsOptions{.cert_chain_file = cert, .key_file = files_->key(), .alpn = std::move(alpn)});
    return server_->listen<Handler>(InetAddress(0, /*loopback=*/true), listen, args...);
  }
  // A client context trusting `ca_file` (empty: the system store).
  static std::shared_ptr<TlsContext> client_context(const std::string& ca_file,
                                                    std::vector<std::string> alpn = {}) {
    TlsClientOptions options;
    options.ca_file = ca_file;
    options.alpn = std::move(alpn);
    return TlsContext::create_client(options);
  }
  // Connects a RecordingClient with `options` and waits until the connect has settled.
  ConnectHandle connect(const InetAddress& address, ConnectOptions options,
                        const std::shared_ptr<Seen>& seen, const std::string& greeting) {
    ConnectHandle handle =
        server_->connect<RecordingClient>(address, std::move(options), seen, greeting);
    EXPECT_TRUE(test::wait_until([&] { return handle.status() != ConnectStatus::kPending; }));
    return handle;
  }
  // `openssl s_server` with `flags` on a free port, answering each line reversed (-rev), for
  // `connections` connections one after the other; its address once it accepts.
  InetAddress start_s_server(const std::string& flags, int connections) {
    const std::uint16_t port = free_port();
    const std::string log = files_->path("s_server-" + std::to_string(port) + ".log");
    (void)test::run_shell(
        "sh -c '(timeout 30 openssl s_server -rev " + flags + " -naccept " +
            std::to_string(connections) + " -accept 127.0.0.1:" + std::to_string(port) + " -cert " +
            files_->cert() + " -key " + files_->key() + " > " + log + " 2>&1 < /dev/null &)'",
        10);
    EXPECT_TRUE(test::wait_until([&] {
      std::ifstream in(log);
      std::stringstream text;
      text << in.rdbuf();
      return text.str().find("ACCEPT") != std::string::npos;
    })) << "openssl s_server did not start";
    return *InetAddress::parse("127.0.0.1", port);
  }
  // Connects to `address` as "localhost", trusting the test CA, sends `greeting` and expects
  // `answer` back.
  void expect_round_trip(const InetAddress& address, const std::string& greeting,
                         const std::string& answer) {
    auto seen = std::make_shared<Seen>();
    ConnectOptions options;
    options.tls = client_context(files_->ca_cert());
    options.server_name = "localhost";
    const ConnectHandle handle = connect(address, options, seen, greeting);
    ASSERT_EQ(handle.status(), ConnectStatus::kConnected) << handle.failure();
    EXPECT_TRUE(wait_received(seen, answer));
  }
  static bool wait_received(const std::shared_ptr<Seen>& seen, const std::string& text) {
    return test::wait_until([&] {
      std::lock_guard lock(seen->mutex);
      return seen->received.find(text) != std::string::npos;
    });
  }

  static std::unique_ptr<CaFiles> files_;
  std::unique_ptr<Server> server_;
};

std::unique_ptr<CaFiles> TlsClientTest::files_;

TEST_F(TlsClientTest, ConnectorRoundTripsWithAnLfTlsServerAfterTheHandshake) {
  const InetAddress address = listen_tls<EchoConnection>(files_->cert(), {"lf-echo", "http/1.1"});
  server_->start();
  auto seen = std::make_shared<Seen>();
  ConnectOptions options;
  options.tls = client_context(files_->ca_cert(), {"lf-echo"});
  options.server_name = "localhost";
  const ConnectHandle handle = connect(address, options, seen, "hello over tls\n");
  ASSERT_EQ(handle.status(), ConnectStatus::kConnected) << handle.failure();
  EXPECT_TRUE(wait_received(seen, "hello over tls\n"));
  std::lock_guard lock(seen->mutex);
  EXPECT_TRUE(seen->connected);
  // ALPN is settled only by the handshake: on_connect() saw its result, so it ran after it.
  EXPECT_EQ(seen->alpn_at_connect, "lf-echo");
  EXPECT_TRUE(handle.connection() == nullptr || handle.connection()->is_tls());
}

// The Connector resumes: a second connect to the same server and name with the same client
// context offers the session (TLS 1.3 ticket) the first one got, and the server accepts it. A
// connect under another name, or with session_cache_servers = 0, makes a full handshake.
TEST_F(TlsClientTest, ASecondConnectToTheSameServerResumesTheSession) {
  const InetAddress address = listen_tls<EchoConnection>(files_->cert(), {});
  server_->start();
  const auto connect_once = [&](const std::shared_ptr<TlsContext>& context,
                                const std::string& name) {
    auto seen = std::make_shared<Seen>();
    ConnectOptions options;
    options.tls = context;
    options.server_name = name;
    ConnectHandle handle = connect(address, options, seen, "ticket please\n");
    EXPECT_EQ(handle.status(), ConnectStatus::kConnected) << handle.failure();
    // The echo comes after the server's tickets: once it is here, the session is kept.
    EXPECT_TRUE(wait_received(seen, "ticket please\n"));
    handle.disconnect();
    std::lock_guard lock(seen->mutex);
    return seen->resumed_at_connect;
  };
  const auto context = client_context(files_->ca_cert());
  const std::uint64_t resumed_before = metrics::snapshot().get(metrics::Counter::kTlsResumed);
  EXPECT_FALSE(connect_once(context, "localhost")) << "nothing to resume yet";
  EXPECT_EQ(context->client_sessions(), 1u);
  EXPECT_TRUE(connect_once(context, "localhost")) << "the kept session was not resumed";
  EXPECT_TRUE(connect_once(context, "localhost")) << "the newest session was not kept";
  // Both ends count the resumption: two handshakes resumed, twice each.
  EXPECT_EQ(metrics::snapshot().get(metrics::Counter::kTlsResumed) - resumed_before, 4u);
  // Another name is another server's session, even on the same address.
  EXPECT_FALSE(connect_once(context, "127.0.0.1"));
  EXPECT_EQ(context->client_sessions(), 2u);

  TlsClientOptions without;
  without.ca_file = files_->ca_cert();
  without.session_cache_servers = 0;
  const auto no_cache = TlsContext::create_client(without);
  EXPECT_FALSE(connect_once(no_cache, "localhost"));
  EXPECT_FALSE(connect_once(no_cache, "localhost"));
  EXPECT_EQ(no_cache->client_sessions(), 0u);
}

// Answers every connection with the subject of the client's certificate (empty without one).
class SubjectTeller : public StreamConnection {
 protected:
  void on_connect() override { send("subject=" + peer_certificate_subject() + "\n"); }
  void on_message(Buffer& input) override { input.retrieve_all(); }
};

// TlsClientOptions::cert_chain_file/key_file: the Connector presents a certificate to a server
// that requires one (signed by the CA it trusts), and the server's handler reads its subject.
// Without one, the server refuses the handshake: nothing reaches the client's handler.
TEST_F(TlsClientTest, ConnectorPresentsAClientCertificateToAServerThatRequiresOne) {
  ListenOptions listen;
  listen.tls = TlsContext::create(TlsOptions{.cert_chain_file = files_->cert(),
                                             .key_file = files_->key(),
                                             .alpn = {},
                                             .client_ca_file = files_->ca_cert(),
                                             .client_auth = TlsClientAuth::kRequired});
  const InetAddress address =
      server_->listen<SubjectTeller>(InetAddress(0, /*loopback=*/true), listen);
  server_->start();

  // TLS 1.3: the client's side of the handshake may finish before the server's refusal
  // arrives, so the connect may report connected; either way no subject comes back.
  auto refused = std::make_shared<Seen>();
  ConnectOptions no_cert;
  no_cert.tls = client_context(files_->ca_cert());
  no_cert.server_name = "localhost";
  const ConnectHandle bare = connect(address, no_cert, refused, "");
  EXPECT_TRUE(test::wait_until([&] { return server_->connections() == 0; }))
      << "the connection without a certificate was kept";
  {
    std::lock_guard lock(refused->mutex);
    EXPECT_EQ(refused->received.find("subject="), std::string::npos) << refused->received;
  }
  (void)bare;

  TlsClientOptions with_cert;
  with_cert.ca_file = files_->ca_cert();
  with_cert.cert_chain_file = files_->cert();
  with_cert.key_file = files_->key();
  auto seen = std::make_shared<Seen>();
  ConnectOptions options;
  options.tls = TlsContext::create_client(with_cert);
  options.server_name = "localhost";
  const ConnectHandle handle = connect(address, options, seen, "");
  ASSERT_EQ(handle.status(), ConnectStatus::kConnected) << handle.failure();
  EXPECT_TRUE(wait_received(seen, "subject=CN=localhost\n"));
}

TEST_F(TlsClientTest, WithoutANameTheCertificateMustNameTheAddress) {
  const InetAddress address = listen_tls<EchoConnection>(files_->cert(), {});
  server_->start();
  auto seen = std::make_shared<Seen>();
  ConnectOptions options;
  options.tls = client_context(files_->ca_cert());  // no server_name: 127.0.0.1 is checked
  const ConnectHandle handle = connect(address, options, seen, "by address\n");
  ASSERT_EQ(handle.status(), ConnectStatus::kConnected) << handle.failure();
  EXPECT_TRUE(wait_received(seen, "by address\n"));
  std::lock_guard lock(seen->mutex);
  EXPECT_EQ(seen->alpn_at_connect, "");  // none offered
}

TEST_F(TlsClientTest, ConnectorTalksToOpensslSServer) {
  server_->start();
  expect_round_trip(start_s_server("", 1), "hello s_server\n", "revres_s olleh");
}

// TLS 1.2 resumption against OpenSSL's own server, by ticket (RFC 5077) and by session id
// (-no_ticket: s_server's session cache): the second connect resumes.
TEST_F(TlsClientTest, ConnectorResumesTls12SessionsByTicketAndBySessionId) {
  server_->start();
  for (const std::string flags : {"-tls1_2", "-tls1_2 -no_ticket"}) {
    SCOPED_TRACE(flags);
    const InetAddress address = start_s_server(flags, 2);
    const auto context = client_context(files_->ca_cert());
    for (const bool resumed : {false, true}) {
      auto seen = std::make_shared<Seen>();
      ConnectOptions options;
      options.tls = context;
      options.server_name = "localhost";
      ConnectHandle handle = connect(address, options, seen, "again\n");
      ASSERT_EQ(handle.status(), ConnectStatus::kConnected) << handle.failure();
      EXPECT_TRUE(wait_received(seen, "niaga"));
      handle.disconnect();
      std::lock_guard lock(seen->mutex);
      EXPECT_EQ(seen->resumed_at_connect, resumed);
    }
  }
}

// Each refused certificate: the connect fails with EPROTO and the verifier's reason (in
// ConnectHandle::failure(), on_failure and the log), no handler runs, no descriptor stays open.
TEST_F(TlsClientTest, RefusedCertificatesFailTheConnectWithTheReason) {
  const InetAddress good = listen_tls<EchoConnection>(files_->cert(), {});
  const InetAddress expired = listen_tls<EchoConnection>(files_->expired_cert(), {});
  server_->start();
  const std::size_t fds_at_start = test::open_fd_count();
  struct Case {
    const char* what;
    InetAddress address;
    std::string ca_file;
    std::string server_name;
    std::string reason;
  };
  const Case cases[] = {
      {"expired", expired, files_->ca_cert(), "localhost", "certificate has expired"},
      {"wrong host", good, files_->ca_cert(), "wrong.example", "hostname mismatch"},
      // The system store does not know the test CA.
      {"unknown CA", good, "", "localhost", "unable to get local issuer certificate"},
  };
  testing::internal::CaptureStderr();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto seen = std::make_shared<Seen>();
    auto reported = std::make_shared<std::atomic<int>>(0);
    ConnectOptions options;
    options.tls = client_context(c.ca_file);
    options.server_name = c.server_name;
    options.retries = 2;  // not used: a refused certificate is not retried
    options.on_failure = [reported](const InetAddress&, int error) { reported->store(error); };
    const ConnectHandle handle = connect(c.address, options, seen, "never sent\n");
    EXPECT_EQ(handle.status(), ConnectStatus::kFailed);
    EXPECT_EQ(handle.error(), EPROTO);
    EXPECT_NE(handle.failure().find(c.reason), std::string::npos) << handle.failure();
    EXPECT_TRUE(test::wait_until([&] { return reported->load() == EPROTO; }));
    std::lock_guard lock(seen->mutex);
    EXPECT_FALSE(seen->connected) << "on_connect() ran for a refused certificate";
  }
  const std::string log = testing::internal::GetCapturedStderr();
  for (const Case& c : cases) EXPECT_NE(log.find(c.reason), std::string::npos) << log;
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_at_start; }))
      << "open fds: " << test::open_fd_count() << ", at start: " << fds_at_start;
  EXPECT_TRUE(test::wait_until([&] { return server_->connections() == 0; }));
}

// A server that resets the connection once it has the ClientHello: the connect fails with the
// socket's error (ECONNRESET), not with EPROTO, which means the TLS protocol refused it.
TEST_F(TlsClientTest, AServerThatResetsDuringTheHandshakeFailsTheConnectWithEconnreset) {
  server_->start();
  const LoopbackSocket listener(/*listening=*/true);
  std::thread resetter([&listener] {
    const UniqueFd peer(::accept(listener.fd(), nullptr, nullptr));
    if (!peer.valid()) return;
    char hello[4096];
    (void)::recv(peer.get(), hello, sizeof hello, 0);
    const linger abort_on_close{.l_onoff = 1, .l_linger = 0};  // close() sends RST
    (void)::setsockopt(peer.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  });
  auto seen = std::make_shared<Seen>();
  ConnectOptions options;
  options.tls = client_context(files_->ca_cert());
  options.server_name = "localhost";
  const ConnectHandle handle = connect(listener.address(), options, seen, "never sent\n");
  resetter.join();
  EXPECT_EQ(handle.status(), ConnectStatus::kFailed);
  EXPECT_EQ(handle.error(), ECONNRESET) << handle.failure();
  std::lock_guard lock(seen->mutex);
  EXPECT_FALSE(seen->connected);
}

// A context made for the other side is refused where it is given, not discovered as a handshake
// that hangs until its timeout on both ends.
TEST_F(TlsClientTest, AContextForTheOtherSideIsRefusedAtOnce) {
  ListenOptions listen;
  listen.tls = client_context(files_->ca_cert());
  EXPECT_THROW((void)server_->listen<EchoConnection>(InetAddress(0, /*loopback=*/true), listen),
               std::invalid_argument);
  ConnectOptions options;
  options.tls = TlsContext::create(
      TlsOptions{.cert_chain_file = files_->cert(), .key_file = files_->key(), .alpn = {}});
  auto seen = std::make_shared<Seen>();
  EXPECT_THROW((void)server_->connect<RecordingClient>(*InetAddress::parse("127.0.0.1", 9), options,
                                                       seen, "x"),
               std::invalid_argument);
}

TEST_F(TlsClientTest, AServerThatNeverAnswersTheHandshakeTimesOut) {
  server_->start();
  const SilentListener silent;
  const std::size_t fds_at_start = test::open_fd_count();
  auto seen = std::make_shared<Seen>();
  ConnectOptions options;
  options.tls = client_context(files_->ca_cert());
  options.handshake_timeout = 300ms;
  const ConnectHandle handle = connect(silent.address(), options, seen, "x");
  EXPECT_EQ(handle.status(), ConnectStatus::kFailed);
  EXPECT_EQ(handle.error(), ETIMEDOUT);
  EXPECT_NE(handle.failure().find("timed out after 300 ms"), std::string::npos) << handle.failure();
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_at_start; }));
}

// A cancel while the handshake is under way closes the connection; no handler, no report.
TEST_F(TlsClientTest, ACancelDuringTheHandshakeClosesWithoutOnConnect) {
  server_->start();
  const SilentListener silent;
  const std::size_t fds_at_start = test::open_fd_count();
  auto seen = std::make_shared<Seen>();
  auto reported = std::make_shared<std::atomic<bool>>(false);
  ConnectOptions options;
  options.tls = client_context(files_->ca_cert());
  options.on_failure = [reported](const InetAddress&, int) { reported->store(true); };
  // Far beyond the waits below: only the cancel may end this handshake.
  options.handshake_timeout = 60s;
  ConnectHandle handle = server_->connect<RecordingClient>(silent.address(), options, seen, "x");
  ASSERT_TRUE(test::wait_until([&] { return server_->connections() == 1; }));  // in handshake
  EXPECT_EQ(handle.status(), ConnectStatus::kPending);
  handle.cancel();
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled);
  EXPECT_TRUE(test::wait_until([&] { return server_->connections() == 0; }));
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_at_start; }));
  EXPECT_FALSE(reported->load());
  std::lock_guard lock(seen->mutex);
  EXPECT_FALSE(seen->connected);
}

// The server stops while a handshake is under way: the connect is cancelled and on_failure hears
// ECANCELED, as it does for a stop during the TCP connect.
TEST_F(TlsClientTest, AServerStopDuringTheHandshakeReportsCancelled) {
  server_->start();
  const SilentListener silent;
  auto seen = std::make_shared<Seen>();
  auto reported = std::make_shared<std::atomic<int>>(0);
  ConnectOptions options;
  options.tls = client_context(files_->ca_cert());
  options.on_failure = [reported](const InetAddress&, int error) { reported->store(error); };
  const ConnectHandle handle =
      server_->connect<RecordingClient>(silent.address(), options, seen, "x");
  ASSERT_TRUE(test::wait_until([&] { return server_->connections() == 1; }));  // in handshake
  server_->stop();
  server_->wait();
  server_.reset();
  EXPECT_EQ(handle.status(), ConnectStatus::kCancelled);
  EXPECT_EQ(reported->load(), ECANCELED);
  std::lock_guard lock(seen->mutex);
  EXPECT_FALSE(seen->connected);
}

// on_failure is the caller's code: when it throws, on every path that reports (a plain connect
// refused, a handshake timing out, a server stop during the handshake), the throw is logged and
// counted, and the connect and its connection still end whole: status settled, descriptors back,
// and the server goes on (or stops) as without the throw.
TEST_F(TlsClientTest, AnOnFailureThatThrowsIsLoggedAndTheConnectStillEndsWhole) {
  const InetAddress echo = listen_tls<EchoConnection>(files_->cert(), {});
  server_->start();
  const SilentListener silent;
  auto calls = std::make_shared<std::atomic<int>>(0);
  // A connect whose on_failure counts its calls and throws.
  const auto connect_throwing = [&](const InetAddress& address, ConnectOptions options) {
    options.on_failure = [calls](const InetAddress&, int) {
      calls->fetch_add(1);
      throw std::runtime_error("the caller's on_failure broke");
    };
    return server_->connect<RecordingClient>(address, options, std::make_shared<Seen>(), "x");
  };
  testing::internal::CaptureStderr();
  const std::size_t fds_at_start = test::open_fd_count();  // the capture's file is one of them
  {
    const LoopbackSocket closed(/*listening=*/false);  // bound, not listening: refused
    const ConnectHandle refused = connect_throwing(closed.address(), {});
    EXPECT_TRUE(test::wait_until([&] { return refused.status() == ConnectStatus::kFailed; }));
    EXPECT_EQ(refused.error(), ECONNREFUSED);
  }
  {
    ConnectOptions options;
    options.tls = client_context(files_->ca_cert());
    options.handshake_timeout = 200ms;
    const ConnectHandle timed_out = connect_throwing(silent.address(), options);
    EXPECT_TRUE(test::wait_until([&] { return timed_out.status() == ConnectStatus::kFailed; }));
    EXPECT_EQ(timed_out.error(), ETIMEDOUT);
  }
  EXPECT_TRUE(test::wait_until([&] { return calls->load() == 2; })) << calls->load();
  EXPECT_TRUE(test::wait_until([&] { return server_->connections() == 0; }));
  EXPECT_TRUE(test::wait_until([&] { return test::open_fd_count() == fds_at_start; }))
      << "open fds: " << test::open_fd_count() << ", at start: " << fds_at_start;
  expect_round_trip(echo, "still here\n", "still here\n");  // the server goes on after the throws
  {
    ConnectOptions options;
    options.tls = client_context(files_->ca_cert());
    options.handshake_timeout = 60s;  // only the stop may end it
    const ConnectHandle stopped = connect_throwing(silent.address(), options);
    // Both ends of the echo above, and this one in its handshake.
    ASSERT_TRUE(test::wait_until([&] { return server_->connections() == 3; }));
    server_->stop();
    server_->wait();
    server_.reset();
    EXPECT_EQ(stopped.status(), ConnectStatus::kCancelled);
  }
  EXPECT_EQ(calls->load(), 3);
  const std::string log = testing::internal::GetCapturedStderr();
  const std::string thrown = "on_failure threw: the caller's on_failure broke";
  std::size_t logged = 0;
  for (std::size_t at = log.find(thrown); at != std::string::npos; at = log.find(thrown, at + 1)) {
    ++logged;
  }
  EXPECT_EQ(logged, 3u) << log;
  EXPECT_EQ(log.find("on_close threw"), std::string::npos) << log;
}

// ProxyConnection in front of an upstream, with TLS on either side or both.
class TlsProxyTest : public TlsClientTest {
 protected:
  std::shared_ptr<const HttpService> hello_service() {
    auto service = std::make_shared<HttpService>(HttpOptions{});
    service->router().get("/hello", [](const HttpRequest&, HttpResponse& response) {
      response.set_body("Hello through the proxy", "text/plain");
    });
    return service;
  }
  // A proxy listener to `upstream`: TLS for clients if `terminate`, TLS to the upstream if
  // `originate` (verified against the test CA, name localhost).
  InetAddress listen_proxy(const InetAddress& upstream, bool terminate, bool originate) {
    ProxyOptions proxy;
    proxy.upstream = upstream;
    if (originate) {
      proxy.upstream_tls = client_context(files_->ca_cert());
      proxy.upstream_server_name = "localhost";
    }
    ListenOptions listen;
    if (terminate) {
      listen.tls = TlsContext::create(
          TlsOptions{.cert_chain_file = files_->cert(), .key_file = files_->key(), .alpn = {}});
    }
    return server_->listen<ProxyConnection>(InetAddress(0, /*loopback=*/true), listen, proxy);
  }
  static std::string curl(const InetAddress& proxy, const std::string& path) {
    const std::string port = std::to_string(proxy.port());
    return test::run_shell("curl -sS --http1.1 --cacert " + files_->ca_cert() +
                               " --resolve localhost:" + port +
                               ":127.0.0.1 https://localhost:" + port + path,
                           20);
  }
};

TEST_F(TlsProxyTest, TerminatesTlsInFrontOfAPlaintextHttpServer) {
  if (!test::installed("curl")) GTEST_SKIP() << "curl is not installed";
  const InetAddress http = server_->listen<HttpConnection>(InetAddress(0, /*loopback=*/true),
                                                           ListenOptions{}, hello_service());
  const InetAddress proxy = listen_proxy(http, /*terminate=*/true, /*originate=*/false);
  server_->start();
  EXPECT_EQ(curl(proxy, "/hello"), "Hello through the proxy");
}

TEST_F(TlsProxyTest, OriginatesTlsToAnLfTlsServer) {
  const InetAddress echo = listen_tls<EchoConnection>(files_->cert(), {});
  const InetAddress proxy = listen_proxy(echo, /*terminate=*/false, /*originate=*/true);
  server_->start();
  test::TestClient client(proxy);
  ASSERT_TRUE(client.connected());
  const std::string data = test::random_bytes(256 * 1024, 7);
  ASSERT_TRUE(client.send_all(data));
  const auto back = client.recv_exact(data.size());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(test::checksum(*back), test::checksum(data));
}

TEST_F(TlsProxyTest, TerminatesAndOriginatesTls) {
  if (!test::installed("curl")) GTEST_SKIP() << "curl is not installed";
  const InetAddress https = listen_tls<HttpConnection>(files_->cert(), {}, hello_service());
  const InetAddress proxy = listen_proxy(https, /*terminate=*/true, /*originate=*/true);
  server_->start();
  EXPECT_EQ(curl(proxy, "/hello"), "Hello through the proxy");
}

// An upstream whose certificate the proxy refuses: the client's connection is closed.
TEST_F(TlsProxyTest, AnUpstreamWithABadCertificateClosesTheClient) {
  const InetAddress echo = listen_tls<EchoConnection>(files_->expired_cert(), {});
  const InetAddress proxy = listen_proxy(echo, /*terminate=*/false, /*originate=*/true);
  server_->start();
  test::TestClient client(proxy);
  ASSERT_TRUE(client.connected());
  EXPECT_TRUE(client.wait_for_close());
}

}  // namespace
}  // namespace lf
