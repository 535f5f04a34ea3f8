// The server's TLS features beyond one certificate, against real clients on 127.0.0.1: SNI with
// several certificates (curl --resolve), client certificates off / optional / required (curl
// --cert), reloading the certificates (Server::reload_tls and SIGHUP, in process and to a real
// lf-echo) without dropping established connections, and what `openssl s_client` sees:
// ALPN and a refused renegotiation (resumption: tls_test). The certificates (two CAs, three
// server names, two clients) are made by `openssl` for each run.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "lf/handlers/echo/echo_connection.h"
#include "lf/metrics/metrics.h"
#include "lf/net/inet_address.h"
#include "lf/net/tls_context.h"
#include "lf/net/x509_text.h"
#include "lf/server.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;

// Every leaf is an ECDSA P-256 key signed by a CA of the run: ca (servers and alice) or other-ca
// (mallory, whom the server must not trust).
constexpr const char* kMakeCertificates = R"sh(set -e
cd "$(dirname "$0")"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj "/CN=lf test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -x509 $ec -days 2 -subj "/CN=lf other CA" -keyout other-ca.key -out other-ca.pem \
  2>/dev/null
leaf() {  # name subject alt-names issuer usage
  openssl req -new $ec -subj "$2" -keyout $1.key -out $1.csr 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$3" "$5" > $1.ext
  openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial -days 2 \
    -extfile $1.ext -out $1.pem 2>/dev/null
}
leaf default "/CN=default.test" "DNS:default.test,IP:127.0.0.1" ca serverAuth
leaf renewed "/CN=renewed.test" "DNS:renewed.test,IP:127.0.0.1" ca serverAuth
leaf a "/CN=a.test" "DNS:a.test" ca serverAuth
leaf b "/CN=b.test" "DNS:b.test,DNS:*.b.test" ca serverAuth
leaf alice "/O=lf tests/CN=alice" "DNS:alice" ca clientAuth
leaf mallory "/CN=mallory" "DNS:mallory" other-ca clientAuth
echo made
)sh";

// A temporary directory with the run's certificates; removed at the end.
class Certificates {
 public:
  Certificates() {
    char pattern[] = "/tmp/lf-tls-features.XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    std::ofstream(path("make.sh")) << kMakeCertificates;
    const std::string made = test::run_shell("sh " + path("make.sh"), 60);
    if (made.find("made") == std::string::npos) {
      throw std::runtime_error("openssl could not make the certificates: " + made);
    }
  }
  ~Certificates() { (void)test::run_shell("rm -rf " + dir_, 10); }
  Certificates(const Certificates&) = delete;
  Certificates& operator=(const Certificates&) = delete;

  [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }
  [[nodiscard]] std::string cert(const std::string& who) const { return path(who + ".pem"); }
  [[nodiscard]] std::string key(const std::string& who) const { return path(who + ".key"); }
  [[nodiscard]] TlsCertificateFiles files(const std::string& who) const {
    return {cert(who), key(who)};
  }

 private:
  std::string dir_;
};

// Answers any HTTP request (once its header has arrived) with the client certificate's subject
// as the handler sees it, then closes: what a handler learns of its TLS peer.
class WhoAmI : public StreamConnection {
 protected:
  void on_message(Buffer& input) override {
    if (input.view().find("\r\n\r\n") == std::string_view::npos) return;
    input.retrieve_all();
    const std::string body = "subject=[" + peer_certificate_subject() + "]\n";
    send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body);
    shutdown();
  }
};

