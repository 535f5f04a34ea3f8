#include "lf/net/buffer.h"

#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace lf {
namespace {

using std::size_t;

constexpr size_t kDefaultStorage = Buffer::kCheapPrepend + Buffer::kInitialSize;

// Closes the descriptor when the test ends, whichever way it ends.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Writes all of data to fd (blocking), returning false on any error. MSG_NOSIGNAL: if the test
// fails and closes the other end early, the writer gets EPIPE instead of killing the process.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Bytes that do not repeat with any power-of-two period, so a misplaced chunk shows up.
std::string make_pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 251) % 251);
  return s;
}

std::vector<unsigned char> bytes_of(const Buffer& buf) {
  const std::string_view v = buf.view();
  return {v.begin(), v.end()};
}

TEST(BufferTest, DefaultConstructedIsEmptyWithCheapPrepend) {
  const Buffer buf;
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.capacity(), kDefaultStorage);
  EXPECT_TRUE(buf.view().empty());
  EXPECT_EQ(buf.peek(), buf.begin_write());
}

TEST(BufferTest, InitialSizeSetsWritableSpace) {
  const Buffer buf(16);
  EXPECT_EQ(buf.writable_bytes(), 16u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.capacity(), Buffer::kCheapPrepend + 16);
}

TEST(BufferTest, AppendThenRetrieveInPieces) {
  Buffer buf;
  const std::string data(200, 'x');
  buf.append(data);
  EXPECT_EQ(buf.readable_bytes(), 200u);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 200);
  EXPECT_EQ(buf.view(), data);

  buf.retrieve(50);
  EXPECT_EQ(buf.readable_bytes(), 150u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend + 50);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 200);

  const std::string part = buf.retrieve_as_string(100);
  EXPECT_EQ(part, std::string(100, 'x'));
  EXPECT_EQ(buf.readable_bytes(), 50u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend + 150);

  EXPECT_EQ(buf.retrieve_all_as_string(), std::string(50, 'x'));
  EXPECT_EQ(buf.readable_bytes(), 0u);
}

TEST(BufferTest, AppendRawBytesIncludingNul) {
  Buffer buf;
  const char raw[] = {'a', '\0', 'b', '\xff'};
  buf.append(raw, sizeof raw);
  ASSERT_EQ(buf.readable_bytes(), 4u);
  EXPECT_EQ(std::memcmp(buf.peek(), raw, sizeof raw), 0);
}

TEST(BufferTest, AppendNothingIsANoOp) {
  Buffer buf;
  buf.append(std::string_view{});
  buf.append(nullptr, 0);
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize);
}

TEST(BufferTest, RetrieveAllResetsIndices) {
  Buffer buf;
  buf.append("hello world");
  buf.retrieve(3);
  ASSERT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend + 3);
  buf.retrieve_all();
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize);
}

TEST(BufferTest, RetrievingExactlyEverythingResetsIndices) {
  Buffer buf;
  buf.append("abcdef");
  buf.retrieve(2);
  buf.retrieve(4);
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize);

  buf.append("xyz");
  EXPECT_EQ(buf.retrieve_as_string(3), "xyz");
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
}

TEST(BufferTest, RetrieveUntilConsumesUpToPointer) {
  Buffer buf;
  buf.append("GET / HTTP/1.1\r\nHost: x\r\n");
  const char* crlf = buf.find_crlf();
  ASSERT_NE(crlf, nullptr);
  EXPECT_EQ(std::string_view(buf.peek(), static_cast<size_t>(crlf - buf.peek())), "GET / HTTP/1.1");
  buf.retrieve_until(crlf + 2);
  EXPECT_EQ(buf.view(), "Host: x\r\n");
  buf.retrieve_until(buf.begin_write());
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
}

