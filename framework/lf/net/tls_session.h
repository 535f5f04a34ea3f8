// Internal. TlsSession: one connection's TLS state (an OpenSSL SSL object) over the connection's
// non-blocking socket; StreamConnection uses it in place of plain reads and writes when its
// listener has a TlsContext. Not thread safe: the connection's running thread owns it.
//
// OpenSSL reads and writes the socket itself (SSL_set_fd) rather than through memory BIOs: no
// extra copy and no extra buffers per connection, and its wants map directly onto epoll. An
// operation that cannot go on says what it waits for (kWantRead: the socket to become readable,
// kWantWrite: writable); OpenSSL has then seen EAGAIN, so an edge-triggered handle gets a new
// edge when that changes. A read may want write (a key update's answer) and a write may want
// read; the connection watches for what is wanted, not for what it was doing.
//
// Writes go out with write(2), which raises SIGPIPE on a closed socket: the Server ignores
// SIGPIPE (lf/base/signals.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lf/net/buffer.h"

struct ssl_st;
struct bio_st;

namespace lf {

class InetAddress;
class TlsContext;

class TlsSession {
 public:
  enum class Status {
    kOk,
    kWantRead,   // wait until the socket is readable, then call again
    kWantWrite,  // wait until the socket is writable, then call again
    kClosed,     // the peer sent close_notify: a clean end of its data
    kTruncated,  // the peer closed the TCP connection without close_notify
    kFailed,     // a protocol or socket error: failure() says which; the session is unusable
  };
  struct Result {
    Status status;
    std::size_t bytes = 0;  // moved, when kOk
  };

  // A server-side session on the connected socket `fd` (not owned). Throws std::runtime_error
  // if OpenSSL cannot create it. Holds the context: its ALPN list is read during handshakes.
  TlsSession(std::shared_ptr<const TlsContext> context, int fd);
  // A client-side session (a context from TlsContext::create_client()) on the socket `fd`. It
  // sends `server_name` as SNI and, if the context verifies the peer, the certificate must be
  // for that name. With no name (or an IP literal) no SNI is sent and the certificate must name
  // the IP address of `peer`, the address connected to, as curl does for https://127.0.0.1/.
  // It offers the session the context kept from its last connection to `peer` under the same
  // name (TlsClientOptions::session_cache_servers), and a failed handshake drops that session.
  // Throws like above.
  TlsSession(std::shared_ptr<const TlsContext> context, int fd, std::string_view server_name,
             const InetAddress& peer);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Drives the handshake: kOk once it is complete, else what it waits for, or a failure.
  [[nodiscard]] Status handshake();
  [[nodiscard]] bool established() const noexcept { return established_; }
  // Decrypts into `input` (growing it to take a full record). kOk with the bytes read.
  [[nodiscard]] Result read(Buffer& input);
  // Encrypts and sends from `data` (size > 0). kOk with the bytes taken, possibly fewer than
  // `size`. After a want, the next call must start with the same bytes (the output queue keeps
  // them at its head until they are taken).
  [[nodiscard]] Result write(const char* data, std::size_t size);
  // Whether a read may stop without asking the socket again: OpenSSL holds no byte not yet
  // returned, and its last read(2) of the socket got fewer bytes than it asked for (the socket
  // was empty then; anything arriving since is a new edge for an edge-triggered handle, and is
  // reported again when a level-triggered one is re-armed).
  [[nodiscard]] bool input_drained() const noexcept;
  // Forgets the last read's shortness: called as a round of events starts. A read made before
  // the round's events were taken says nothing of bytes whose edge the round took (records
  // left in OpenSSL's buffer are read without asking the socket), so only a short read made
  // during the round may end it.
  void forget_socket_reads() noexcept { socket_drained_ = false; }
  // Whether OpenSSL holds bytes of the peer not yet returned by read() (a record or its start).
  [[nodiscard]] bool holds_input() const noexcept;
  // Whether the kernel encrypts what this session sends (kernel TLS took over after the
  // handshake): send_file() may then be used.
  [[nodiscard]] bool kernel_sends() const noexcept;
  // Sends `size` bytes of the file `fd` from `offset` through kernel TLS (SSL_sendfile): no copy
  // through user space. Only when kernel_sends(). kOk with the bytes sent, possibly fewer; kOk
  // with none when the file has no byte at `offset` (it became shorter).
  [[nodiscard]] Result send_file(int fd, std::uint64_t offset, std::size_t size);
  // Sends close_notify (once). kOk once it is sent, kWantWrite while the socket is full; a
  // failed session sends nothing and reports kOk (there is nothing cleaner to do).
  [[nodiscard]] Status send_close_notify();
  // Whether close_notify may still be sent: established, not failed, not sent yet.
  [[nodiscard]] bool can_close_cleanly() const noexcept {
    return established_ && !failed_ && !close_notify_sent_;
  }

  // Why the last operation failed (kFailed, kTruncated): OpenSSL's reasons or the socket's.
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }
  // The protocol and cipher after the handshake ("TLSv1.3 TLS_AES_128_GCM_SHA256").
  [[nodiscard]] std::string description() const;
  // The ALPN protocol chosen (empty if none).
  [[nodiscard]] std::string alpn() const;
  // Whether the handshake resumed an earlier session (a ticket or session id) instead of a full
  // key exchange.
  [[nodiscard]] bool resumed() const noexcept;
  // The subject of the peer's certificate ("CN=alice,O=Example") if it sent one and it passed
  // verification (TlsOptions::client_auth); empty otherwise.
  [[nodiscard]] std::string peer_certificate_subject() const;

  // Bytes handed to SSL_write that must not move until it has taken them: file bytes read for
  // sending without kernel TLS, and, under kernel TLS, the output queue's own bytes (OpenSSL
  // 3.0 then sends from the caller's memory, and a retry after a want resends from the same
  // address, where the queue may since have moved its bytes). Empty between writes.
  [[nodiscard]] Buffer& write_stage() noexcept { return write_stage_; }
  // The socket's errno when the last operation failed on a system call (a reset: ECONNRESET,
  // EPIPE); 0 for a protocol failure or a clean end.
  [[nodiscard]] int system_error() const noexcept { return system_error_; }

  // Frees OpenSSL's state (at close): the session only answers kFailed afterwards.
  void release() noexcept;

 private:
  // Watches the socket BIO's reads (BIO_set_callback_ex) to note short ones in socket_drained_.
  void watch_socket_reads() noexcept;
  // The callback: called around every operation on the BIO.
  static long note_socket_read(bio_st* bio, int operation, const char* data, std::size_t size,
                               int, long, int ret, std::size_t* processed);
  // Before every SSL call: empties this thread's OpenSSL error queue and errno.
  static void prepare_call() noexcept;
  // Maps the result `ret` of an SSL call onto a Status, recording a failure.
  Status classify(int ret);

  std::shared_ptr<const TlsContext> context_;
  ssl_st* ssl_;
  bool established_ = false;
  bool failed_ = false;
  bool close_notify_sent_ = false;
  bool client_ = false;
  // Client side: the server's address and name, the key of its session in the context's cache
  // (also the SSL's app data, read by the context's new-session callback).
  std::string resume_key_;
  bool socket_drained_ = false;  // the last read(2) returned fewer bytes than asked
  std::string failure_;
  Buffer write_stage_ = Buffer::unallocated();
  int system_error_ = 0;
};

}  // namespace lf