// A blocking TLS client of our own (OpenSSL), for a connection that must stay open across a
// reload while the test acts on the server.
class TlsClient {
 public:
  explicit TlsClient(const InetAddress& address, const std::string& ca_file)
      : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free), ssl_(nullptr, SSL_free) {
    if (ctx_ == nullptr ||
        SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr) != 1) {
      throw std::runtime_error("TlsClient: no context");
    }
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (::connect(fd_, address.sockaddr_ptr(), address.length()) != 0) {
      throw std::runtime_error("TlsClient: connect failed");
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    if (SSL_connect(ssl_.get()) != 1) throw std::runtime_error("TlsClient: handshake failed");
  }
  ~TlsClient() {
    ssl_.reset();
    ::close(fd_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // The server certificate's subject.
  [[nodiscard]] std::string server_subject() const {
    X509* certificate = SSL_get1_peer_certificate(ssl_.get());
    std::string subject = x509_subject(certificate);
    X509_free(certificate);
    return subject;
  }
  // Sends `text` and reads back as many bytes (an echo); nullopt if the connection failed.
  [[nodiscard]] std::optional<std::string> echo(const std::string& text) {
    if (SSL_write(ssl_.get(), text.data(), static_cast<int>(text.size())) <= 0) return {};
    std::string got;
    char chunk[256];
    while (got.size() < text.size()) {
      const int n = SSL_read(ssl_.get(), chunk, sizeof chunk);
      if (n <= 0) return {};
      got.append(chunk, static_cast<std::size_t>(n));
    }
    return got;
  }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  int fd_ = -1;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class TlsServerFeaturesTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::installed("openssl") || !test::installed("curl")) return;
    files_ = std::make_unique<Certificates>();
  }
  static void TearDownTestSuite() { files_.reset(); }

  void SetUp() override {
    if (files_ == nullptr) GTEST_SKIP() << "openssl or curl is not installed";
  }
  void TearDown() override { stop(); }

  // A server with one TLS listener of Handler on 127.0.0.1; returns its address.
  template <typename Handler>
  InetAddress start(const TlsOptions& tls, bool handle_signals = false) {
    ServerOptions options;
    options.threads = 2;
    options.handle_signals = handle_signals;
    server_ = std::make_unique<Server>(options);
    ListenOptions listen;
    listen.tls = TlsContext::create(tls);
    const InetAddress address = server_->listen<Handler>(InetAddress(0, /*loopback=*/true), listen);
    server_->start();
    return address;
  }
  void stop() {
    if (server_ == nullptr) return;
    server_->stop();
    server_->wait();
    server_.reset();
  }

  // curl -v to https://`name`:PORT/ (resolved to 127.0.0.1, so `name` is the SNI), trusting the
  // test CA; `extra` adds flags. Output: curl's trace and the body.
  static std::string curl(const InetAddress& address, const std::string& name,
                          const std::string& extra = "") {
    const std::string port = std::to_string(address.port());
    return test::run_shell("curl -sSv --http1.1 --max-time 10 --cacert " + files_->cert("ca") +
                               " --resolve " + name + ":" + port + ":127.0.0.1 " + extra +
                               " https://" + name + ":" + port + "/ 2>&1",
                           20);
  }
  // `openssl s_client` to the server with `flags`, sending `input` (a shell printf format) and
  // staying `linger` seconds for the answer (and session tickets).
  static std::string s_client(const InetAddress& address, const std::string& flags,
                              const std::string& input = "", int linger = 1) {
    return test::run_shell("sh -c '(printf \"" + input + "\"; sleep " + std::to_string(linger) +
                               ") | openssl s_client -no_ign_eof -CAfile " + files_->cert("ca") +
                               " -connect 127.0.0.1:" + std::to_string(address.port()) + " " +
                               flags + "' 2>&1",
                           30);
  }

  std::unique_ptr<Server> server_;

 public:
  static std::unique_ptr<Certificates> files_;  // also read by the option builders below
};

std::unique_ptr<Certificates> TlsServerFeaturesTest::files_;

TlsOptions sni_options() {
  TlsOptions tls;
  tls.cert_chain_file = TlsServerFeaturesTest::files_->cert("default");
  tls.key_file = TlsServerFeaturesTest::files_->key("default");
  tls.sni_certificates = {TlsServerFeaturesTest::files_->files("a"),
                          TlsServerFeaturesTest::files_->files("b")};
  return tls;
}

