#include "lf/net/tls_session.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "lf/net/inet_address.h"
#include "lf/net/tls_context.h"
#include "lf/net/tls_error.h"
#include "lf/net/x509_text.h"

namespace lf {

namespace {
// A TLS record carries at most 16 KiB of plaintext: room for one lets SSL_read hand over a whole
// record per call instead of keeping a remainder.
constexpr std::size_t kRecordPlaintext = 16 * 1024;
}  // namespace

std::string tls_error_string() {
  std::string text;
  char line[256];
  while (const unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, line, sizeof line);
    if (!text.empty()) text.append("; ");
    text.append(line);
  }
  return text.empty() ? std::string("no error reported") : text;
}

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, int fd)
    : context_(std::move(context)), ssl_(SSL_new(context_->native_handle())) {
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd) != 1) {
    const std::string why = tls_error_string();
    SSL_free(ssl_);
    throw std::runtime_error(fmt::format("TLS: cannot create a session: {}", why));
  }
  watch_socket_reads();
  SSL_set_accept_state(ssl_);
}

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, int fd,
                       std::string_view server_name, const InetAddress& peer)
    : context_(std::move(context)), ssl_(SSL_new(context_->native_handle())), client_(true) {
  const bool name_is_ip = server_name.empty() || InetAddress::parse(server_name, 0).has_value();
  const std::string name(name_is_ip ? std::string_view() : server_name);
  const std::string ip(server_name.empty() ? peer.ip() : std::string(server_name));
  bool ok = ssl_ != nullptr && SSL_set_fd(ssl_, fd) == 1;
  // SNI carries host names only (RFC 6066): a connect by address sends none.
  // SSL_set_tlsext_host_name() spelled out: the macro's C cast trips -Wold-style-cast.
  if (ok && !name.empty()) {
    ok = SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(name.c_str())) == 1;
  }
  if (ok && context_->verifies_peer()) {
    ok = name.empty() ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), ip.c_str()) == 1
                      : SSL_set1_host(ssl_, name.c_str()) == 1;
  }
  if (!ok) {
    const std::string why = tls_error_string();
    SSL_free(ssl_);
    throw std::runtime_error(fmt::format("TLS: cannot create a client session for '{}': {}",
                                         name.empty() ? ip : name, why));
  }
  // A session is for the server it came from, checked under the same name.
  resume_key_ = fmt::format("{} {}", peer.to_string(), name.empty() ? ip : name);
  SSL_set_app_data(ssl_, &resume_key_);
  if (SSL_SESSION* kept = context_->client_session(resume_key_)) {
    SSL_set_session(ssl_, kept);  // takes its own reference
    SSL_SESSION_free(kept);
  }
  watch_socket_reads();
  SSL_set_connect_state(ssl_);
}

TlsSession::~TlsSession() { release(); }