TEST(BufferTest, GrowsBeyondCapacityAndKeepsContent) {
  Buffer buf;
  const std::string first = make_pattern(400);
  buf.append(first);
  buf.retrieve(100);  // Leaves a gap in front that growth should not preserve.
  const std::string second = make_pattern(2000);
  buf.append(second);

  EXPECT_EQ(buf.readable_bytes(), 300u + 2000u);
  EXPECT_GT(buf.capacity(), kDefaultStorage);
  EXPECT_GE(buf.capacity(), Buffer::kCheapPrepend + buf.readable_bytes());
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.view(), first.substr(100) + second);
  EXPECT_EQ(buf.prependable_bytes() + buf.readable_bytes() + buf.writable_bytes(), buf.capacity());
}

TEST(BufferTest, ManySmallAppendsGrowGeometrically) {
  Buffer buf(1);
  size_t reallocations = 0;
  size_t last_capacity = buf.capacity();
  for (int i = 0; i < 100000; ++i) {
    buf.append("z");
    if (buf.capacity() != last_capacity) {
      ++reallocations;
      last_capacity = buf.capacity();
    }
  }
  EXPECT_EQ(buf.readable_bytes(), 100000u);
  EXPECT_EQ(buf.view(), std::string(100000, 'z'));
  EXPECT_LE(reallocations, 20u);  // log2(100000) is about 17.
}

TEST(BufferTest, EnsureWritableCompactsInsteadOfGrowing) {
  Buffer buf;
  const std::string data = make_pattern(800);
  buf.append(data);
  buf.retrieve(700);
  ASSERT_EQ(buf.readable_bytes(), 100u);
  ASSERT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 800);  // 224: too little for 600.
  ASSERT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend + 700);
  const size_t capacity_before = buf.capacity();

  buf.ensure_writable(600);

  EXPECT_EQ(buf.capacity(), capacity_before);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.readable_bytes(), 100u);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 100);
  EXPECT_EQ(buf.view(), data.substr(700));
}

TEST(BufferTest, AppendCompactsWhenFrontSpaceSuffices) {
  Buffer buf;
  buf.append(std::string(1000, 'a'));
  buf.retrieve(990);
  const size_t capacity_before = buf.capacity();
  buf.append(std::string(500, 'b'));
  EXPECT_EQ(buf.capacity(), capacity_before);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.view(), std::string(10, 'a') + std::string(500, 'b'));
}

TEST(BufferTest, EnsureWritableGrowsWhenCompactionIsNotEnough) {
  Buffer buf;
  const std::string data = make_pattern(800);
  buf.append(data);
  buf.retrieve(100);
  // prependable (108) + writable (224) is short of kCheapPrepend + 1000.
  buf.ensure_writable(1000);
  EXPECT_GT(buf.capacity(), kDefaultStorage);
  EXPECT_GE(buf.writable_bytes(), 1000u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.view(), data.substr(100));
}

TEST(BufferTest, EnsureWritableDoesNothingWhenSpaceExists) {
  Buffer buf;
  buf.append("abc");
  buf.retrieve(1);
  const char* before = buf.peek();
  buf.ensure_writable(Buffer::kInitialSize - 3);
  EXPECT_EQ(buf.peek(), before);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend + 1);
  EXPECT_EQ(buf.capacity(), kDefaultStorage);
}

TEST(BufferTest, BeginWriteAndHasWritten) {
  Buffer buf;
  buf.ensure_writable(5);
  std::memcpy(buf.begin_write(), "12345", 5);
  EXPECT_EQ(buf.readable_bytes(), 0u);  // Not visible until committed.
  buf.has_written(5);
  EXPECT_EQ(buf.view(), "12345");
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 5);
}

TEST(BufferTest, UnwriteDropsTrailingBytes) {
  Buffer buf;
  buf.append("hello, world");
  buf.unwrite(7);
  EXPECT_EQ(buf.view(), "hello");
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 5);
  buf.append("!");
  EXPECT_EQ(buf.view(), "hello!");
  buf.unwrite(buf.readable_bytes());
  EXPECT_EQ(buf.readable_bytes(), 0u);
}

