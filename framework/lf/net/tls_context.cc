#include "lf/net/tls_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <utility>

#include "lf/log/log.h"
#include "lf/net/inet_address.h"
#include "lf/net/tls_client_sessions.h"
#include "lf/net/tls_error.h"
#include "lf/net/x509_text.h"

namespace lf {

namespace {

// Mozilla's "intermediate" configuration (ssl-config.mozilla.org, version 5.7): TLS 1.2 with
// forward-secret AEAD ciphers only; TLS 1.3's own suites are all acceptable (OpenSSL's default).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";
// Resumption binds sessions to this value: sessions from another application's context sharing
// the ticket keys would not be accepted.
constexpr unsigned char kSessionIdContext[] = "lf";

[[noreturn]] void fail(std::string_view what) {
  throw std::runtime_error(fmt::format("TLS: {}: {}", what, tls_error_string()));
}

// The verify callback of client certificates: OpenSSL's verdict stands; a rejection is logged
// with the peer and OpenSSL's reason, which the handshake's own error ("certificate verify
// failed") does not give.
int log_rejected_client(int preverified, X509_STORE_CTX* store) {
  if (preverified == 1) return 1;
  const auto* ssl = static_cast<const SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const X509* certificate = X509_STORE_CTX_get_current_cert(store);
  LF_LOG_WARN("{}: TLS client certificate rejected: {} (depth {}, subject {})",
              ssl == nullptr ? std::string("?") : InetAddress::peer_of(SSL_get_fd(ssl)).to_string(),
              X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)),
              X509_STORE_CTX_get_error_depth(store), x509_subject(certificate));
  return 0;
}

// Picks the first of the server's protocols that the client offered (server preference); no
// common protocol ends the handshake with no_application_protocol, as RFC 7301 asks.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len,
                const unsigned char* offered, unsigned int offered_len, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned int>(wire->size()), offered,
                            offered_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// The versions, ciphers and groups both sides use, so that lf talking to lf never negotiates less
// than either accepts.
void restrict_protocols(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    fail("cannot restrict the protocol versions to TLS 1.2 and 1.3");
  }
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) fail("bad TLS 1.2 cipher list");
  if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) fail("bad TLS 1.3 cipher suites");
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) fail("bad key exchange groups");
}

// How sessions of both sides move bytes.
void configure_io(SSL_CTX* ctx, bool read_ahead) {
  // Partial writes and a moving buffer: the output queue hands SSL_write whatever it holds at
  // the head, and retries with the same bytes (maybe more of them, maybe moved) after EAGAIN.
  // An idle connection gives its read and write buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read ahead: one read(2) takes whatever the socket holds (a record's header and body, the
  // records behind it) instead of a read for the 5-byte header and another for the body. It
  // also tells TlsSession whether the socket was drained (a short read), which spares the read
  // that would only return EAGAIN (nginx reads ahead too).
  SSL_CTX_set_read_ahead(ctx, read_ahead ? 1 : 0);
}

// What every server context shares, the front one and each certificate's: versions, ciphers,
// options, modes, the session id context and the client certificate policy. A handshake that
// moves to a certificate's context keeps what its SSL copied from the front one at SSL_new
// (ciphers, options, verify mode) and takes the certificate, key and CA store from the new one.
void configure_server(SSL_CTX* ctx, const TlsOptions& options) {
  restrict_protocols(ctx);
  SSL_CTX_set_dh_auto(ctx, 1);  // DHE-RSA suites: built-in parameters matched to the key size
  // Renegotiation is a denial-of-service lever and a source of bugs; nothing here needs it.
  // Compression invites CRIME.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               (options.session_tickets ? 0 : SSL_OP_NO_TICKET) |
                               (options.kernel_tls ? SSL_OP_ENABLE_KTLS : 0));
  // Not under kernel TLS: OpenSSL 3.0 may fail to hand receiving to the kernel with bytes read
  // ahead in its buffer.
  configure_io(ctx, /*read_ahead=*/!options.kernel_tls);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  switch (options.client_auth) {
    case TlsClientAuth::kOff:
      break;
    case TlsClientAuth::kOptional:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, log_rejected_client);
      break;
    case TlsClientAuth::kRequired:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         log_rejected_client);
      break;
  }
}

