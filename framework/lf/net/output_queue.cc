#include "lf/net/output_queue.h"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/net/tls_session.h"

namespace lf {

void OutputQueue::append(std::string_view data) {
  tail().append(data);
  bytes_ += data.size();
}

void OutputQueue::append(Buffer& data) {
  const std::size_t n = data.readable_bytes();
  if (n == 0) return;
  if (empty()) {
    head_.swap(data);  // the caller keeps our empty storage
    data.retrieve_all();
  } else {
    tail().append(data.view());
    data.retrieve_all();
  }
  bytes_ += n;
}

void OutputQueue::append_file(UniqueFd file, std::uint64_t offset, std::uint64_t count) {
  files_.push_back(FileRange{std::move(file), offset, count, Buffer::unallocated()});
}

void OutputQueue::splice(OutputQueue& other) {
  if (other.empty()) return;
  if (empty() && head_.capacity() == 0) {
    std::swap(head_, other.head_);
  } else {
    tail().append(other.head_.view());
    other.head_ = Buffer::unallocated();
  }
  files_.splice(files_.end(), other.files_);
  bytes_ += std::exchange(other.bytes_, 0);
}

OutputQueue::WriteResult OutputQueue::write_to(int fd) {
  std::uint64_t written = 0;
  while (!empty()) {
    ssize_t n = 0;
    if (head_.readable_bytes() > 0) {
      n = ::send(fd, head_.peek(), head_.readable_bytes(), MSG_NOSIGNAL);
      if (n > 0) {
        head_.retrieve(static_cast<std::size_t>(n));
        bytes_ -= static_cast<std::size_t>(n);
      }
    } else {
      FileRange& range = files_.front();
      auto offset = static_cast<off_t>(range.offset);
      n = ::sendfile(fd, range.file.get(), &offset,
                     static_cast<std::size_t>(std::min<std::uint64_t>(range.remaining, 1u << 30)));
      if (n == 0) return {WriteStatus::kFileEnded, written};
      if (n > 0) {
        range.offset += static_cast<std::uint64_t>(n);
        range.remaining -= static_cast<std::uint64_t>(n);
        if (range.remaining == 0) {
          head_.swap(range.after);  // the bytes queued behind this file are next
          files_.pop_front();
        }
      }
    }
    if (n > 0) {
      written += static_cast<std::uint64_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return {WriteStatus::kBlocked, written};
    } else if (errno != EINTR) {
      return {WriteStatus::kPeerGone, written};
    }
  }
  return {WriteStatus::kEmptied, written};
}

namespace {
// Bytes staged per TLS write (file bytes per pread; queue bytes under kernel TLS): four full
// records.
constexpr std::size_t kTlsStageChunk = 64 * 1024;
// One SSL_sendfile call's most: bounded so that one large file does not hold the thread for long.
constexpr std::size_t kMaxSendfileChunk = 1024 * 1024;

// Counts a file sent over TLS, and says once per process and way which way files go: whether
// kernel TLS is in use is a property of the kernel and the cipher, so an operator needs to see it.
void count_tls_file(bool by_kernel) {
  metrics::add(by_kernel ? metrics::Counter::kTlsFilesByKernel : metrics::Counter::kTlsFilesByCopy);
  static std::atomic<bool> told_kernel{false};
  static std::atomic<bool> told_copy{false};
  if ((by_kernel ? told_kernel : told_copy).exchange(true, std::memory_order_relaxed)) return;
  if (by_kernel) {
    LF_LOG_INFO("TLS send_file: kernel TLS sends files (SSL_sendfile, no copy through user space)");
  } else {
    LF_LOG_INFO(
        "TLS send_file: files are read and encrypted in user space (pread + SSL_write): kernel TLS "
        "is not in use (the kernel's tls module is not loaded, or the cipher is not offloaded)");
  }
}
}  // namespace

OutputQueue::WriteResult OutputQueue::write_to(TlsSession& tls) {
  std::uint64_t written = 0;
  while (!empty()) {
    TlsSession::Result result{TlsSession::Status::kOk};
    if (head_.readable_bytes() > 0) {
      if (tls.kernel_sends()) {
        // OpenSSL hands the kernel our memory and resends from that address after a want, but
        // head_ may move its bytes meanwhile (appends compact or grow it): send from the stage,
        // which holds a copy of head_'s first bytes and does not change until they are taken.
        Buffer& stage = tls.write_stage();
        if (stage.readable_bytes() == 0) {
          stage.append(head_.peek(), std::min(head_.readable_bytes(), kTlsStageChunk));
        }
        result = tls.write(stage.peek(), stage.readable_bytes());
        if (result.status == TlsSession::Status::kOk) stage.retrieve(result.bytes);
      } else {
        // OpenSSL encrypts into its own buffer and resends from there: head_ may move.
        result = tls.write(head_.peek(), head_.readable_bytes());
      }
      if (result.status == TlsSession::Status::kOk) {
        head_.retrieve(result.bytes);
        bytes_ -= result.bytes;
      }
    } else {
      FileRange& range = files_.front();
      Buffer& stage = tls.write_stage();
      const bool by_kernel = stage.readable_bytes() == 0 && tls.kernel_sends();
      if (by_kernel) {
        // The kernel reads the file and encrypts: nothing is staged, as with plain sendfile(2).
        result = tls.send_file(
            range.file.get(), range.offset,
            static_cast<std::size_t>(std::min<std::uint64_t>(range.remaining, kMaxSendfileChunk)));
        if (result.status == TlsSession::Status::kOk && result.bytes == 0) {
          return {WriteStatus::kFileEnded, written};  // shorter than its range, as for sendfile(2)
        }
      } else {
        // The stage holds the range's next bytes; the range advances only by what SSL_write
        // took, so a write retried after a want starts with the same bytes, as OpenSSL requires.
        if (stage.readable_bytes() == 0) {
          const auto want =
              static_cast<std::size_t>(std::min<std::uint64_t>(range.remaining, kTlsStageChunk));
          stage.ensure_writable(want);
          const ssize_t n = ::pread(range.file.get(), stage.begin_write(), want,
                                    static_cast<off_t>(range.offset));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return {WriteStatus::kFileEnded, written};  // short file, or unreadable
          stage.has_written(static_cast<std::size_t>(n));
        }
        result = tls.write(stage.peek(), stage.readable_bytes());
        if (result.status == TlsSession::Status::kOk) stage.retrieve(result.bytes);
      }
      if (result.status == TlsSession::Status::kOk) {
        range.offset += result.bytes;
        range.remaining -= result.bytes;
        if (range.remaining == 0) {
          count_tls_file(by_kernel);
          head_.swap(range.after);
          files_.pop_front();
          if (files_.empty()) stage = Buffer::unallocated();
        }
      }
    }
    switch (result.status) {
      case TlsSession::Status::kOk:
        written += result.bytes;
        break;
      case TlsSession::Status::kWantWrite:
        return {WriteStatus::kBlocked, written};
      case TlsSession::Status::kWantRead:
        return {WriteStatus::kBlockedOnRead, written};
      default:
        return {WriteStatus::kTlsFailed, written};
    }
  }
  return {WriteStatus::kEmptied, written};
}

void OutputQueue::clear() noexcept {
  head_ = Buffer::unallocated();
  files_.clear();
  bytes_ = 0;
}

}  // namespace lf