TEST(BufferTest, PrependPutsBytesInFront) {
  Buffer buf;
  buf.append("body");
  buf.prepend("hdr:", 4);
  EXPECT_EQ(buf.view(), "hdr:body");
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend - 4);
  buf.prepend("0123", 4);
  EXPECT_EQ(buf.prependable_bytes(), 0u);
  EXPECT_EQ(buf.view(), "0123hdr:body");
}

TEST(BufferTest, PrependInt32AsLengthHeader) {
  Buffer buf;
  const std::string body = "hello world";
  buf.append(body);
  buf.prepend_int32(static_cast<std::int32_t>(body.size()));

  EXPECT_EQ(buf.readable_bytes(), 4 + body.size());
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend - 4);
  const std::vector<unsigned char> raw = bytes_of(buf);
  EXPECT_EQ(raw[0], 0x00);
  EXPECT_EQ(raw[1], 0x00);
  EXPECT_EQ(raw[2], 0x00);
  EXPECT_EQ(raw[3], 0x0b);

  EXPECT_EQ(buf.peek_int32(), 11);
  const std::int32_t length = buf.read_int32();
  ASSERT_EQ(length, 11);
  EXPECT_EQ(buf.retrieve_as_string(static_cast<size_t>(length)), body);
  EXPECT_EQ(buf.readable_bytes(), 0u);
}

TEST(BufferTest, PrependEveryIntWidth) {
  Buffer buf;
  buf.append("!");
  buf.prepend_int8(-2);
  buf.prepend_int16(0x0304);
  buf.prepend_int8(1);
  ASSERT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend - 4);
  EXPECT_EQ(bytes_of(buf), (std::vector<unsigned char>{0x01, 0x03, 0x04, 0xfe, '!'}));
  EXPECT_EQ(buf.read_int8(), 1);
  EXPECT_EQ(buf.read_int16(), 0x0304);
  EXPECT_EQ(buf.read_int8(), -2);
  EXPECT_EQ(buf.view(), "!");

  Buffer wide;
  wide.prepend_int64(-3);
  EXPECT_EQ(wide.prependable_bytes(), 0u);
  EXPECT_EQ(bytes_of(wide),
            (std::vector<unsigned char>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd}));
  EXPECT_EQ(wide.read_int64(), -3);
}

TEST(BufferTest, IntsRoundTripAtEveryWidth) {
  Buffer buf;
  using I8 = std::numeric_limits<std::int8_t>;
  using I16 = std::numeric_limits<std::int16_t>;
  using I32 = std::numeric_limits<std::int32_t>;
  using I64 = std::numeric_limits<std::int64_t>;
  const std::int8_t i8[] = {0, 1, -1, I8::min(), I8::max()};
  const std::int16_t i16[] = {0, 1, -1, 0x1234, I16::min(), I16::max()};
  const std::int32_t i32[] = {0, 1, -1, 0x12345678, I32::min(), I32::max()};
  const std::int64_t i64[] = {0, 1, -1, 0x123456789abcdef0, I64::min(), I64::max()};
  for (auto x : i8) buf.append_int8(x);
  for (auto x : i16) buf.append_int16(x);
  for (auto x : i32) buf.append_int32(x);
  for (auto x : i64) buf.append_int64(x);
  EXPECT_EQ(buf.readable_bytes(), 5 * 1 + 6 * 2 + 6 * 4 + 6 * 8u);

  for (auto x : i8) {
    EXPECT_EQ(buf.peek_int8(), x);
    EXPECT_EQ(buf.read_int8(), x);
  }
  for (auto x : i16) {
    EXPECT_EQ(buf.peek_int16(), x);
    EXPECT_EQ(buf.read_int16(), x);
  }
  for (auto x : i32) {
    EXPECT_EQ(buf.peek_int32(), x);
    EXPECT_EQ(buf.read_int32(), x);
  }
  for (auto x : i64) {
    EXPECT_EQ(buf.peek_int64(), x);
    EXPECT_EQ(buf.read_int64(), x);
  }
  EXPECT_EQ(buf.readable_bytes(), 0u);
}