void load_certificate(SSL_CTX* ctx, const TlsCertificateFiles& files) {
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_chain_file.c_str()) != 1) {
    fail(fmt::format("cannot load the certificate chain {}", files.cert_chain_file));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // Loading already compares the key with the certificate: say so in words.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      fail(fmt::format("the private key {} does not match the certificate {}", files.key_file,
                       files.cert_chain_file));
    }
    fail(fmt::format("cannot load the private key {}", files.key_file));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    fail(fmt::format("the private key {} does not match the certificate {}", files.key_file,
                     files.cert_chain_file));
  }
}

void load_client_ca(SSL_CTX* ctx, const std::string& ca_file) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    fail(fmt::format("cannot load the client CA file {}", ca_file));
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (names == nullptr) fail(fmt::format("no CA names in the client CA file {}", ca_file));
  SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
}

using SslCtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

SslCtxPtr new_server_ctx() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (ctx == nullptr) fail("cannot create a context");
  return ctx;
}

}  // namespace

struct TlsContext::Certificates {
  std::vector<SslCtxPtr> contexts;  // the default first

  // The context whose certificate covers `server_name` (SNI), else the default.
  [[nodiscard]] SSL_CTX* for_server_name(const char* server_name) const {
    if (server_name != nullptr) {
      for (const SslCtxPtr& ctx : contexts) {
        if (X509_check_host(SSL_CTX_get0_certificate(ctx.get()), server_name, 0, 0, nullptr) == 1) {
          return ctx.get();
        }
      }
    }
    return contexts.front().get();
  }

  // Throws std::runtime_error (naming the file) if one cannot be loaded; nothing is kept then.
  static std::shared_ptr<const Certificates> load(const TlsOptions& options,
                                                  std::string* alpn_wire);
};

std::shared_ptr<const TlsContext::Certificates> TlsContext::Certificates::load(
    const TlsOptions& options, std::string* alpn_wire) {
  auto certificates = std::make_shared<Certificates>();
  std::vector<TlsCertificateFiles> all{{options.cert_chain_file, options.key_file}};
  all.insert(all.end(), options.sni_certificates.begin(), options.sni_certificates.end());
  for (const TlsCertificateFiles& files : all) {
    SslCtxPtr ctx = new_server_ctx();
    configure_server(ctx.get(), options);
    load_certificate(ctx.get(), files);
    if (options.client_auth != TlsClientAuth::kOff) {
      load_client_ca(ctx.get(), options.client_ca_file);
    }
    // ALPN runs after the servername callback, on the context it moved to.
    if (!alpn_wire->empty()) SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, alpn_wire);
    certificates->contexts.push_back(std::move(ctx));
  }
  return certificates;
}

std::shared_ptr<TlsContext> TlsContext::create(const TlsOptions& options) {
  ERR_clear_error();
  if (options.client_auth != TlsClientAuth::kOff && options.client_ca_file.empty()) {
    throw std::runtime_error("TLS: client certificates need a CA file (client_ca_file)");
  }
  SslCtxPtr front = new_server_ctx();
  configure_server(front.get(), options);
  // Owned by the TlsContext from here, so a throw below frees it.
  std::shared_ptr<TlsContext> context(new TlsContext(front.release(), options));

  for (const std::string& protocol : options.alpn) {
    if (protocol.empty() || protocol.size() > 255) {
      throw std::runtime_error(fmt::format("TLS: bad ALPN protocol name '{}'", protocol));
    }
    context->alpn_wire_.push_back(static_cast<char>(protocol.size()));
    context->alpn_wire_.append(protocol);
  }
  context->certificates_ = Certificates::load(options, &context->alpn_wire_);
  // SSL_CTX_set_tlsext_servername_callback() without its C cast (-Wold-style-cast).
  SSL_CTX_callback_ctrl(context->ctx_, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(select_certificate));
  SSL_CTX_set_tlsext_servername_arg(context->ctx_, context.get());
  return context;
}

