// LengthPrefixedConnection and FrameDecoder. The decoder is tested on Buffers alone (including a
// randomised split of a frame stream at every possible boundary); the connection is tested on a
// 4-thread server over loopback with a subclass that sends every frame back.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lf/handlers/codec/frame_decoder.h"
#include "lf/handlers/codec/length_prefixed_connection.h"
#include "support/test_client.h"

namespace lf {
namespace {

using namespace std::chrono_literals;
using Status = FrameDecoder::Status;

constexpr std::size_t kMiB = 1024 * 1024;

std::string header(std::uint32_t length) {
  const std::uint32_t big = htonl(length);
  return {reinterpret_cast<const char*>(&big), sizeof big};
}

std::string frame(std::string_view payload) {
  return header(static_cast<std::uint32_t>(payload.size())) + std::string(payload);
}

Buffer buffer_of(std::string_view bytes) {
  Buffer buffer;
  buffer.append(bytes);
  return buffer;
}

// ---------------------------------------------------------------------------------------------
// FrameDecoder

TEST(CodecFrameDecoder, NeedsAWholeHeader) {
  const FrameDecoder decoder;
  EXPECT_EQ(decoder.next(Buffer()).status, Status::kNeedMore);
  EXPECT_EQ(decoder.next(buffer_of(std::string(3, '\0'))).status, Status::kNeedMore);
}

TEST(CodecFrameDecoder, EmptyFrame) {
  const FrameDecoder decoder;
  const Buffer input = buffer_of(frame(""));
  const auto result = decoder.next(input);
  ASSERT_EQ(result.status, Status::kFrame);
  EXPECT_EQ(result.payload, "");
  EXPECT_EQ(result.frame_size, 4u);
}

TEST(CodecFrameDecoder, WaitsForThePayloadAndLeavesTheInput) {
  const FrameDecoder decoder;
  Buffer input = buffer_of(frame("hello").substr(0, 7));
  EXPECT_EQ(decoder.next(input).status, Status::kNeedMore);
  EXPECT_EQ(input.readable_bytes(), 7u);  // nothing consumed
  input.append("lo");
  input.append(frame("x"));
  const auto result = decoder.next(input);
  ASSERT_EQ(result.status, Status::kFrame);
  EXPECT_EQ(result.payload, "hello");
  EXPECT_EQ(result.announced_length, 5);
  input.retrieve(result.frame_size);
  const auto second = decoder.next(input);
  ASSERT_EQ(second.status, Status::kFrame);
  EXPECT_EQ(second.payload, "x");
}

TEST(CodecFrameDecoder, RefusesFromTheHeaderAlone) {
  const FrameDecoder decoder(100);
  const auto exact = decoder.next(buffer_of(frame(std::string(100, 'a'))));
  EXPECT_EQ(exact.status, Status::kFrame);
  // No payload bytes follow: the answer does not wait for them.
  const auto too_large = decoder.next(buffer_of(header(101)));
  EXPECT_EQ(too_large.status, Status::kTooLarge);
  EXPECT_EQ(too_large.announced_length, 101);
  const auto huge = decoder.next(buffer_of(header(0x7fffffff)));
  EXPECT_EQ(huge.status, Status::kTooLarge);
  const auto negative = decoder.next(buffer_of(header(0xffffffff)));
  EXPECT_EQ(negative.status, Status::kNegativeLength);
  EXPECT_EQ(negative.announced_length, -1);
  EXPECT_EQ(decoder.next(buffer_of(header(0x80000000))).status, Status::kNegativeLength);
}

// A stream of random frames fed in random pieces decodes to the same payloads, in order.
TEST(CodecFrameDecoder, RandomSplitsOfAFrameStream) {
  std::mt19937_64 rng(42);
  const FrameDecoder decoder(4096);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> payloads;
    std::string stream;
    const int frames = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int i = 0; i < frames; ++i) {
      const auto size = std::uniform_int_distribution<std::size_t>(0, 300)(rng);
      payloads.push_back(test::random_bytes(size, rng()));
      stream += frame(payloads.back());
    }
    Buffer input;
    std::vector<std::string> decoded;
    std::size_t offset = 0;
    while (offset < stream.size()) {
      const auto piece =
          std::min(stream.size() - offset, std::uniform_int_distribution<std::size_t>(1, 64)(rng));
      input.append(std::string_view(stream).substr(offset, piece));
      offset += piece;
      for (auto result = decoder.next(input); result.status == Status::kFrame;
           result = decoder.next(input)) {
        decoded.emplace_back(result.payload);
        input.retrieve(result.frame_size);
      }
    }
    EXPECT_EQ(decoded, payloads);
    EXPECT_EQ(input.readable_bytes(), 0u);
  }
}