TEST_F(TlsServerFeaturesTest, SniPicksTheCertificateThatCoversTheNameAndTheDefaultOtherwise) {
  const InetAddress address = start<WhoAmI>(sni_options());
  const std::string a = curl(address, "a.test");
  EXPECT_TRUE(contains(a, "subject: CN=a.test")) << a;
  EXPECT_TRUE(contains(a, "subject=[]")) << a;  // served, and no client certificate
  // A wildcard SAN (*.b.test) covers one more label.
  const std::string b = curl(address, "www.b.test");
  EXPECT_TRUE(contains(b, "subject: CN=b.test")) << b;
  EXPECT_TRUE(contains(b, "subject=[]")) << b;
  // No certificate covers it: the default answers (and curl rightly rejects its name, unless -k).
  const std::string other = curl(address, "other.test", "-k");
  EXPECT_TRUE(contains(other, "subject: CN=default.test")) << other;
  EXPECT_TRUE(contains(other, "subject=[]")) << other;
  // No SNI at all (an IP address): the default too. s_client shows the chain it got.
  const std::string none = s_client(address, "-noservername -showcerts");
  EXPECT_TRUE(contains(none, "CN = default.test")) << none;
  const std::string named = s_client(address, "-servername a.test");
  EXPECT_TRUE(contains(named, "subject=CN = a.test")) << named;
}

TlsOptions client_auth_options(TlsClientAuth mode) {
  TlsOptions tls;
  tls.cert_chain_file = TlsServerFeaturesTest::files_->cert("default");
  tls.key_file = TlsServerFeaturesTest::files_->key("default");
  tls.client_ca_file = TlsServerFeaturesTest::files_->cert("ca");
  tls.client_auth = mode;
  return tls;
}

std::string client_cert_flags(const std::string& who) {
  return "--cert " + TlsServerFeaturesTest::files_->cert(who) + " --key " +
         TlsServerFeaturesTest::files_->key(who);
}

TEST_F(TlsServerFeaturesTest, RequiredClientCertificatesLetOnlyTheTrustedCasClientsIn) {
  const InetAddress address = start<WhoAmI>(client_auth_options(TlsClientAuth::kRequired));
  testing::internal::CaptureStderr();
  const std::string without = curl(address, "default.test");
  const std::string alice = curl(address, "default.test", client_cert_flags("alice"));
  const std::string mallory = curl(address, "default.test", client_cert_flags("mallory"));
  EXPECT_TRUE(test::wait_until([this] { return server_->connections() == 0; }));
  stop();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(contains(without, "subject=[")) << without;
  EXPECT_TRUE(contains(alice, "subject=[CN=alice,O=lf tests]")) << alice;
  EXPECT_FALSE(contains(mallory, "subject=[")) << mallory;
  EXPECT_TRUE(contains(log, "peer did not return a certificate")) << log;
  EXPECT_TRUE(contains(log,
                       "TLS client certificate rejected: unable to get local issuer "
                       "certificate (depth 0, subject CN=mallory)"))
      << log;
}

TEST_F(TlsServerFeaturesTest, OptionalClientCertificatesServeBothAndTellTheHandlerWho) {
  const InetAddress address = start<WhoAmI>(client_auth_options(TlsClientAuth::kOptional));
  const std::string without = curl(address, "default.test");
  EXPECT_TRUE(contains(without, "subject=[]\n")) << without;
  const std::string alice = curl(address, "default.test", client_cert_flags("alice"));
  EXPECT_TRUE(contains(alice, "subject=[CN=alice,O=lf tests]")) << alice;
  // Optional is not "anything goes": a certificate from another CA is still refused.
  const std::string mallory = curl(address, "default.test", client_cert_flags("mallory"));
  EXPECT_FALSE(contains(mallory, "subject=[")) << mallory;
}

TEST_F(TlsServerFeaturesTest, ClientAuthWithoutACaFileIsRefusedAtCreation) {
  TlsOptions tls = client_auth_options(TlsClientAuth::kRequired);
  tls.client_ca_file.clear();
  EXPECT_THROW((void)TlsContext::create(tls), std::runtime_error);
}

// Copies `from` over `to` (the reload test's "certificate renewed on disk").
void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

// Waits until wait() has put its SIGHUP handler in place (the default would end the process).
bool sighup_handled() {
  return test::wait_until([] {
    struct sigaction current {};
    ::sigaction(SIGHUP, nullptr, &current);
    return current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN;
  });
}

