// Google Benchmark: the Buffer operations on every connection's hot path.
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "lf/net/buffer.h"

namespace {

void BM_AppendRetrieve(benchmark::State& state) {
  const std::string message(static_cast<std::size_t>(state.range(0)), 'x');
  lf::Buffer buffer;
  for (auto _ : state) {
    buffer.append(message);
    benchmark::DoNotOptimize(buffer.peek());
    buffer.retrieve(message.size());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_AppendRetrieve)->Arg(16)->Arg(4096)->Arg(65536);

void BM_PrependLengthHeader(benchmark::State& state) {
  const std::string body(128, 'b');
  lf::Buffer buffer;
  for (auto _ : state) {
    buffer.append(body);
    buffer.prepend_int32(static_cast<std::int32_t>(body.size()));
    benchmark::DoNotOptimize(buffer.read_int32());
    buffer.retrieve_all();
  }
}
BENCHMARK(BM_PrependLengthHeader);

void BM_FindCrlf(benchmark::State& state) {
  lf::Buffer buffer;
  buffer.append(std::string(static_cast<std::size_t>(state.range(0)), 'a') + "\r\n");
  for (auto _ : state) benchmark::DoNotOptimize(buffer.find_crlf());
}
BENCHMARK(BM_FindCrlf)->Arg(64)->Arg(8192);

// One readv through the socket layer: a write into one end of a socketpair, read_fd at the other.
void BM_ReadFd(benchmark::State& state) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  const std::string message(static_cast<std::size_t>(state.range(0)), 'r');
  lf::Buffer buffer;
  int saved_errno = 0;
  for (auto _ : state) {
    if (::write(fds[0], message.data(), message.size()) < 0) break;
    std::size_t got = 0;
    while (got < message.size()) {
      const ssize_t n = buffer.read_fd(fds[1], &saved_errno);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    buffer.retrieve_all();
  }
  ::close(fds[0]);
  ::close(fds[1]);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ReadFd)->Arg(16)->Arg(4096);

}  // namespace
