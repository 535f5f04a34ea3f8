// Public. TlsContext: a server's TLS configuration (OpenSSL 3): its certificate chain and key,
// TLS 1.2 and 1.3 only with Mozilla's "intermediate" ciphers, renegotiation off, session tickets
// on, and the ALPN protocols it offers. One context serves many connections and listeners; give
// it to ListenOptions::tls and a handler written for plaintext runs unchanged over TLS.
// Immutable once created, so thread safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

// OpenSSL's SSL_CTX, declared here so that this header does not pull in OpenSSL's.
struct ssl_ctx_st;

namespace lf {

struct TlsOptions {
  std::string cert_chain_file{};  // PEM: the server's certificate first, then its intermediates
  std::string key_file{};         // PEM: the certificate's private key
  // ALPN protocols the server accepts, by preference ("h2", "http/1.1"); the server picks the
  // first of these the client offers. Empty: ALPN is not negotiated.
  std::vector<std::string> alpn{};
  bool session_tickets = true;  // stateless resumption (RFC 5077 / TLS 1.3 tickets)
  // Lets OpenSSL hand the record layer to the kernel (Linux's tls module) after the handshake,
  // where the kernel offers it: send_file then goes out by SSL_sendfile without a copy through
  // user space. Where it does not, everything works the same in user space.
  bool kernel_tls = true;
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
  // OpenSSL's handle, for settings this class does not offer.
  [[nodiscard]] ssl_ctx_st* native_handle() const noexcept { return ctx_; }
  // Made by create_client(): its sessions connect rather than accept.
  [[nodiscard]] bool is_client() const noexcept { return client_; }
  // A client context that checks the server's certificate and name.
  [[nodiscard]] bool verifies_peer() const noexcept { return verify_peer_; }

 private:
  TlsContext(ssl_ctx_st* ctx, TlsOptions options);

  ssl_ctx_st* ctx_;
  TlsOptions options_;
  // ALPN's wire form (length-prefixed names), read by the selection callback.
  std::string alpn_wire_;
  // The connect side (create_client).
  bool client_ = false;
  bool verify_peer_ = false;
};

}  // namespace lf