TEST_F(TlsServerFeaturesTest, SighupReloadsForNewHandshakesAndKeepsEstablishedConnections) {
  const std::string live_cert = files_->path("live.pem");
  const std::string live_key = files_->path("live.key");
  copy_file(files_->cert("default"), live_cert);
  copy_file(files_->key("default"), live_key);
  const InetAddress address = start<EchoConnection>(
      TlsOptions{.cert_chain_file = live_cert, .key_file = live_key, .alpn = {}},
      /*handle_signals=*/true);
  std::thread waiter([this] { server_->wait(); });
  ASSERT_TRUE(sighup_handled());
  testing::internal::CaptureStderr();

  {  // the clients close before the server stops, or its drain would wait for them
    TlsClient before(address, files_->cert("ca"));
    EXPECT_EQ(before.server_subject(), "CN=default.test");
    EXPECT_EQ(before.echo("before the reload"), "before the reload");

    const auto counted = [](metrics::Counter counter) { return metrics::snapshot().get(counter); };
    const std::uint64_t reloads = counted(metrics::Counter::kTlsReloads);
    const std::uint64_t failures = counted(metrics::Counter::kTlsReloadFailures);
    copy_file(files_->cert("renewed"), live_cert);
    copy_file(files_->key("renewed"), live_key);
    ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
    EXPECT_TRUE(test::wait_until([&] {
      return TlsClient(address, files_->cert("ca")).server_subject() == "CN=renewed.test";
    })) << "a new connection did not get the new certificate";
    EXPECT_EQ(before.echo("after the reload"), "after the reload")
        << "the established connection was dropped";
    EXPECT_EQ(before.server_subject(), "CN=default.test");
    const std::string renewed = s_client(address, "", "new connection\\n");
    EXPECT_TRUE(contains(renewed, "subject=CN = renewed.test")) << renewed;
    EXPECT_TRUE(contains(renewed, "new connection")) << renewed;

    // A broken file: the reload fails, the renewed certificate stays, the server goes on serving.
    std::ofstream(live_cert) << "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n";
    EXPECT_FALSE(server_->reload_tls());
    // lf_tls_reloads_total and lf_tls_reload_failures_total: one of each.
    EXPECT_EQ(counted(metrics::Counter::kTlsReloads), reloads + 1);
    EXPECT_EQ(counted(metrics::Counter::kTlsReloadFailures), failures + 1);
    TlsClient after(address, files_->cert("ca"));
    EXPECT_EQ(after.server_subject(), "CN=renewed.test");
    EXPECT_EQ(after.echo("still serving"), "still serving");
    EXPECT_EQ(before.echo("and still open"), "and still open");
  }

  server_->stop();
  waiter.join();
  server_.reset();
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(log, "SIGHUP: reloading the TLS certificates")) << log;
  EXPECT_TRUE(contains(log, "reload: TLS certificates loaded: CN=renewed.test expires 20")) << log;
  EXPECT_TRUE(contains(log, "ERROR")) << log;
  EXPECT_TRUE(contains(log, "reload failed, keeping the certificates in use (CN=renewed.test"))
      << log;
  EXPECT_TRUE(contains(log, "cannot load the certificate chain " + live_cert)) << log;
}

// SIGHUP is caught only by a server with something to reload. A plaintext one leaves it as it
// found it (by default it ends the process, as when its terminal closes); a TLS listener added
// after start() catches it from then on, and wait() puts the old action back.
TEST_F(TlsServerFeaturesTest, OnlyAServerWithATlsListenerCatchesSighup) {
  const auto current_handler = [] {
    struct sigaction current {};
    ::sigaction(SIGHUP, nullptr, &current);
    return current.sa_handler;
  };
  const auto before = current_handler();
  ServerOptions options;
  options.threads = 1;
  options.handle_signals = true;
  server_ = std::make_unique<Server>(options);
  (void)server_->listen<EchoConnection>(InetAddress(0, /*loopback=*/true));
  server_->start();
  EXPECT_EQ(current_handler(), before) << "a plaintext server caught SIGHUP";
  ListenOptions listen;
  listen.tls = TlsContext::create(TlsOptions{
      .cert_chain_file = files_->cert("default"), .key_file = files_->key("default"), .alpn = {}});
  (void)server_->listen<EchoConnection>(InetAddress(0, /*loopback=*/true), listen);
  EXPECT_NE(current_handler(), before) << "a TLS listener added after start() left SIGHUP alone";
  stop();
  EXPECT_EQ(current_handler(), before) << "wait() did not put SIGHUP's action back";
}