// Random bytes: every answer is consistent with the header, nothing reads out of bounds (asan).
TEST(CodecFrameDecoder, GarbageInput) {
  std::mt19937_64 rng(7);
  const FrameDecoder decoder(1000);
  for (int i = 0; i < 2000; ++i) {
    const auto size = std::uniform_int_distribution<std::size_t>(0, 1100)(rng);
    const Buffer input = buffer_of(test::random_bytes(size, rng()));
    const auto result = decoder.next(input);
    if (size < 4) {
      EXPECT_EQ(result.status, Status::kNeedMore);
      continue;
    }
    const std::int32_t length = input.peek_int32();
    if (length < 0) {
      EXPECT_EQ(result.status, Status::kNegativeLength);
    } else if (length > 1000) {
      EXPECT_EQ(result.status, Status::kTooLarge);
    } else if (static_cast<std::size_t>(length) + 4 > size) {
      EXPECT_EQ(result.status, Status::kNeedMore);
    } else {
      ASSERT_EQ(result.status, Status::kFrame);
      EXPECT_EQ(result.payload.size(), static_cast<std::size_t>(length));
      EXPECT_EQ(result.payload.data(), input.peek() + 4);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// LengthPrefixedConnection on a server

// Sends every frame back; alternates the two send_frame() overloads.
class FrameEcho : public LengthPrefixedConnection {
 protected:
  void on_frame(std::string_view payload) override {
    if ((++frames_ & 1) != 0) {
      send_frame(payload);
    } else {
      Buffer reply;
      reply.append(payload);
      send_frame(reply);
    }
  }

 private:
  std::uint64_t frames_ = 0;
};

using FrameServer = test::BackgroundServer<FrameEcho>;

// Reads one frame; nullopt on EOF, error or timeout.
std::optional<std::string> recv_frame(test::TestClient& client) {
  const auto head = client.recv_exact(4);
  if (!head) return std::nullopt;
  std::uint32_t length = 0;
  std::memcpy(&length, head->data(), 4);
  return client.recv_exact(ntohl(length));
}

TEST(CodecConnection, EchoesFramesOfSize0And1And1MiB) {
  FrameServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kMiB}) {
    const std::string payload = test::random_bytes(size, size + 1);
    ASSERT_TRUE(client.send_all(frame(payload)));
    const auto reply = recv_frame(client);
    ASSERT_TRUE(reply.has_value()) << "size " << size;
    EXPECT_EQ(test::checksum(*reply), test::checksum(payload)) << "size " << size;
    EXPECT_EQ(reply->size(), size);
  }
}

TEST(CodecConnection, ManyFramesInOneWrite) {
  FrameServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  std::string stream;
  std::vector<std::string> payloads;
  for (int i = 0; i < 2000; ++i) {
    payloads.push_back("frame " + std::to_string(i) +
                       std::string(static_cast<std::size_t>(i % 50), 'x'));
    stream += frame(payloads.back());
  }
  ASSERT_TRUE(client.send_all(stream));
  // Frames coming back may be sent by the server in any grouping; the bytes are the same stream.
  const auto reply = client.recv_exact(stream.size());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(*reply, stream);
}

TEST(CodecConnection, FrameSplitByteByByte) {
  FrameServer server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.connected());
  const int one = 1;
  ::setsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::string payload = "split into single bytes, header included";
  const std::string bytes = frame(payload) + frame("next");
  for (const char c : bytes) {
    ASSERT_TRUE(client.send_all(std::string_view(&c, 1)));
    std::this_thread::sleep_for(1ms);  // each byte is its own segment and, mostly, its own read
  }
  EXPECT_EQ(recv_frame(client), payload);
  EXPECT_EQ(recv_frame(client), "next");
}