TEST(BufferTest, IntsAreStoredBigEndian) {
  Buffer buf;
  buf.append_int8(0x7f);
  buf.append_int16(0x0102);
  buf.append_int32(0x03040506);
  buf.append_int64(0x0708090a0b0c0d0e);
  buf.append_int16(-2);
  EXPECT_EQ(bytes_of(buf),
            (std::vector<unsigned char>{0x7f, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                                        0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff, 0xfe}));
}

TEST(BufferTest, PeekIntDoesNotConsumeButReadDoes) {
  Buffer buf;
  buf.append_int32(42);
  buf.append("tail");
  EXPECT_EQ(buf.peek_int32(), 42);
  EXPECT_EQ(buf.peek_int32(), 42);
  EXPECT_EQ(buf.readable_bytes(), 8u);
  EXPECT_EQ(buf.read_int32(), 42);
  EXPECT_EQ(buf.view(), "tail");
}

TEST(BufferTest, IntsReadFromUnalignedPositions) {
  Buffer buf;
  buf.append("x");
  buf.append_int64(0x1122334455667788);
  buf.append_int32(-123456);
  buf.retrieve(1);
  EXPECT_EQ(buf.read_int64(), 0x1122334455667788);
  EXPECT_EQ(buf.read_int32(), -123456);
}

TEST(BufferTest, FindCrlf) {
  Buffer buf;
  EXPECT_EQ(buf.find_crlf(), nullptr);
  buf.append("ab\r\ncd\r\nef\r");
  const char* first = buf.find_crlf();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first - buf.peek(), 2);

  const char* second = buf.find_crlf(first + 2);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second - buf.peek(), 6);
  EXPECT_EQ(buf.find_crlf(second), second);  // start itself is searched.

  // A lone '\r' at the end is not a line end.
  EXPECT_EQ(buf.find_crlf(second + 2), nullptr);
  EXPECT_EQ(buf.find_crlf(buf.begin_write()), nullptr);

  buf.retrieve_until(second + 2);
  EXPECT_EQ(buf.find_crlf(), nullptr);
  buf.append("\n");
  ASSERT_NE(buf.find_crlf(), nullptr);
  EXPECT_EQ(buf.find_crlf() - buf.peek(), 2);
}

TEST(BufferTest, FindCrlfDoesNotLookPastReadableBytes) {
  Buffer buf;
  buf.append("ab\r\n");
  buf.unwrite(1);  // The '\n' is still in storage but no longer readable.
  EXPECT_EQ(buf.find_crlf(), nullptr);
  EXPECT_EQ(buf.find_eol(), nullptr);
}

TEST(BufferTest, FindEol) {
  Buffer buf;
  EXPECT_EQ(buf.find_eol(), nullptr);
  buf.append("one\ntwo\nthree");
  const char* first = buf.find_eol();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first - buf.peek(), 3);

  const char* second = buf.find_eol(first + 1);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second - buf.peek(), 7);
  EXPECT_EQ(buf.find_eol(second), second);
  EXPECT_EQ(buf.find_eol(second + 1), nullptr);
  EXPECT_EQ(buf.find_eol(buf.begin_write()), nullptr);
}

