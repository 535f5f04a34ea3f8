// loadgen: a closed-loop echo load generator for the perf suite (docs/perf.md). Each connection keeps
// `depth` messages of `size` bytes in flight; a new message is sent when one has fully come back.
// Every echoed byte is checked against the pattern the connection sent (each connection starts
// at its own phase of a pseudo-random pattern), so a fast but wrong server cannot win: any
// mismatch, early close or extra byte is an error and the exit status is 1. Measuring starts after
// the warm-up and once every connection has had a message back. Prints one JSON
// object on stdout. With --idle it only opens the connections, echoes one message on each and
// holds them, reporting the server's resident memory per connection (--rss-pid).
// With --block-permille it marks that many of every 1000 messages for the server to block on (the
// first byte of a message is a BlockKind, handlers/echo/block_kind.h; the server must run with
// --client-blocks --message-size SIZE --block-ms D) and reports the latency of the other messages,
// the victims, apart from the blocked ones: the victims show how much a blocked handler holds up
// the work it did not ask for, which the overall percentiles mix with the blocks' own latency.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lf/handlers/echo/block_kind.h"
#include "histogram.h"

namespace loadgen {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7007;
  std::size_t connections = 10;
  std::size_t depth = 1;
  std::size_t size = 16;
  double duration_s = 2.0;
  double warmup_s = 0.5;
  std::size_t threads = 1;
  bool idle = false;
  int rss_pid = 0;
  unsigned block_permille = 0;  // 0: no message is marked, the pattern is sent as it is
  unsigned block_ms = 0;        // what the server's --block-ms should be: checked, not sent
  lf::BlockKind block_kind = lf::BlockKind::kSleep;
};

// The bytes every connection sends: a pseudo-random sequence with a prime period, stored with
// kChunk extra bytes so that any window of up to kChunk bytes starting inside one period is
// contiguous. Connection c sends it from offset phase(c) on.
class Pattern {
 public:
  static constexpr std::size_t kPeriod = 65521;
  static constexpr std::size_t kChunk = 65536;

  Pattern() : bytes_(kPeriod + kChunk) {
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (std::size_t i = 0; i < kPeriod; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      bytes_[i] = static_cast<unsigned char>(x >> 24);
    }
    // Element by element: the tail overlaps the start (kChunk > kPeriod), so a memmove-style copy
    // would not repeat the period.
    for (std::size_t i = kPeriod; i < bytes_.size(); ++i) bytes_[i] = bytes_[i - kPeriod];
  }

  static std::size_t phase(std::size_t connection) { return (connection * 7919 + 13) % kPeriod; }
  // The bytes at stream offset `offset` of a connection with phase `phase`.
  [[nodiscard]] const unsigned char* at(std::size_t phase, std::uint64_t offset) const {
    return bytes_.data() + (phase + offset) % kPeriod;
  }

 private:
  std::vector<unsigned char> bytes_;
};