TEST(CodecConnection, BadLengthClosesOnlyThatConnection) {
  FrameServer server;
  test::TestClient good(server.address());
  ASSERT_TRUE(good.connected());
  ASSERT_TRUE(good.send_all(frame("before")));
  EXPECT_EQ(recv_frame(good), "before");

  // Just over the limit; nothing follows the header, so the server cannot be waiting for it.
  test::TestClient too_large(server.address());
  ASSERT_TRUE(too_large.send_all(header(LengthPrefixedConnection::kDefaultMaxFrameSize + 1)));
  EXPECT_TRUE(too_large.wait_for_close());

  test::TestClient huge(server.address());
  ASSERT_TRUE(huge.send_all(frame("ok") + header(0x7fffffff) + "trailing bytes"));
  EXPECT_TRUE(huge.wait_for_close());  // closed at once: the answer to "ok" may be dropped

  test::TestClient negative(server.address());
  ASSERT_TRUE(negative.send_all(header(0xfffffff0)));
  EXPECT_TRUE(negative.wait_for_close());

  // The server keeps serving the old connection and new ones.
  ASSERT_TRUE(good.send_all(frame("after")));
  EXPECT_EQ(recv_frame(good), "after");
  test::TestClient fresh(server.address());
  ASSERT_TRUE(fresh.send_all(frame("fresh")));
  EXPECT_EQ(recv_frame(fresh), "fresh");
}

// A subclass chooses its own limit.
class SmallFrames : public LengthPrefixedConnection {
 public:
  SmallFrames() : LengthPrefixedConnection(16) {}

 protected:
  void on_frame(std::string_view payload) override { send_frame(payload); }
};

TEST(CodecConnection, ConfigurableMaximum) {
  test::BackgroundServer<SmallFrames> server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.send_all(frame(std::string(16, 'a'))));
  EXPECT_EQ(recv_frame(client), std::string(16, 'a'));
  ASSERT_TRUE(client.send_all(frame(std::string(17, 'a'))));
  EXPECT_TRUE(client.wait_for_close());
}

// On any frame, four other threads each send kFramesPerThread frames through a shared_ptr to
// the connection, all at once.
class ConcurrentSender : public LengthPrefixedConnection {
 public:
  static constexpr int kThreads = 4;
  static constexpr int kFramesPerThread = 500;

 protected:
  void on_frame(std::string_view) override {
    const auto self = std::static_pointer_cast<ConcurrentSender>(shared_from_this());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([self, t] {
        for (int i = 0; i < kFramesPerThread; ++i) {
          // Sizes vary so that a torn frame would shift every frame after it.
          self->send_frame("thread " + std::to_string(t) + " frame " + std::to_string(i) + " " +
                           std::string(static_cast<std::size_t>((i * 7 + t) % 300), 'z'));
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
};

TEST(CodecConnection, FramesFromSeveralThreadsNeverInterleave) {
  test::BackgroundServer<ConcurrentSender> server;
  test::TestClient client(server.address());
  ASSERT_TRUE(client.send_all(frame("go")));
  int next[ConcurrentSender::kThreads] = {};
  for (int n = 0; n < ConcurrentSender::kThreads * ConcurrentSender::kFramesPerThread; ++n) {
    const auto payload = recv_frame(client);
    ASSERT_TRUE(payload.has_value()) << "after " << n << " frames";
    const int t = (*payload)[7] - '0';
    ASSERT_TRUE(t >= 0 && t < ConcurrentSender::kThreads) << *payload;
    const int i = next[t]++;
    EXPECT_EQ(*payload, "thread " + std::to_string(t) + " frame " + std::to_string(i) + " " +
                            std::string(static_cast<std::size_t>((i * 7 + t) % 300), 'z'));
  }
}

// ---------------------------------------------------------------------------------------------
// docs/writing-a-handler.md quotes docs/examples/sum_server.cc: its ```cpp blocks, joined, are
// the file, byte for byte.

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(CodecDocs, TutorialQuotesTheCompiledExample) {
  const std::string source = __FILE__;
  const std::string root = source.substr(0, source.rfind("/tests/"));
  const std::string doc = read_file(root + "/docs/writing-a-handler.md");
  const std::string example = read_file(root + "/docs/examples/sum_server.cc");
  ASSERT_FALSE(doc.empty());
  ASSERT_FALSE(example.empty());
  std::string quoted;
  std::size_t pos = 0;
  while ((pos = doc.find("```cpp\n", pos)) != std::string::npos) {
    pos += 7;
    const std::size_t end = doc.find("```\n", pos);
    ASSERT_NE(end, std::string::npos);
    const std::string block = doc.substr(pos, end - pos);
    pos = end + 4;
    // Later sections quote other examples (tests/docs_test.cc checks every block).
    if (example.find(block) == std::string::npos) continue;
    if (!quoted.empty()) quoted += '\n';
    quoted += block;
  }
  EXPECT_EQ(quoted, example);
}

}  // namespace
}  // namespace lf
