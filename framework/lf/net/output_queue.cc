#include "lf/net/output_queue.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

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

void OutputQueue::clear() noexcept {
  head_ = Buffer::unallocated();
  files_.clear();
  bytes_ = 0;
}

}  // namespace lf