class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// Blocking connect to host:port, TCP_NODELAY set. Throws on failure.
Fd connect_to(const addrinfo& address) {
  Fd fd(::socket(address.ai_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (fd.get() < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  while (::connect(fd.get(), address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINTR) throw std::runtime_error(fmt::format("connect: {}", std::strerror(errno)));
  }
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

struct Connection {
  Fd fd;
  std::size_t phase = 0;
  std::uint64_t sent = 0;      // bytes written
  std::uint64_t received = 0;  // bytes read and verified
  std::uint64_t issued = 0;    // messages put in flight
  std::uint64_t completed = 0;
  std::vector<Clock::time_point> sent_at;  // ring of `depth` send times
  std::vector<lf::BlockKind> kinds;        // ring of `depth` marks (--block-permille)
  bool want_write = false;
  bool broken = false;
};

struct ThreadResult {
  LatencyHistogram histogram;
  LatencyHistogram victims;  // --block-permille: messages that were not marked
  LatencyHistogram blocked;  // --block-permille: marked messages
  std::uint64_t messages = 0;
  std::uint64_t errors = 0;
};

// One thread's share of the connections, driven by its own epoll instance.
class Worker {
 public:
  Worker(const Options& options, const Pattern& pattern, std::vector<Connection> connections)
      : options_(options), pattern_(pattern), connections_(std::move(connections)),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)), scratch_(Pattern::kChunk),
        marked_(Pattern::kChunk) {}

  // Measures for `duration` from `measure_from`, or from the moment every connection has had one
  // message back if that is later (a thousand connections can take longer than the warm-up to
  // get going); a server that never answers is given up on 10 s after `measure_from`.
  ThreadResult run(Clock::time_point measure_from, Clock::duration duration) {
    const auto now0 = Clock::now();
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = connections_[i];
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &event);
      for (std::size_t k = 0; k < options_.depth; ++k) issue(c, now0);
      flush(c, i);
    }
    std::vector<epoll_event> events(256);
    const auto give_up = measure_from + std::chrono::seconds(10);
    Clock::time_point measure_until = Clock::time_point::max();
    for (;;) {
      const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 5);
      const auto now = Clock::now();
      if (now >= measure_until) break;
      if (!measuring_ && now >= measure_from && (started_ == connections_.size() || now >= give_up)) {
        measuring_ = true;
        measure_until = now + duration;
      }
      for (int k = 0; k < n; ++k) {
        const auto index = static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64);
        Connection& c = connections_[index];
        if (c.broken) continue;
        if ((events[static_cast<std::size_t>(k)].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
          on_readable(c, now);
        }
        if (!c.broken) flush(c, index);
      }
    }
    return std::move(result_);
  }

 private:
  void issue(Connection& c, Clock::time_point now) {
    c.sent_at[c.issued % options_.depth] = now;
    if (options_.block_permille > 0) c.kinds[c.issued % options_.depth] = next_kind();
    ++c.issued;
  }

  // Marks block_permille of every 1000 messages this thread issues, spread evenly (message n when
  // floor((n + 1) * permille / 1000) steps up): counted over all of the thread's connections, so
  // the connections do not block in step with one another.
  lf::BlockKind next_kind() noexcept {
    const std::uint64_t n = issued_++;
    return (n + 1) * options_.block_permille / 1000 > n * options_.block_permille / 1000
               ? options_.block_kind
               : lf::BlockKind::kNone;
  }

  // The bytes at stream offset `offset` of `c`, `n` of them: the pattern, with the first byte of
  // every message a BlockKind under --block-permille (then copied to marked_, so n <= kChunk).
  // Only messages in flight are ever sent or echoed, so their marks are still in the ring.
  const unsigned char* stream_bytes(const Connection& c, std::uint64_t offset, std::size_t n) {
    const unsigned char* plain = pattern_.at(c.phase, offset);
    if (options_.block_permille == 0) return plain;
    std::memcpy(marked_.data(), plain, n);
    const std::uint64_t size = options_.size;
    for (std::uint64_t m = (offset + size - 1) / size; m * size < offset + n; ++m) {
      marked_[static_cast<std::size_t>(m * size - offset)] =
          static_cast<unsigned char>(c.kinds[m % options_.depth]);
    }
    return marked_.data();
  }

  void fail(Connection& c, const std::string& why) {
    if (result_.errors++ == 0) fmt::print(stderr, "loadgen: {}\n", why);
    c.broken = true;
    if (c.completed == 0) ++started_;  // nothing more to wait for on this one
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  }

  void on_readable(Connection& c, Clock::time_point now) {
    for (;;) {
      const ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), 0);
      if (n == 0) return fail(c, "the server closed a connection");
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        return fail(c, fmt::format("recv: {}", std::strerror(errno)));
      }
      const auto got = static_cast<std::size_t>(n);
      if (c.received + got > c.sent) return fail(c, "the server sent more bytes than it was sent");
      if (std::memcmp(scratch_.data(), stream_bytes(c, c.received, got), got) != 0) {
        return fail(c, fmt::format("echoed bytes differ from the bytes sent (at offset {})",
                                   c.received));
      }
      c.received += got;
      while (c.received >= (c.completed + 1) * options_.size) {
        if (measuring_) {
          const auto latency = now - c.sent_at[c.completed % options_.depth];
          const auto ns = static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count());
          result_.histogram.record(ns);
          if (options_.block_permille > 0) {
            const bool marked = c.kinds[c.completed % options_.depth] != lf::BlockKind::kNone;
            (marked ? result_.blocked : result_.victims).record(ns);
          }
          ++result_.messages;
        }
        if (c.completed++ == 0) ++started_;
        issue(c, now);
      }
      if (got < scratch_.size()) return;  // drained, most likely
    }
  }

  // Writes what has been issued; asks for EPOLLOUT while the socket is full.
  void flush(Connection& c, std::size_t index) {
    const std::uint64_t target = c.issued * options_.size;
    while (c.sent < target) {
      const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(target - c.sent, Pattern::kChunk));
      const ssize_t n = ::send(c.fd.get(), stream_bytes(c, c.sent, chunk), chunk, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return fail(c, fmt::format("send: {}", std::strerror(errno)));
      }
      c.sent += static_cast<std::uint64_t>(n);
    }
    const bool want = c.sent < target;
    if (want != c.want_write) {
      c.want_write = want;
      epoll_event event{};
      event.events = EPOLLIN | (want ? EPOLLOUT : 0U);
      event.data.u64 = index;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &event);
    }
  }

  const Options& options_;
  const Pattern& pattern_;
  std::vector<Connection> connections_;
  Fd epoll_;
  std::vector<unsigned char> scratch_;
  std::vector<unsigned char> marked_;  // stream_bytes() under --block-permille
  std::uint64_t issued_ = 0;           // messages this thread has issued (for next_kind)
  bool measuring_ = false;
  std::size_t started_ = 0;  // connections that have had a message back
  ThreadResult result_;
};

