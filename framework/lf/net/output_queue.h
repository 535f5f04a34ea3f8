// Public. OutputQueue: what a StreamConnection owes its peer, in order: bytes, and file ranges
// sent with sendfile(2), each followed by the bytes queued after it. Not thread safe: a
// connection's running thread owns its queue (docs/architecture.md, "Who owns a connection").
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string_view>

#include "lf/base/unique_fd.h"
#include "lf/net/buffer.h"

namespace lf {

class TlsSession;

class OutputQueue {
 public:
  // How write_to() ended.
  enum class WriteStatus {
    kEmptied,     // everything was written
    kBlocked,     // the socket is full (EAGAIN): write again once it is writable
    kPeerGone,    // EPIPE, ECONNRESET, ...: errno tells which
    kFileEnded,   // a file was shorter than its range: the rest cannot be sent
    kBlockedOnRead,  // TLS: the write waits for the socket to become readable
    kTlsFailed,      // TLS: the session failed (TlsSession::failure() says why)
  };
  struct WriteResult {
    WriteStatus status;
    std::uint64_t written;  // bytes the socket took
  };

  [[nodiscard]] bool empty() const noexcept { return head_.readable_bytes() == 0 && files_.empty(); }
  // Bytes held in memory (file ranges not counted).
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t files() const noexcept { return files_.size(); }

  void append(std::string_view data);
  // Queues `data`'s bytes and empties it; takes over its storage instead of copying when the
  // queue is empty.
  void append(Buffer& data);
  void append_file(UniqueFd file, std::uint64_t offset, std::uint64_t count);
  // Moves everything `other` holds behind what this queue holds; `other` ends empty.
  void splice(OutputQueue& other);
  // Writes to the socket `fd` what it takes, in order.
  [[nodiscard]] WriteResult write_to(int fd);
  // The same through a TLS session (SSL_write). File ranges go by SSL_sendfile when the kernel
  // encrypts for the session (kernel TLS); otherwise they are read with pread(2) into the
  // session's file stage and encrypted from there. Each file sent is counted by the way it went
  // (lf_tls_files_sent_by_{kernel,copy}_total).
  [[nodiscard]] WriteResult write_to(TlsSession& tls);
  // Drops everything and frees the storage.
  void clear() noexcept;

  // The first bytes to send: a connection lends it spare storage while the queue is empty
  // (StreamConnection), so a small answer allocates nothing.
  [[nodiscard]] Buffer& head() noexcept { return head_; }
  // Bytes left of the first file range, once head() is written.
  [[nodiscard]] std::uint64_t first_file_remaining() const noexcept {
    return files_.empty() ? 0 : files_.front().remaining;
  }

 private:
  struct FileRange {
    UniqueFd file;
    std::uint64_t offset;
    std::uint64_t remaining;
    Buffer after;  // bytes queued behind the file
  };
  // Where the next bytes go: behind the last file, if any.
  [[nodiscard]] Buffer& tail() noexcept { return files_.empty() ? head_ : files_.back().after; }

  Buffer head_ = Buffer::unallocated();
  std::list<FileRange> files_;  // a list: empty, it allocates nothing
  std::size_t bytes_ = 0;       // in head_ and the ranges' `after` buffers
};

}  // namespace lf