TEST(BufferTest, ShrinkReallocatesToExactSize) {
  Buffer buf;
  const std::string data = make_pattern(5000);
  buf.append(data);
  buf.retrieve(4900);
  ASSERT_GT(buf.capacity(), 5000u);

  buf.shrink(0);
  EXPECT_EQ(buf.capacity(), Buffer::kCheapPrepend + 100);
  EXPECT_EQ(buf.writable_bytes(), 0u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.view(), data.substr(4900));

  buf.shrink(50);
  EXPECT_EQ(buf.capacity(), Buffer::kCheapPrepend + 100 + 50);
  EXPECT_EQ(buf.writable_bytes(), 50u);
  EXPECT_EQ(buf.view(), data.substr(4900));

  buf.append("more");  // Still usable, grows again.
  EXPECT_EQ(buf.view(), data.substr(4900) + "more");
}

TEST(BufferTest, ReleaseIfEmptyDropsLargeIdleStorage) {
  Buffer buf;
  buf.append(std::string(100000, 'q'));
  ASSERT_GT(buf.capacity(), 65536u);

  // Not empty: keeps its memory even though it is over the limit.
  EXPECT_FALSE(buf.release_if_empty(65536));
  EXPECT_GE(buf.capacity(), 100000u);

  buf.retrieve_all();
  // Empty but within a generous limit: kept.
  EXPECT_FALSE(buf.release_if_empty(1 << 20));
  EXPECT_GE(buf.capacity(), 100000u);

  EXPECT_TRUE(buf.release_if_empty(65536));
  EXPECT_EQ(buf.capacity(), kDefaultStorage);
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize);

  // Already at the default size: nothing more to release, even with a tiny limit.
  EXPECT_FALSE(buf.release_if_empty(0));
  EXPECT_EQ(buf.capacity(), kDefaultStorage);

  buf.append("still works");
  EXPECT_EQ(buf.view(), "still works");
}

