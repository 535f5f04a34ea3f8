// Public: a growable byte buffer for socket input and output, modelled on muduo's Buffer.
// Not thread safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace lf {

// Layout of the single contiguous storage area:
//
//   | prependable bytes | readable bytes | writable bytes |
//   0           reader_index_    writer_index_          size
//
// The first kCheapPrepend bytes are kept free so that a length header can be put in front of a
// message that has already been appended without moving the message.
//
// Pointers returned by peek(), view(), find_*() and begin_write() are invalidated by any call
// that adds or removes data.
class Buffer {
 public:
  static constexpr std::size_t kCheapPrepend = 8;
  static constexpr std::size_t kInitialSize = 1024;
  // Stack area used by read_fd(), so a single read can take more than the buffer's free space.
  static constexpr std::size_t kSpillSize = 65536;

  explicit Buffer(std::size_t initial_size = kInitialSize);
  // An empty buffer with no storage yet: the first write allocates what it needs. For buffers
  // that are empty most of the time, such as a connection's input and output.
  [[nodiscard]] static Buffer unallocated() noexcept { return Buffer(Unallocated{}); }

  Buffer(const Buffer&) = default;
  Buffer& operator=(const Buffer&) = default;
  // A moved-from Buffer holds no storage and is empty, but remains fully usable.
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  ~Buffer() = default;

  [[nodiscard]] std::size_t readable_bytes() const noexcept {
    return writer_index_ - reader_index_;
  }
  [[nodiscard]] std::size_t writable_bytes() const noexcept {
    return buffer_.size() - writer_index_;
  }
  [[nodiscard]] std::size_t prependable_bytes() const noexcept { return reader_index_; }
  // Bytes of storage held, whether in use or not.
  [[nodiscard]] std::size_t capacity() const noexcept { return buffer_.capacity(); }

  // First readable byte.
  [[nodiscard]] const char* peek() const noexcept { return buffer_.data() + reader_index_; }
  // The readable bytes.
  [[nodiscard]] std::string_view view() const noexcept { return {peek(), readable_bytes()}; }

  // Position of the first "\r\n" in the readable bytes, or nullptr if there is none.
  [[nodiscard]] const char* find_crlf() const noexcept;
  // As above, searching from start, which must lie within [peek(), begin_write()].
  [[nodiscard]] const char* find_crlf(const char* start) const noexcept;
  // Position of the first '\n' in the readable bytes, or nullptr if there is none.
  [[nodiscard]] const char* find_eol() const noexcept;
  [[nodiscard]] const char* find_eol(const char* start) const noexcept;

  // Consumes n readable bytes (n <= readable_bytes()). Consuming everything also moves the
  // indices back to the front so the whole storage becomes writable again.
  void retrieve(std::size_t n);
  // Consumes up to end, which must lie within [peek(), begin_write()].
  void retrieve_until(const char* end);
  void retrieve_all() noexcept {
    // A moved-from buffer has no storage, so there is no prepend area to leave free.
    reader_index_ = buffer_.size() < kCheapPrepend ? buffer_.size() : kCheapPrepend;
    writer_index_ = reader_index_;
  }
  [[nodiscard]] std::string retrieve_as_string(std::size_t n);
  [[nodiscard]] std::string retrieve_all_as_string();

  // data may point into this buffer's own readable bytes.
  void append(std::string_view data);
  void append(const void* data, std::size_t n);

  // Makes writable_bytes() >= n. Moves the readable bytes to the front when the space freed by
  // earlier retrieves is enough, and only grows the storage otherwise.
  void ensure_writable(std::size_t n);
  [[nodiscard]] char* begin_write() noexcept { return buffer_.data() + writer_index_; }
  [[nodiscard]] const char* begin_write() const noexcept { return buffer_.data() + writer_index_; }
  // Commits n bytes written directly at begin_write() (n <= writable_bytes()).
  void has_written(std::size_t n);
  // Drops the last n readable bytes (n <= readable_bytes()).
  void unwrite(std::size_t n);

  // Puts n bytes in front of the readable bytes (n <= prependable_bytes()).
  void prepend(const void* data, std::size_t n);

  // Integers are stored in network byte order (big-endian).
  void append_int8(std::int8_t x);
  void append_int16(std::int16_t x);
  void append_int32(std::int32_t x);
  void append_int64(std::int64_t x);

