#include "lf/net/buffer.h"

#include <endian.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <utility>

namespace lf {

Buffer::Buffer(std::size_t initial_size)
    : buffer_(kCheapPrepend + initial_size),
      reader_index_(kCheapPrepend),
      writer_index_(kCheapPrepend) {}

// Swapping with an empty buffer leaves the source without storage and with zero indices, a state
// every member function handles, so moving never allocates and cannot throw.
Buffer::Buffer(Buffer&& other) noexcept : reader_index_(0), writer_index_(0) { swap(other); }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  Buffer taken(std::move(other));
  swap(taken);
  return *this;
}

const char* Buffer::find_crlf() const noexcept { return find_crlf(peek()); }

const char* Buffer::find_crlf(const char* start) const noexcept {
  assert(peek() <= start && start <= begin_write());
  const std::string_view rest(start, static_cast<std::size_t>(begin_write() - start));
  const std::size_t pos = rest.find("\r\n");
  return pos == std::string_view::npos ? nullptr : start + pos;
}

const char* Buffer::find_eol() const noexcept { return find_eol(peek()); }

const char* Buffer::find_eol(const char* start) const noexcept {
  assert(peek() <= start && start <= begin_write());
  const std::string_view rest(start, static_cast<std::size_t>(begin_write() - start));
  const std::size_t pos = rest.find('\n');
  return pos == std::string_view::npos ? nullptr : start + pos;
}

void Buffer::retrieve(std::size_t n) {
  assert(n <= readable_bytes());
  if (n < readable_bytes()) {
    reader_index_ += n;
  } else {
    retrieve_all();
  }
}

void Buffer::retrieve_until(const char* end) {
  assert(peek() <= end && end <= begin_write());
  retrieve(static_cast<std::size_t>(end - peek()));
}

std::string Buffer::retrieve_as_string(std::size_t n) {
  assert(n <= readable_bytes());
  n = std::min(n, readable_bytes());  // Never read past the data when asserts are off.
  std::string result(peek(), n);
  retrieve(n);
  return result;
}

std::string Buffer::retrieve_all_as_string() { return retrieve_as_string(readable_bytes()); }

void Buffer::append(std::string_view data) { append(data.data(), data.size()); }

void Buffer::append(const void* data, std::size_t n) {
  if (n == 0) return;  // data may be null then, and memcpy must not see a null pointer.
  const char* src = static_cast<const char*>(data);
  const std::less<const char*> before;
  const bool aliases_storage =
      !before(src, buffer_.data()) && before(src, buffer_.data() + buffer_.size());
  if (aliases_storage && writable_bytes() < n) {
    // Making space would move or free the bytes we are about to copy, so copy them out first.
    const std::string copy(src, n);
    append(copy.data(), copy.size());
    return;
  }
  ensure_writable(n);
  std::memcpy(begin_write(), src, n);
  has_written(n);
}

void Buffer::ensure_writable(std::size_t n) {
  if (writable_bytes() < n) make_space(n);
  assert(writable_bytes() >= n);
}

void Buffer::make_space(std::size_t n) {
  const std::size_t readable = readable_bytes();
  if (prependable_bytes() + writable_bytes() >= kCheapPrepend + n) {
    // Enough room already exists, just split between the two ends: slide the data to the front
    // rather than allocating.
    std::memmove(begin() + kCheapPrepend, peek(), readable);
    reader_index_ = kCheapPrepend;
    writer_index_ = kCheapPrepend + readable;
    return;
  }
  if (n > buffer_.max_size() - kCheapPrepend - readable) {
    throw std::length_error("lf::Buffer: requested size is too large");
  }
  // At least double, so that many small appends cost amortised constant time.
  reallocate(std::max(kCheapPrepend + readable + n, 2 * buffer_.size()));
}

void Buffer::reallocate(std::size_t new_size) {
  const std::size_t readable = readable_bytes();
  assert(new_size >= kCheapPrepend + readable);
  // Fresh storage of the exact size: only the live bytes are copied.
  Storage fresh(new_size);
  if (readable > 0) std::memcpy(fresh.data() + kCheapPrepend, peek(), readable);
  buffer_.swap(fresh);
  reader_index_ = kCheapPrepend;
  writer_index_ = kCheapPrepend + readable;
}

void Buffer::has_written(std::size_t n) {
  assert(n <= writable_bytes());
  writer_index_ += n;
}

void Buffer::unwrite(std::size_t n) {
  assert(n <= readable_bytes());
  writer_index_ -= n;
}

void Buffer::prepend(const void* data, std::size_t n) {
  assert(n <= prependable_bytes());
  if (n == 0) return;
  reader_index_ -= n;
  std::memcpy(begin() + reader_index_, data, n);
}

void Buffer::append_int8(std::int8_t x) { append(&x, sizeof x); }

void Buffer::append_int16(std::int16_t x) {
  const std::uint16_t be = htobe16(static_cast<std::uint16_t>(x));
  append(&be, sizeof be);
}

