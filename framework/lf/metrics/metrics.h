// Public. The framework's process-wide counters, cheap enough for the hot path: each thread adds
// to its own cache line (no locked instruction, no sharing); a read sums the threads. add() is
// thread safe and wait-free; snapshot() is thread safe. A program's own metrics:
// metric_registry.h.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lf::metrics {

// What add() counts.
enum class Counter : std::uint8_t {
  kConnectionsOpened,
  kConnectionsClosed,
  kConnectionsRejected,  // closed at once: out of descriptors or over the connection limit
  kIdleTimeouts,         // connections closed by the idle timeout
  kBytesIn,
  kBytesOut,
  kEventsDispatched,  // handler runs
  kPromotions,        // leader token handed to a follower
  kHandOffs,          // events passed to another thread (post, lf-handoff's hand_off)
  kStalls,            // a handler started while every thread was processing
  kTimersFired,
  kLogMessagesDropped,
  kHandlerExceptions,  // exceptions caught from handler hooks (the handler was closed)
  kDrainTimeouts,      // connections still open at the drain deadline, closed
  kThreadsStarted,     // ThreadSet threads started (at start, and by growth)
  kThreadsExited,      // ThreadSet threads gone (stopped, or retired after idling)
  kThreadsGrown,       // threads added because every thread was busy
  kThreadsRetired,     // extra threads that left after idling
  kConnectsStarted,    // outgoing connects (Connector), each counted once whatever its retries
  kConnectsSettled,    // ... that connected, failed or were cancelled
  kUdpHandlersOpened,  // UDP sockets bound by DatagramHandlers
  kUdpHandlersClosed,
  kTlsHandshakes,         // TLS handshakes completed, full or resumed
  kTlsResumed,            // ... of which resumed an earlier session (ticket or session id)
  kTlsHandshakeFailures,  // TLS handshakes that failed or timed out (the peer never got in)
  kTlsTruncations,        // TLS peers that closed without close_notify
  kTlsFilesByKernel,      // files sent over TLS by kernel TLS (SSL_sendfile: no user-space copy)
  kTlsFilesByCopy,        // files sent over TLS by pread + SSL_write (no kernel TLS)
  kTlsReloads,            // TLS contexts whose certificates were reloaded (SIGHUP, reload_tls)
  kTlsReloadFailures,     // ... that could not be: the certificates in use were kept
  kCount,
};

// Nanoseconds each thread spent per role, summed over threads (reported by ThreadSet).
enum class Role : std::uint8_t { kLeading, kProcessing, kFollowing, kCount };

namespace detail {
// One thread's counters. Only the owner writes (load + store, no locked add); readers may load
// at any time, so the fields are atomics with relaxed ordering.
struct alignas(64) ThreadCounters {
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Counter::kCount)> counters{};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Role::kCount)> role_ns{};
};
// The calling thread's counters once it has counted anything; a plain pointer, so the hot path
// is one thread-local load and no initialisation check.
inline thread_local ThreadCounters* t_counters = nullptr;
// Registers the calling thread's counters (first use only).
ThreadCounters& attach_this_thread();

inline ThreadCounters& mine() noexcept {
  ThreadCounters* counters = t_counters;
  return counters != nullptr ? *counters : attach_this_thread();
}
inline void bump(std::atomic<std::uint64_t>& value, std::uint64_t n) noexcept {
  value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace detail

// Adds n to a counter from the calling thread.
inline void add(Counter counter, std::uint64_t n = 1) noexcept {
  detail::bump(detail::mine().counters[static_cast<std::size_t>(counter)], n);
}
inline void add_time(Role role, std::uint64_t nanoseconds) noexcept {
  detail::bump(detail::mine().role_ns[static_cast<std::size_t>(role)], nanoseconds);
}

// Value types returned by snapshot(): a copy, owned by the caller.
struct Sample {
  std::string name;  // Prometheus metric name
  std::string help;
  std::string type;  // "counter" or "gauge"
  double value = 0;
};

struct Snapshot {
  std::array<std::uint64_t, static_cast<std::size_t>(Counter::kCount)> counters{};
  std::array<std::uint64_t, static_cast<std::size_t>(Role::kCount)> role_ns{};

  [[nodiscard]] std::uint64_t get(Counter counter) const noexcept {
    return counters[static_cast<std::size_t>(counter)];
  }
  // Gauges kept as two counters. Each is summed over threads without a common instant, so the
  // one counting ends may run ahead of the one counting starts (a connect started on one thread
  // and settled on another): a difference below zero is read as zero, not as 2^64 - 1.
  [[nodiscard]] std::uint64_t connections_open() const noexcept {
    return difference(Counter::kConnectionsOpened, Counter::kConnectionsClosed);
  }
  [[nodiscard]] std::uint64_t threads_running() const noexcept {
    return difference(Counter::kThreadsStarted, Counter::kThreadsExited);
  }
  [[nodiscard]] std::uint64_t pending_connects() const noexcept {
    return difference(Counter::kConnectsStarted, Counter::kConnectsSettled);
  }
  [[nodiscard]] std::uint64_t udp_handlers() const noexcept {
    return difference(Counter::kUdpHandlersOpened, Counter::kUdpHandlersClosed);
  }
  // Every value with its Prometheus name, help text and type.
  [[nodiscard]] std::vector<Sample> samples() const;

 private:
  [[nodiscard]] std::uint64_t difference(Counter up, Counter down) const noexcept {
    const std::uint64_t ups = get(up);
    const std::uint64_t downs = get(down);
    return ups > downs ? ups - downs : 0;
  }
};

[[nodiscard]] Snapshot snapshot();

// The Prometheus text exposition format (version 0.0.4) of the samples.
[[nodiscard]] std::string to_prometheus(const std::vector<Sample>& samples);

// What /metrics serves: the framework's samples, then the metrics registered by handlers and
// programs (metric_registry.h).
[[nodiscard]] std::string prometheus_text();

}  // namespace lf::metrics
