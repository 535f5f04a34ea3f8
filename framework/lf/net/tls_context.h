// Public. TlsContext: a server's TLS configuration (OpenSSL 3): its certificate chain and key
// (and more of them, chosen by SNI), TLS 1.2 and 1.3 only with Mozilla's "intermediate" ciphers,
// renegotiation off, session tickets on, the ALPN protocols it offers, and client certificates
// if asked. One context serves many connections and listeners; give it to ListenOptions::tls and
// a handler written for plaintext runs unchanged over TLS.
// Thread safe: reload() swaps the certificates atomically while handshakes go on.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// OpenSSL's SSL_CTX and SSL, declared here so that this header does not pull in OpenSSL's.
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;

namespace lf {

class TlsClientSessions;

// A certificate chain and its private key, both PEM files.
struct TlsCertificateFiles {
  std::string cert_chain_file{};
  std::string key_file{};
};

// Whether the server asks clients for a certificate. kOptional: a client without one is served
// (and has no peer_certificate_subject()), one with a certificate that fails verification is not.
enum class TlsClientAuth { kOff, kOptional, kRequired };

struct TlsOptions {
  std::string cert_chain_file{};  // PEM: the server's certificate first, then its intermediates
  std::string key_file{};         // PEM: the certificate's private key
  // ALPN protocols the server accepts, by preference ("h2", "http/1.1"); the server picks the
  // first of these the client offers. Empty: ALPN is not negotiated.
  std::vector<std::string> alpn{};
  bool session_tickets = true;  // stateless resumption (RFC 5077 / TLS 1.3 tickets)
  // Lets OpenSSL hand the record layer to the kernel (Linux's tls module) after the handshake,
  // where the kernel offers it: send_file then goes out by SSL_sendfile without a copy through
  // user space. Where it does not, everything works the same in user space. Off by default:
  // lf's CI machines have no tls module, so this path is not tested there.
  bool kernel_tls = false;
  // More certificates for SNI: a client naming a host that one of these covers (its DNS names,
  // wildcards as X509_check_host allows; the first that matches wins) gets that one; a client
  // naming no host or another host gets cert_chain_file, the default.
  std::vector<TlsCertificateFiles> sni_certificates{};
  // CA certificates (PEM, one or more) that must have issued client certificates; required
  // unless client_auth is kOff. Their names are sent to the client as acceptable issuers.
  std::string client_ca_file{};
  TlsClientAuth client_auth = TlsClientAuth::kOff;
};

// The connect side (TlsContext::create_client): whom to trust and what to offer.
struct TlsClientOptions {
  // PEM file of the CAs that may sign the server's certificate. Empty: the system store
  // (OpenSSL's default verify paths, as curl and Python do).
  std::string ca_file{};
  // Off only for tests and private links: a server whose certificate fails is then accepted.
  bool verify_peer = true;
  // ALPN protocols offered, by preference (empty: none offered).
  std::vector<std::string> alpn{};
  // A client certificate, for servers that ask for one (both or neither).
  std::string cert_chain_file{};
  std::string key_file{};
  // Resume sessions: a connection to a server (address and name) this context has connected to
  // before offers the session it got then, and a server that accepts it skips the full
  // handshake (as curl and nginx's proxy_ssl_session_reuse do). Kept for this many servers at
  // most; 0 turns resumption off.
  std::size_t session_cache_servers = 1024;
};

class TlsContext {
 public:
  // Loads the certificate chain and key. Throws std::runtime_error naming the file and giving
  // OpenSSL's reason when a file cannot be read or parsed, or the key does not match.
  static std::shared_ptr<TlsContext> create(const TlsOptions& options);
  // The connect side (ConnectOptions::tls): the same versions and ciphers, verifying the
  // server's certificate unless told not to. Throws std::runtime_error like create().
  static std::shared_ptr<TlsContext> create_client(const TlsClientOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  [[nodiscard]] const TlsOptions& options() const noexcept { return options_; }
  // OpenSSL's handle, for settings this class does not offer. A server session starts on it; it
  // holds no certificate: the handshake moves to the certificate's own context (servername
  // callback), which is where the certificate, its key and the client CA live.
  [[nodiscard]] ssl_ctx_st* native_handle() const noexcept { return ctx_; }
  // Made by create_client(): its sessions connect rather than accept.
  [[nodiscard]] bool is_client() const noexcept { return client_; }
  // A client context that checks the server's certificate and name.
  [[nodiscard]] bool verifies_peer() const noexcept { return verify_peer_; }
  // Client side: the session kept for `server` (TlsClientSessions), with a reference for the
  // caller, or null (none kept, or resumption off).
  [[nodiscard]] ssl_session_st* client_session(const std::string& server) const;
  // Client side: drops the session kept for `server`.
  void forget_client_session(const std::string& server) const;
  // Client side: how many servers have a session kept.
  [[nodiscard]] std::size_t client_sessions() const;

  // Server side. Reads every certificate, key and the client CA file again; handshakes that
  // start afterwards use them, established sessions keep the ones they started with (an SSL
  // holds a reference to its SSL_CTX), and session tickets stay valid (their keys live in
  // native_handle(), which does not change). Throws std::runtime_error naming the file, as
  // create() does, and then keeps the certificates it had.
  void reload();
  // One line per certificate, default first: its subject and when it expires
  // ("CN=a.test expires 2026-12-09 19:13:00 UTC"), joined with "; ". For the logs.
  [[nodiscard]] std::string describe_certificates() const;

 private:
  // A server's certificates, loaded together: one SSL_CTX each (OpenSSL keeps one certificate per
  // key type in a context), the default first. Immutable; replaced whole by reload().
  struct Certificates;

  TlsContext(ssl_ctx_st* ctx, TlsOptions options);
  // The servername callback: every server handshake passes here, with or without SNI.
  static int select_certificate(ssl_st* ssl, int* alert, void* self);
  // The new-session callback of a client context: keeps the session for the connection's server.
  static int keep_client_session(ssl_st* ssl, ssl_session_st* session);

  ssl_ctx_st* ctx_;
  TlsOptions options_;
  // ALPN's wire form (length-prefixed names), read by the selection callback.
  std::string alpn_wire_;
  // The connect side (create_client).
  bool client_ = false;
  bool verify_peer_ = false;
  std::unique_ptr<TlsClientSessions> client_sessions_;  // null: no resumption
  // The set in use, replaced whole by reload(). A mutex, held only to copy or replace the
  // pointer, rather than std::atomic<std::shared_ptr>: libstdc++ 12 implements that with a lock
  // bit ThreadSanitizer cannot see, so every reload racing a handshake was reported as a race.
  [[nodiscard]] std::shared_ptr<const Certificates> certificates() const;
  mutable std::mutex certificates_mutex_;
  std::shared_ptr<const Certificates> certificates_;
};

}  // namespace lf