void Buffer::append_int32(std::int32_t x) {
  const std::uint32_t be = htobe32(static_cast<std::uint32_t>(x));
  append(&be, sizeof be);
}

void Buffer::append_int64(std::int64_t x) {
  const std::uint64_t be = htobe64(static_cast<std::uint64_t>(x));
  append(&be, sizeof be);
}

// memcpy rather than a pointer cast: the readable bytes have no particular alignment.
std::int8_t Buffer::peek_int8() const {
  assert(readable_bytes() >= sizeof(std::int8_t));
  std::int8_t x = 0;
  std::memcpy(&x, peek(), sizeof x);
  return x;
}

std::int16_t Buffer::peek_int16() const {
  assert(readable_bytes() >= sizeof(std::int16_t));
  std::uint16_t be = 0;
  std::memcpy(&be, peek(), sizeof be);
  return static_cast<std::int16_t>(be16toh(be));
}

std::int32_t Buffer::peek_int32() const {
  assert(readable_bytes() >= sizeof(std::int32_t));
  std::uint32_t be = 0;
  std::memcpy(&be, peek(), sizeof be);
  return static_cast<std::int32_t>(be32toh(be));
}

std::int64_t Buffer::peek_int64() const {
  assert(readable_bytes() >= sizeof(std::int64_t));
  std::uint64_t be = 0;
  std::memcpy(&be, peek(), sizeof be);
  return static_cast<std::int64_t>(be64toh(be));
}

std::int8_t Buffer::read_int8() {
  const std::int8_t x = peek_int8();
  retrieve(sizeof x);
  return x;
}

std::int16_t Buffer::read_int16() {
  const std::int16_t x = peek_int16();
  retrieve(sizeof x);
  return x;
}

std::int32_t Buffer::read_int32() {
  const std::int32_t x = peek_int32();
  retrieve(sizeof x);
  return x;
}

std::int64_t Buffer::read_int64() {
  const std::int64_t x = peek_int64();
  retrieve(sizeof x);
  return x;
}

void Buffer::prepend_int8(std::int8_t x) { prepend(&x, sizeof x); }

void Buffer::prepend_int16(std::int16_t x) {
  const std::uint16_t be = htobe16(static_cast<std::uint16_t>(x));
  prepend(&be, sizeof be);
}

void Buffer::prepend_int32(std::int32_t x) {
  const std::uint32_t be = htobe32(static_cast<std::uint32_t>(x));
  prepend(&be, sizeof be);
}

void Buffer::prepend_int64(std::int64_t x) {
  const std::uint64_t be = htobe64(static_cast<std::uint64_t>(x));
  prepend(&be, sizeof be);
}

void Buffer::shrink(std::size_t reserve) { reallocate(kCheapPrepend + readable_bytes() + reserve); }

bool Buffer::release_if_empty(std::size_t max_capacity) {
  constexpr std::size_t kDefaultStorage = kCheapPrepend + kInitialSize;
  const std::size_t held = capacity();
  // Dropping to the default size would not free anything from a buffer already that small.
  if (readable_bytes() != 0 || held <= max_capacity || held <= kDefaultStorage) return false;
  Storage(kDefaultStorage).swap(buffer_);
  reader_index_ = kCheapPrepend;
  writer_index_ = kCheapPrepend;
  return true;
}

bool Buffer::free_if_empty() noexcept {
  if (readable_bytes() != 0 || buffer_.capacity() == 0) return false;
  Storage().swap(buffer_);
  reader_index_ = 0;
  writer_index_ = 0;
  return true;
}

ssize_t Buffer::read_fd(int fd, int* saved_errno) {
  // Left uninitialised on purpose: the kernel writes it and we only read what it wrote.
  char spill[kSpillSize];
  const std::size_t writable = writable_bytes();
  // The spill area only serves a buffer with little room: a buffer that already has 64 KiB free
  // reads into that alone, so a fast sender cannot make it double on every read. One area (no
  // storage yet, or room enough) is a plain read(2), which spares the kernel copying and checking
  // an iovec array.
  ssize_t n = 0;
  if (writable == 0) {
    n = ::read(fd, spill, sizeof spill);
  } else if (writable >= kSpillSize) {
    n = ::read(fd, begin_write(), writable);
  } else {
    iovec vec[2];
    vec[0].iov_base = begin_write();
    vec[0].iov_len = writable;
    vec[1].iov_base = spill;
    vec[1].iov_len = sizeof spill;
    n = ::readv(fd, vec, 2);
  }
  if (n < 0) {
    if (saved_errno != nullptr) *saved_errno = errno;
    return n;
  }
  const auto received = static_cast<std::size_t>(n);
  if (received <= writable) {
    writer_index_ += received;
  } else {
    writer_index_ = buffer_.size();
    append(spill, received - writable);
  }
  return n;
}

}  // namespace lf