int TlsContext::select_certificate(SSL* ssl, int* /*alert*/, void* self) {
  // A copy of the current set: a reload may replace it meanwhile, and SSL_set_SSL_CTX takes its
  // own reference to the context it moves to, so the old set may go once this returns.
  const std::shared_ptr<const Certificates> certificates =
      static_cast<const TlsContext*>(self)->certificates();
  SSL_CTX* chosen =
      certificates->for_server_name(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
  if (SSL_set_SSL_CTX(ssl, chosen) == nullptr) return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<const TlsContext::Certificates> TlsContext::certificates() const {
  std::lock_guard lock(certificates_mutex_);
  return certificates_;
}

void TlsContext::reload() {
  ERR_clear_error();
  std::shared_ptr<const Certificates> loaded = Certificates::load(options_, &alpn_wire_);
  std::lock_guard lock(certificates_mutex_);
  certificates_.swap(loaded);  // the old set goes when `loaded` does, outside the lock
}

std::string TlsContext::describe_certificates() const {
  const std::shared_ptr<const Certificates> certificates = this->certificates();
  std::string text;
  if (certificates == nullptr) return text;
  for (const SslCtxPtr& ctx : certificates->contexts) {
    const X509* certificate = SSL_CTX_get0_certificate(ctx.get());
    if (!text.empty()) text.append("; ");
    text.append(fmt::format("{} expires {}", x509_subject(certificate), x509_expiry(certificate)));
  }
  return text;
}

TlsContext::TlsContext(ssl_ctx_st* ctx, TlsOptions options)
    : ctx_(ctx), options_(std::move(options)) {}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

// ---- The connect side ------------------------------------------------------------------------

std::shared_ptr<TlsContext> TlsContext::create_client(const TlsClientOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) fail("cannot create a client context");
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, TlsOptions{}));
  context->client_ = true;
  context->verify_peer_ = options.verify_peer;

  restrict_protocols(ctx);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  configure_io(ctx, /*read_ahead=*/true);

  if (options.verify_peer) {
    const int loaded = options.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      fail(options.ca_file.empty() ? std::string("cannot load the system's CA store")
                                   : fmt::format("cannot load the CA file {}", options.ca_file));
    }
    // The handshake fails on a bad certificate; the session reads the reason afterwards.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }

  if (options.cert_chain_file.empty() != options.key_file.empty()) {
    throw std::runtime_error("TLS: a client certificate needs both its chain and its key");
  }
  if (!options.cert_chain_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_chain_file.c_str()) != 1) {
      fail(fmt::format("cannot load the client certificate chain {}", options.cert_chain_file));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      fail(fmt::format("cannot load the client key {} (or it does not match {})", options.key_file,
                       options.cert_chain_file));
    }
  }

  if (options.session_cache_servers > 0) {
    // The sessions go to our own cache, keyed by server: OpenSSL's client cache would not know
    // which server a session is for.
    context->client_sessions_ = std::make_unique<TlsClientSessions>(options.session_cache_servers);
    SSL_CTX_set_app_data(ctx, context.get());
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &TlsContext::keep_client_session);
  }

  std::string wire;
  for (const std::string& protocol : options.alpn) {
    if (protocol.empty() || protocol.size() > 255) {
      throw std::runtime_error(fmt::format("TLS: bad ALPN protocol name '{}'", protocol));
    }
    wire.push_back(static_cast<char>(protocol.size()));
    wire.append(protocol);
  }
  // Unlike most of OpenSSL, this one returns 0 on success.
  if (!wire.empty() &&
      SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size())) != 0) {
    fail("cannot set the ALPN protocols");
  }
  return context;
}

int TlsContext::keep_client_session(SSL* ssl, SSL_SESSION* session) {
  const auto* context = static_cast<const TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  // The key TlsSession put on its SSL: the server's address and name.
  const auto* server = static_cast<const std::string*>(SSL_get_app_data(ssl));
  if (context == nullptr || context->client_sessions_ == nullptr || server == nullptr ||
      SSL_SESSION_is_resumable(session) != 1) {
    return 0;  // not kept: OpenSSL releases it
  }
  context->client_sessions_->put(*server, session);
  return 1;  // kept, with the reference OpenSSL gave
}

ssl_session_st* TlsContext::client_session(const std::string& server) const {
  return client_sessions_ == nullptr ? nullptr : client_sessions_->get(server);
}

void TlsContext::forget_client_session(const std::string& server) const {
  if (client_sessions_ != nullptr) client_sessions_->forget(server);
}

std::size_t TlsContext::client_sessions() const {
  return client_sessions_ == nullptr ? 0 : client_sessions_->size();
}

}  // namespace lf