  // Each needs at least sizeof(result) readable bytes.
  [[nodiscard]] std::int8_t peek_int8() const;
  [[nodiscard]] std::int16_t peek_int16() const;
  [[nodiscard]] std::int32_t peek_int32() const;
  [[nodiscard]] std::int64_t peek_int64() const;

  // peek_intN() followed by retrieve(sizeof(result)).
  [[nodiscard]] std::int8_t read_int8();
  [[nodiscard]] std::int16_t read_int16();
  [[nodiscard]] std::int32_t read_int32();
  [[nodiscard]] std::int64_t read_int64();

  void prepend_int8(std::int8_t x);
  void prepend_int16(std::int16_t x);
  void prepend_int32(std::int32_t x);
  void prepend_int64(std::int64_t x);

  // Reallocates the storage to exactly kCheapPrepend + readable_bytes() + reserve bytes.
  void shrink(std::size_t reserve);

  // Idle connections should not hold large buffers: when the buffer is empty and capacity()
  // exceeds max_capacity, drops the storage back to kCheapPrepend + kInitialSize bytes.
  // Returns true if it released memory.
  bool release_if_empty(std::size_t max_capacity);
  // Frees all storage of an empty buffer, which becomes what unallocated() returns. Returns
  // true if it freed memory.
  bool free_if_empty() noexcept;

  // Reads from fd with one readv(2) into the writable space plus, when that is under
  // kSpillSize, a kSpillSize stack area whose contents are then appended. So a buffer that stays
  // small for small messages still drains a burst quickly, and one with room reads into that
  // room only (it does not grow on every read). read_capacity() tells how much one call asks
  // for. Returns what readv(2) returns; on error stores errno in *saved_errno (if not null).
  [[nodiscard]] ssize_t read_fd(int fd, int* saved_errno);
  [[nodiscard]] std::size_t read_capacity() const noexcept {
    return writable_bytes() < kSpillSize ? writable_bytes() + kSpillSize : writable_bytes();
  }

  void swap(Buffer& other) noexcept {
    buffer_.swap(other.buffer_);
    std::swap(reader_index_, other.reader_index_);
    std::swap(writer_index_, other.writer_index_);
  }
  friend void swap(Buffer& a, Buffer& b) noexcept { a.swap(b); }

 private:
  struct Unallocated {};
  explicit Buffer(Unallocated) noexcept : reader_index_(0), writer_index_(0) {}
  [[nodiscard]] char* begin() noexcept { return buffer_.data(); }

  // The bytes a Buffer owns, left uninitialised when allocated: every byte is written before it
  // is read, so zero-filling them (as std::vector would) only costs time and makes the whole
  // area resident at once.
  class Storage {
   public:
    Storage() noexcept = default;
    explicit Storage(std::size_t size)
        : bytes_(size > 0 ? std::make_unique_for_overwrite<char[]>(size) : nullptr), size_(size) {}
    Storage(const Storage& other) : Storage(other.size_) {
      if (size_ > 0) std::memcpy(bytes_.get(), other.bytes_.get(), size_);
    }
    Storage& operator=(const Storage& other) {
      Storage copy(other);
      swap(copy);
      return *this;
    }
    Storage(Storage&& other) noexcept { swap(other); }
    Storage& operator=(Storage&& other) noexcept {
      Storage taken(std::move(other));
      swap(taken);
      return *this;
    }
    ~Storage() = default;

    [[nodiscard]] char* data() noexcept { return bytes_.get(); }
    [[nodiscard]] const char* data() const noexcept { return bytes_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return size_; }
    [[nodiscard]] static constexpr std::size_t max_size() noexcept {
      return static_cast<std::size_t>(PTRDIFF_MAX);
    }
    void swap(Storage& other) noexcept {
      bytes_.swap(other.bytes_);
      std::swap(size_, other.size_);
    }

   private:
    std::unique_ptr<char[]> bytes_;
    std::size_t size_ = 0;
  };
  // Moves the readable bytes to offset kCheapPrepend, or into new storage when that is needed
  // to fit n more writable bytes.
  void make_space(std::size_t n);
  // Replaces the storage with new_size bytes holding the readable bytes at kCheapPrepend.
  void reallocate(std::size_t new_size);

  Storage buffer_;
  std::size_t reader_index_;
  std::size_t writer_index_;
};

}  // namespace lf
