#include "lf/net/tls_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <stdexcept>
#include <utility>

#include "lf/net/tls_error.h"

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

}  // namespace

std::shared_ptr<TlsContext> TlsContext::create(const TlsOptions& options) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) fail("cannot create a context");
  // Owned by the TlsContext from here, so a throw below frees it.
  std::shared_ptr<TlsContext> context(new TlsContext(ctx, options));

  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    fail("cannot restrict the protocol versions to TLS 1.2 and 1.3");
  }
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) fail("bad TLS 1.2 cipher list");
  if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) fail("bad TLS 1.3 cipher suites");
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) fail("bad key exchange groups");
  SSL_CTX_set_dh_auto(ctx, 1);  // DHE-RSA suites: built-in parameters matched to the key size
  // Renegotiation is a denial-of-service lever and a source of bugs; nothing here needs it.
  // Compression invites CRIME. An idle connection gives its read and write buffers back.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               (options.session_tickets ? 0 : SSL_OP_NO_TICKET) |
                               (options.kernel_tls ? SSL_OP_ENABLE_KTLS : 0));
  // Partial writes and a moving buffer: the output queue hands SSL_write whatever it holds at
  // the head, and retries with the same bytes (maybe more of them, maybe moved) after EAGAIN.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);

  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_chain_file.c_str()) != 1) {
    fail(fmt::format("cannot load the certificate chain {}", options.cert_chain_file));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // Loading already compares the key with the certificate: say so in words.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      fail(fmt::format("the private key {} does not match the certificate {}", options.key_file,
                       options.cert_chain_file));
    }
    fail(fmt::format("cannot load the private key {}", options.key_file));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    fail(fmt::format("the private key {} does not match the certificate {}", options.key_file,
                     options.cert_chain_file));
  }

  for (const std::string& protocol : options.alpn) {
    if (protocol.empty() || protocol.size() > 255) {
      throw std::runtime_error(fmt::format("TLS: bad ALPN protocol name '{}'", protocol));
    }
    context->alpn_wire_.push_back(static_cast<char>(protocol.size()));
    context->alpn_wire_.append(protocol);
  }
  if (!context->alpn_wire_.empty()) {
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &context->alpn_wire_);
  }
  return context;
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

  // The server's policy, so that lf talking to lf never negotiates less than either accepts.
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    fail("cannot restrict the protocol versions to TLS 1.2 and 1.3");
  }
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) fail("bad TLS 1.2 cipher list");
  if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) fail("bad TLS 1.3 cipher suites");
  if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) fail("bad key exchange groups");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

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

}  // namespace lf