TEST(BufferTest, UnallocatedHoldsNothingUntilTheFirstWrite) {
  Buffer buf = Buffer::unallocated();
  EXPECT_EQ(buf.capacity(), 0u);
  EXPECT_EQ(buf.readable_bytes(), 0u);
  EXPECT_EQ(buf.find_crlf(), nullptr);
  EXPECT_FALSE(buf.free_if_empty());  // nothing to free

  buf.append("GET / HTTP/1.1\r\n");
  EXPECT_EQ(buf.view(), "GET / HTTP/1.1\r\n");
  EXPECT_EQ(buf.prependable_bytes(), Buffer::kCheapPrepend);  // a first write makes the prepend area
  buf.prepend_int32(7);
  EXPECT_EQ(buf.read_int32(), 7);

  EXPECT_FALSE(buf.free_if_empty());  // holds data: kept
  buf.retrieve_all();
  EXPECT_TRUE(buf.free_if_empty());
  EXPECT_EQ(buf.capacity(), 0u);
  EXPECT_EQ(buf.readable_bytes(), 0u);

  // A read into a buffer without storage goes through the spill area.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string data(3000, 'r');
  ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  int saved_errno = 0;
  EXPECT_EQ(buf.read_fd(fds[0], &saved_errno), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(buf.view(), data);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(BufferTest, SwapExchangesContentAndIndices) {
  Buffer a;
  Buffer b(64);
  a.append("aaaa");
  a.retrieve(1);
  b.append(std::string(10, 'b'));

  a.swap(b);
  EXPECT_EQ(a.view(), std::string(10, 'b'));
  EXPECT_EQ(a.capacity(), Buffer::kCheapPrepend + 64);
  EXPECT_EQ(a.prependable_bytes(), Buffer::kCheapPrepend);
  EXPECT_EQ(b.view(), "aaa");
  EXPECT_EQ(b.capacity(), kDefaultStorage);
  EXPECT_EQ(b.prependable_bytes(), Buffer::kCheapPrepend + 1);

  using std::swap;
  swap(a, b);  // The free function finds the member through ADL.
  EXPECT_EQ(a.view(), "aaa");
  EXPECT_EQ(b.view(), std::string(10, 'b'));
}

TEST(BufferTest, CopyIsIndependent) {
  Buffer a;
  a.append("original");
  Buffer b(a);
  b.retrieve(4);
  b.append("!");
  EXPECT_EQ(a.view(), "original");
  EXPECT_EQ(b.view(), "inal!");

  Buffer c;
  c = a;
  a.retrieve_all();
  EXPECT_EQ(c.view(), "original");
}

TEST(BufferTest, MovedFromBufferIsEmptyAndReusable) {
  Buffer a;
  a.append("payload");
  Buffer b(std::move(a));
  EXPECT_EQ(b.view(), "payload");
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is part of the contract.
  EXPECT_EQ(a.readable_bytes(), 0u);
  EXPECT_EQ(a.capacity(), 0u);
  a.retrieve_all();
  EXPECT_EQ(a.readable_bytes(), 0u);
  EXPECT_EQ(a.find_crlf(), nullptr);
  EXPECT_EQ(a.find_eol(), nullptr);
  a.append("again");
  EXPECT_EQ(a.view(), "again");

  Buffer c;
  c.append("old");
  c = std::move(b);
  EXPECT_EQ(c.view(), "payload");
  EXPECT_EQ(b.readable_bytes(), 0u);  // NOLINT(bugprone-use-after-move)
  b.append_int32(7);
  EXPECT_EQ(b.read_int32(), 7);
}

TEST(BufferTest, AppendOwnContentsWhileGrowing) {
  Buffer buf(8);
  buf.append("abcdefgh");
  ASSERT_EQ(buf.writable_bytes(), 0u);
  buf.append(buf.view());  // Source lives in storage that must be reallocated.
  EXPECT_EQ(buf.view(), "abcdefghabcdefgh");
  buf.append(buf.peek() + 4, 4);
  EXPECT_EQ(buf.view(), "abcdefghabcdefghefgh");
}

// read_fd ---------------------------------------------------------------------------------------

class BufferReadFdTest : public ::testing::Test {
 protected:
  void open_pair(int extra_flags = 0) {
    int fds[2] = {-1, -1};
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extra_flags, 0, fds), 0)
        << std::strerror(errno);
    reader_ = std::make_unique<Fd>(fds[0]);
    writer_ = std::make_unique<Fd>(fds[1]);
  }
  [[nodiscard]] int reader() const { return reader_->get(); }
  [[nodiscard]] int writer() const { return writer_->get(); }
  void close_writer() { writer_->reset(); }

 private:
  std::unique_ptr<Fd> reader_;
  std::unique_ptr<Fd> writer_;
};

TEST_F(BufferReadFdTest, SmallReadLandsInWritableSpace) {
  ASSERT_NO_FATAL_FAILURE(open_pair());
  ASSERT_TRUE(write_all(writer(), "hello"));
  Buffer buf;
  buf.append("> ");
  int saved_errno = -12345;
  EXPECT_EQ(buf.read_fd(reader(), &saved_errno), 5);
  EXPECT_EQ(saved_errno, -12345);  // Untouched on success.
  EXPECT_EQ(buf.view(), "> hello");
  EXPECT_EQ(buf.capacity(), kDefaultStorage);  // No growth needed.
  EXPECT_EQ(buf.writable_bytes(), Buffer::kInitialSize - 7);
}

TEST_F(BufferReadFdTest, ReadIntoFullBufferGoesThroughSpillArea) {
  ASSERT_NO_FATAL_FAILURE(open_pair());
  Buffer buf(4);
  buf.append("full");
  ASSERT_EQ(buf.writable_bytes(), 0u);
  ASSERT_TRUE(write_all(writer(), "spilled"));
  int saved_errno = 0;
  EXPECT_EQ(buf.read_fd(reader(), &saved_errno), 7);
  EXPECT_EQ(buf.view(), "fullspilled");
}