// Reloads racing handshakes: a handshake picks the certificate set while another thread swaps it
// (and drops the old one). Every handshake completes, and every connection echoes; under
// ThreadSanitizer and AddressSanitizer this is the test of the swap and of the old set's lifetime.
TEST_F(TlsServerFeaturesTest, ReloadsDuringHandshakesLoseNoConnection) {
  const std::string live_cert = files_->path("racing.pem");
  const std::string live_key = files_->path("racing.key");
  copy_file(files_->cert("default"), live_cert);
  copy_file(files_->key("default"), live_key);
  const InetAddress address = start<EchoConnection>(
      TlsOptions{.cert_chain_file = live_cert, .key_file = live_key, .alpn = {}});
  testing::internal::CaptureStderr();  // an INFO line per reload
  std::atomic<bool> done{false};
  std::atomic<int> reloads{0};
  std::thread reloader([&] {
    while (!done.load()) {
      EXPECT_TRUE(server_->reload_tls());
      reloads.fetch_add(1);
    }
  });
  int served = 0;
  for (int i = 0; i < 60; ++i) {
    TlsClient client(address, files_->cert("ca"));
    const std::string subject = client.server_subject();
    EXPECT_TRUE(subject == "CN=default.test") << subject;
    if (client.echo("racing " + std::to_string(i)) == "racing " + std::to_string(i)) ++served;
  }
  done.store(true);
  reloader.join();
  (void)testing::internal::GetCapturedStderr();
  EXPECT_EQ(served, 60);
  EXPECT_GT(reloads.load(), 1);
}

TEST_F(TlsServerFeaturesTest, SClientNegotiatesAlpnOnEveryCertificate) {
  TlsOptions tls = sni_options();
  tls.alpn = {"http/1.1"};
  const InetAddress address = start<EchoConnection>(tls);
  const std::string plain = s_client(address, "-alpn http/1.1", "alpn\\n");
  EXPECT_TRUE(contains(plain, "ALPN protocol: http/1.1")) << plain;
  EXPECT_TRUE(contains(plain, "alpn")) << plain;
  // ALPN is chosen after SNI moved the handshake to a.test's own context.
  const std::string named = s_client(address, "-alpn h2,http/1.1 -servername a.test", "named\\n");
  EXPECT_TRUE(contains(named, "ALPN protocol: http/1.1")) << named;
  EXPECT_TRUE(contains(named, "subject=CN = a.test")) << named;
  // Nothing in common: the handshake ends with no_application_protocol (RFC 7301).
  const std::string none = s_client(address, "-alpn h2");
  EXPECT_TRUE(contains(none, "no application protocol")) << none;
}

TEST_F(TlsServerFeaturesTest, ARenegotiationAttemptIsRefusedAndTheServerGoesOn) {
  const InetAddress address = start<EchoConnection>(TlsOptions{
      .cert_chain_file = files_->cert("default"), .key_file = files_->key("default"), .alpn = {}});
  // s_client renegotiates when a line is "R"; the echo of "after" never comes back over a
  // renegotiated session.
  const std::string out = test::run_shell(
      "sh -c '(printf \"before\\n\"; sleep 1; printf \"R\\n\"; sleep 1; printf \"after\\n\"; "
      "sleep 1) | openssl s_client -tls1_2 -no_ign_eof -CAfile " +
          files_->cert("ca") + " -connect 127.0.0.1:" + std::to_string(address.port()) + "' 2>&1",
      30);
  EXPECT_TRUE(contains(out, "RENEGOTIATING")) << out;
  EXPECT_TRUE(contains(out, "before")) << out;
  EXPECT_TRUE(contains(out, "no renegotiation")) << out;
  EXPECT_TRUE(test::wait_until([this] { return server_->connections() == 0; }));
  const std::string next = s_client(address, "-tls1_2", "next client\\n");
  EXPECT_TRUE(contains(next, "next client")) << next;
}