void TlsSession::watch_socket_reads() noexcept {
  BIO* socket = SSL_get_rbio(ssl_);
  BIO_set_callback_arg(socket, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(socket, &TlsSession::note_socket_read);
}

long TlsSession::note_socket_read(BIO* bio, int operation, const char*, std::size_t size, int, long,
                                  int ret, std::size_t* processed) {
  // Called before and after every operation on the BIO; what it returns becomes the
  // operation's result, so `ret` goes back unchanged.
  if (operation == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* self = reinterpret_cast<TlsSession*>(BIO_get_callback_arg(bio));
    // An error or EOF is no short read: the caller reads on and sees it.
    self->socket_drained_ = ret > 0 && processed != nullptr && *processed < size;
  }
  return ret;
}

bool TlsSession::input_drained() const noexcept {
  // Under kernel TLS receive a read returns one record: short, whatever else waits.
  return socket_drained_ && ssl_ != nullptr && !holds_input() &&
         BIO_get_ktls_recv(SSL_get_rbio(ssl_)) == 0;
}

void TlsSession::release() noexcept {
  // OpenSSL drops from the server's cache the session of an SSL freed without a close_notify
  // sent. Our closes without one (idle timeout, reset, drain, a handler's abort) are no reason to
  // give that client a full handshake next time, and TLS 1.1+ allow resuming after them; marked
  // shut down as nginx does. A failure that sent a fatal alert has removed the session already.
  if (ssl_ != nullptr && established_) {
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
  SSL_free(ssl_);
  ssl_ = nullptr;
  failed_ = true;
  write_stage_ = Buffer::unallocated();
}

void TlsSession::prepare_call() noexcept {
  // SSL_get_error() reads the calling thread's error queue, which must be empty before the call:
  // under Leader/Followers a thread runs many connections, and one's leftovers must not make
  // another's want-read look like a failure. errno likewise: an EOF sets none.
  ERR_clear_error();
  errno = 0;
}

TlsSession::Status TlsSession::handshake() {
  if (failed_) return Status::kFailed;
  prepare_call();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    established_ = true;
    return Status::kOk;
  }
  const Status status = classify(ret);
  // The next connection to this server starts afresh rather than offering the session again.
  if (client_ && (status == Status::kFailed || status == Status::kTruncated)) {
    context_->forget_client_session(resume_key_);
  }
  return status;
}

TlsSession::Result TlsSession::read(Buffer& input) {
  if (failed_) return {Status::kFailed};
  input.ensure_writable(kRecordPlaintext);
  std::size_t n = 0;
  prepare_call();
  const int ret = SSL_read_ex(ssl_, input.begin_write(), input.writable_bytes(), &n);
  if (ret == 1) {
    input.has_written(n);
    return {Status::kOk, n};
  }
  return {classify(ret)};
}

TlsSession::Result TlsSession::write(const char* data, std::size_t size) {
  if (failed_) return {Status::kFailed};
  std::size_t n = 0;
  prepare_call();
  const int ret = SSL_write_ex(ssl_, data, size, &n);
  if (ret == 1) return {Status::kOk, n};
  return {classify(ret)};
}

bool TlsSession::kernel_sends() const noexcept {
  return ssl_ != nullptr && BIO_get_ktls_send(SSL_get_wbio(ssl_)) != 0;
}

TlsSession::Result TlsSession::send_file(int fd, std::uint64_t offset, std::size_t size) {
  if (failed_) return {Status::kFailed};
  prepare_call();
  const ossl_ssize_t ret = SSL_sendfile(ssl_, fd, static_cast<off_t>(offset), size, 0);
  if (ret >= 0) return {Status::kOk, static_cast<std::size_t>(ret)};  // 0: at the file's end
  return {classify(static_cast<int>(ret))};
}

TlsSession::Status TlsSession::send_close_notify() {
  if (!can_close_cleanly()) return Status::kOk;
  // 0: sent, the peer's close_notify not seen yet; 1: both sent. Either way ours is out; reads
  // go on until the peer's arrives.
  prepare_call();
  const int ret = SSL_shutdown(ssl_);
  if (ret >= 0) {
    close_notify_sent_ = true;
    return Status::kOk;
  }
  const Status status = classify(ret);
  if (status == Status::kWantWrite || status == Status::kWantRead) return Status::kWantWrite;
  close_notify_sent_ = true;  // failed: nothing more will be sent
  return Status::kOk;
}

TlsSession::Status TlsSession::classify(int ret) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Status::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Status::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      ERR_clear_error();
      if (saved_errno == 0) {
        failure_ = "the peer closed the connection";
        return Status::kTruncated;
      }
      system_error_ = saved_errno;
      failure_ = std::system_category().message(saved_errno);  // thread safe, unlike strerror
      return Status::kFailed;
    case SSL_ERROR_SSL: {
      failed_ = true;
      // OpenSSL 3 reports an EOF without close_notify as this error (SSL_OP_IGNORE_UNEXPECTED_EOF
      // is off on purpose: a truncation must not pass for a clean end).
      if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        failure_ = "the peer closed the connection";
        return Status::kTruncated;
      }
      failure_ = tls_error_string();
      // "certificate verify failed" alone does not say what to fix: add the verifier's reason.
      if (client_ && !established_) {
        const long verdict = SSL_get_verify_result(ssl_);
        if (verdict != X509_V_OK) {
          failure_ = fmt::format("the server's certificate was rejected: {} ({})",
                                 X509_verify_cert_error_string(verdict), failure_);
        }
      }
      return Status::kFailed;
    }
    default:
      failed_ = true;
      failure_ = tls_error_string();
      return Status::kFailed;
  }
}

std::string TlsSession::description() const {
  if (ssl_ == nullptr) return "closed";
  return fmt::format("{} {}", SSL_get_version(ssl_), SSL_get_cipher_name(ssl_));
}

bool TlsSession::holds_input() const noexcept {
  return ssl_ != nullptr && SSL_has_pending(ssl_) == 1;
}

bool TlsSession::resumed() const noexcept {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

std::string TlsSession::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* name = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl_, &name, &size);
  return name == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(name), size);
}

std::string TlsSession::peer_certificate_subject() const {
  if (ssl_ == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  return x509_subject(SSL_get0_peer_certificate(ssl_));
}

}  // namespace lf