TEST_F(BufferReadFdTest, LargeReadsThroughSpillAreaPreserveEveryByte) {
  ASSERT_NO_FATAL_FAILURE(open_pair());
  // A stalled read fails the test instead of hanging it.
  const timeval timeout{10, 0};
  ASSERT_EQ(::setsockopt(reader(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout), 0);

  constexpr size_t kTotal = size_t{200} * 1024;
  const std::string expected = make_pattern(kTotal);
  bool write_ok = false;
  std::thread writer_thread([&] { write_ok = write_all(writer(), expected); });
  // Runs however the test body exits: shutting the reader down makes a still-blocked writer fail
  // with EPIPE, so the join cannot hang.
  struct Joiner {
    std::thread& thread;
    int fd;
    ~Joiner() {
      if (!thread.joinable()) return;
      ::shutdown(fd, SHUT_RDWR);
      thread.join();
    }
  } joiner{writer_thread, reader()};

  Buffer buf(16);
  const size_t first_writable = buf.writable_bytes();
  // Let the kernel queue more than one call can take, so the first call must fill both the
  // buffer's small writable space and the whole spill area.
  const size_t most_one_call = first_writable + Buffer::kSpillSize;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int queued = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(::ioctl(reader(), FIONREAD, &queued), 0) << std::strerror(errno);
    if (static_cast<size_t>(queued) > most_one_call) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(static_cast<size_t>(queued), most_one_call) << "the socket never queued enough";

  int saved_errno = 0;
  std::vector<size_t> reads;
  while (buf.readable_bytes() < kTotal) {
    const ssize_t n = buf.read_fd(reader(), &saved_errno);
    ASSERT_GT(n, 0) << "errno " << saved_errno << " after " << buf.readable_bytes() << " bytes";
    reads.push_back(static_cast<size_t>(n));
  }
  ASSERT_FALSE(reads.empty());
  // Exactly what fitted: 16 bytes in the buffer plus the whole 64 KiB spill area.
  EXPECT_EQ(reads.front(), most_one_call);
  EXPECT_GT(reads.front(), Buffer::kSpillSize);

  ASSERT_EQ(buf.readable_bytes(), kTotal);
  const std::string_view got = buf.view();
  for (size_t i = 0; i < kTotal; ++i) {
    ASSERT_EQ(got[i], expected[i]) << "first difference at byte " << i;
  }

  writer_thread.join();
  EXPECT_TRUE(write_ok);
  close_writer();
  EXPECT_EQ(buf.read_fd(reader(), &saved_errno), 0);
}

TEST_F(BufferReadFdTest, EndOfFileReturnsZero) {
  ASSERT_NO_FATAL_FAILURE(open_pair());
  ASSERT_TRUE(write_all(writer(), "bye"));
  close_writer();
  Buffer buf;
  int saved_errno = -1;
  EXPECT_EQ(buf.read_fd(reader(), &saved_errno), 3);
  EXPECT_EQ(buf.read_fd(reader(), &saved_errno), 0);
  EXPECT_EQ(saved_errno, -1);
  EXPECT_EQ(buf.view(), "bye");
}

TEST_F(BufferReadFdTest, EmptyNonBlockingSocketReportsEagain) {
  ASSERT_NO_FATAL_FAILURE(open_pair(SOCK_NONBLOCK));
  Buffer buf;
  buf.append("keep");
  int saved_errno = 0;
  EXPECT_EQ(buf.read_fd(reader(), &saved_errno), -1);
  EXPECT_TRUE(saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) << saved_errno;
  EXPECT_EQ(buf.view(), "keep");
  EXPECT_EQ(buf.capacity(), kDefaultStorage);
}

TEST(BufferReadFdErrorTest, BadDescriptorReportsEbadf) {
  Buffer buf;
  int saved_errno = 0;
  EXPECT_EQ(buf.read_fd(-1, &saved_errno), -1);
  EXPECT_EQ(saved_errno, EBADF);
  EXPECT_EQ(buf.readable_bytes(), 0u);
}

}  // namespace
}  // namespace lf