#ifdef LF_ECHO_BINARY
// The real program: lf-echo started with two certificates (--tls-cert/--tls-key twice) and
// client certificates optional, sent SIGHUP after its certificate was renewed on disk. It keeps
// running and serving the connection it had, new handshakes get the renewed certificate, a.test
// keeps its own, and SIGTERM still stops it cleanly.
constexpr const char* kEchoReload = R"sh(set -u
dir=$1; binary=$2
cd "$dir"
cp default.pem app.pem; cp default.key app.key
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null' EXIT
for _ in 1 2 3 4 5; do
  port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000 ))
  "$binary" --host 127.0.0.1 --port "$port" --threads 2 --tls-cert app.pem --tls-key app.key \
    --tls-cert a.pem --tls-key a.key --tls-ca ca.pem --tls-client-auth optional >app.out 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    grep -q listening app.out && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q listening app.out && break
done
subject() {  # the subject the server presents for SNI $1
  openssl s_client -connect 127.0.0.1:$port -servername "$1" </dev/null 2>/dev/null |
    openssl x509 -noout -subject
}
echo "before: $(subject default.test)"
echo "sni: $(subject a.test)"
# A connection open across the reload: one line before, one after.
(echo "line before"; sleep 2; echo "line after"; sleep 1) |
  timeout 10 openssl s_client -quiet -no_ign_eof -connect 127.0.0.1:$port -CAfile ca.pem \
    >held.out 2>/dev/null &
held=$!
sleep 1
cp renewed.pem app.pem; cp renewed.key app.key
kill -HUP "$pid"
sleep 0.5
echo "after: $(subject default.test)"
echo "sni after: $(subject a.test)"
wait "$held"
echo "held: $(tr '\n' '|' <held.out)"
kill -0 "$pid" && echo "alive after SIGHUP"
kill -TERM "$pid"; wait "$pid"; echo "exit $?"; pid=
cat app.out
)sh";

TEST_F(TlsServerFeaturesTest, LfEchoReloadsOnSighupWithoutDroppingItsConnections) {
  const std::string script = files_->path("echo-reload.sh");
  std::ofstream(script) << kEchoReload;
  const std::string out = test::run_shell(
      "sh " + script + " " + files_->path("") + " " + std::string(LF_ECHO_BINARY), 60);
  EXPECT_TRUE(contains(out, "before: subject=CN = default.test")) << out;
  EXPECT_TRUE(contains(out, "sni: subject=CN = a.test")) << out;
  EXPECT_TRUE(contains(out, "after: subject=CN = renewed.test")) << out;
  EXPECT_TRUE(contains(out, "sni after: subject=CN = a.test")) << out;
  EXPECT_TRUE(contains(out, "held: line before|line after|")) << out;
  EXPECT_TRUE(contains(out, "alive after SIGHUP")) << out;
  EXPECT_TRUE(contains(out, "exit 0")) << out;
  EXPECT_TRUE(contains(out, "INFO  SIGHUP: reloading the TLS certificates")) << out;
  EXPECT_TRUE(contains(out, "reload: TLS certificates loaded: CN=renewed.test expires 20")) << out;
  EXPECT_TRUE(contains(out, "; CN=a.test expires 20")) << out;
}

// A client CA without a mode would be ignored (no client is asked for a certificate), and a
// mode without a CA could verify nothing: the program refuses both at start, saying why.
TEST_F(TlsServerFeaturesTest, LfEchoRefusesAClientCaWithoutAModeAndAModeWithoutACa) {
  const std::string common = std::string(LF_ECHO_BINARY) +
                             " --host 127.0.0.1 --port 0 --tls-cert " + files_->cert("default") +
                             " --tls-key " + files_->key("default");
  const std::string alone =
      test::run_shell(common + " --tls-ca " + files_->cert("ca") + " 2>&1; echo \"exit $?\"", 20);
  EXPECT_TRUE(contains(alone, "--tls-ca is used only with --tls-client-auth optional or required"))
      << alone;
  EXPECT_FALSE(contains(alone, "exit 0")) << alone;
  const std::string no_ca =
      test::run_shell(common + " --tls-client-auth required 2>&1; echo \"exit $?\"", 20);
  EXPECT_TRUE(contains(no_ca, "--tls-client-auth optional or required needs --tls-ca")) << no_ca;
  EXPECT_FALSE(contains(no_ca, "exit 0")) << no_ca;
}
#endif

}  // namespace
}  // namespace lf