addrinfo* resolve(const Options& options) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(options.port);
  if (const int rc = ::getaddrinfo(options.host.c_str(), port.c_str(), &hints, &result); rc != 0) {
    throw std::runtime_error(fmt::format("{}: {}", options.host, ::gai_strerror(rc)));
  }
  return result;
}

// VmRSS of a process in KiB (0 if it cannot be read).
long rss_kib(int pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 16, '\n');
  }
  return 0;
}

// Blocking: sends `size` pattern bytes and reads them back. False on any mismatch or error.
bool echo_once(Connection& c, const Pattern& pattern, std::size_t size) {
  std::vector<unsigned char> back(size);
  if (::send(c.fd.get(), pattern.at(c.phase, 0), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) {
    return false;
  }
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::recv(c.fd.get(), back.data() + got, size - got, 0);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return std::memcmp(back.data(), pattern.at(c.phase, 0), size) == 0;
}

std::vector<Connection> open_connections(const Options& options) {
  addrinfo* address = resolve(options);
  std::vector<Connection> connections(options.connections);
  try {
    for (std::size_t i = 0; i < connections.size(); ++i) {
      connections[i].fd = connect_to(*address);
      connections[i].phase = Pattern::phase(i);
      connections[i].sent_at.resize(options.depth);
      connections[i].kinds.resize(options.depth, lf::BlockKind::kNone);
    }
  } catch (...) {
    ::freeaddrinfo(address);
    throw;
  }
  ::freeaddrinfo(address);
  return connections;
}

int run_idle(const Options& options, const Pattern& pattern) {
  const long before = options.rss_pid > 0 ? rss_kib(options.rss_pid) : 0;
  std::vector<Connection> connections = open_connections(options);
  std::uint64_t errors = 0;
  for (Connection& c : connections) errors += echo_once(c, pattern, options.size) ? 0 : 1;
  std::this_thread::sleep_for(std::chrono::duration<double>(options.duration_s));
  const long after = options.rss_pid > 0 ? rss_kib(options.rss_pid) : 0;
  nlohmann::json out = {
      {"mode", "idle"},           {"connections", connections.size()},
      {"errors", errors},         {"rss_before_kib", before},
      {"rss_after_kib", after},
      {"rss_per_connection_bytes",
       connections.empty() ? 0.0
                           : static_cast<double>(after - before) * 1024.0 /
                                 static_cast<double>(connections.size())}};
  fmt::print("{}\n", out.dump());
  return errors == 0 ? 0 : 1;
}

// count and latency percentiles (µs) of one class of messages (victims or blocked).
nlohmann::json latency_summary(const LatencyHistogram& histogram) {
  const auto us = [&](double q) { return histogram.percentile(q) / 1000.0; };
  return {{"count", histogram.count()},
          {"latency_us",
           {{"p50", us(0.50)},
            {"p99", us(0.99)},
            {"p999", us(0.999)},
            {"mean", histogram.mean() / 1000.0},
            {"max", static_cast<double>(histogram.max()) / 1000.0}}}};
}

int run_load(const Options& options, const Pattern& pattern) {
  std::vector<Connection> all = open_connections(options);
  for (Connection& c : all) ::fcntl(c.fd.get(), F_SETFL, ::fcntl(c.fd.get(), F_GETFL) | O_NONBLOCK);
  const std::size_t threads = std::clamp<std::size_t>(options.threads, 1, std::max<std::size_t>(all.size(), 1));
  std::vector<std::vector<Connection>> shares(threads);
  for (std::size_t i = 0; i < all.size(); ++i) shares[i % threads].push_back(std::move(all[i]));

  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.warmup_s));
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration_s));
  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Worker worker(options, pattern, std::move(shares[t]));
      results[t] = worker.run(measure_from, duration);
    });
  }
  for (std::thread& thread : pool) thread.join();

  ThreadResult total;
  for (const ThreadResult& r : results) {
    total.histogram.merge(r.histogram);
    total.victims.merge(r.victims);
    total.blocked.merge(r.blocked);
    total.messages += r.messages;
    total.errors += r.errors;
  }
  const double seconds = options.duration_s;
  const double bytes = static_cast<double>(total.messages) * static_cast<double>(options.size);
  const auto us = [&](double q) { return total.histogram.percentile(q) / 1000.0; };
  nlohmann::json out = {
      {"mode", "load"},
      {"connections", options.connections},
      {"depth", options.depth},
      {"size", options.size},
      {"threads", threads},
      {"duration_s", seconds},
      {"messages", total.messages},
      {"errors", total.errors},
      {"msgs_per_s", static_cast<double>(total.messages) / seconds},
      {"mib_per_s", bytes / seconds / (1024.0 * 1024.0)},
      {"latency_us",
       {{"p50", us(0.50)},
        {"p99", us(0.99)},
        {"p999", us(0.999)},
        {"mean", total.histogram.mean() / 1000.0},
        {"max", static_cast<double>(total.histogram.max()) / 1000.0}}}};
  if (options.block_permille > 0) {
    out["block"] = {{"permille", options.block_permille},
                    {"ms", options.block_ms},
                    {"kind", options.block_kind == lf::BlockKind::kSleep ? "sleep" : "compute"}};
    out["victims"] = latency_summary(total.victims);
    out["blocked"] = latency_summary(total.blocked);
  }
  fmt::print("{}\n", out.dump());
  if (total.errors != 0) return 1;
  // Sleeping or computing for D takes at least D: a marked message back sooner was not blocked
  // (a server without --client-blocks, or with a shorter --block-ms), and the victims measured
  // nothing.
  const auto block_ns = static_cast<std::uint64_t>(options.block_ms) * 1000000;
  if (total.blocked.count() > 0 && total.blocked.min() < block_ns) {
    fmt::print(stderr,
               "loadgen: a marked message came back after {} us, sooner than --block-ms {}: "
               "does the server run with --client-blocks and that --block-ms?\n",
               static_cast<double>(total.blocked.min()) / 1000.0, options.block_ms);
    return 1;
  }
  if (total.messages == 0) {
    fmt::print(stderr, "loadgen: no message came back\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace loadgen

int main(int argc, char** argv) {
  loadgen::Options options;
  CLI::App app{"loadgen: closed-loop echo load generator that verifies every echoed byte"};
  app.add_option("--host", options.host, "server address");
  app.add_option("--port", options.port, "server port");
  app.add_option("-c,--connections", options.connections, "connections")->check(CLI::Range(1, 1000000));
  app.add_option("--depth", options.depth, "messages in flight per connection")->check(CLI::Range(1, 4096));
  app.add_option("-s,--size", options.size, "message size in bytes")->check(CLI::Range(1, 1 << 24));
  app.add_option("-d,--duration", options.duration_s, "measured seconds (--idle: seconds to hold)")
      ->check(CLI::PositiveNumber);
  app.add_option("-w,--warmup", options.warmup_s, "seconds of load before measuring")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-t,--threads", options.threads, "load threads")->check(CLI::Range(1, 256));
  app.add_flag("--idle", options.idle, "open the connections, echo once on each, hold them");
  app.add_option("--rss-pid", options.rss_pid, "--idle: report this process's resident memory");
  app.add_option("--block-permille", options.block_permille,
                 "mark this many of every 1000 messages (spread evenly) for the server to block "
                 "on, and report the victims (unmarked messages) apart; the server must run with "
                 "--client-blocks --message-size SIZE")
      ->check(CLI::Range(0u, 1000u));
  app.add_option("--block-ms", options.block_ms,
                 "the server's --block-ms: a marked message back sooner is an error")
      ->needs("--block-permille");
  std::string kind = "sleep";
  app.add_option("--block-kind", kind, "what a marked message asks for: sleep or compute")
      ->check(CLI::IsMember({"sleep", "compute"}))
      ->needs("--block-permille");
  CLI11_PARSE(app, argc, argv);
  options.block_kind = kind == "sleep" ? lf::BlockKind::kSleep : lf::BlockKind::kCompute;
  try {
    const loadgen::Pattern pattern;
    return options.idle ? loadgen::run_idle(options, pattern) : loadgen::run_load(options, pattern);
  } catch (const std::exception& e) {
    fmt::print(stderr, "loadgen: {}\n", e.what());
    return 1;
  }
}
