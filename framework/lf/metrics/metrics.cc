#include "lf/metrics/metrics.h"

#include <fmt/format.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "lf/metrics/metric_registry.h"

namespace lf::metrics {

namespace {

constexpr std::size_t kCounters = static_cast<std::size_t>(Counter::kCount);
constexpr std::size_t kRoles = static_cast<std::size_t>(Role::kCount);

using detail::ThreadCounters;

// All live threads' counters, plus the totals of threads that have exited.
class Registry {
 public:
  void attach(ThreadCounters* counters) {
    std::lock_guard lock(mutex_);
    live_.push_back(counters);
  }
  void detach(ThreadCounters* counters) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < kCounters; ++i) retired_.counters[i] += counters->counters[i].load();
    for (std::size_t i = 0; i < kRoles; ++i) retired_.role_ns[i] += counters->role_ns[i].load();
    std::erase(live_, counters);
  }
  Snapshot sum() {
    std::lock_guard lock(mutex_);
    Snapshot total = retired_;
    for (const ThreadCounters* t : live_) {
      for (std::size_t i = 0; i < kCounters; ++i) {
        total.counters[i] += t->counters[i].load(std::memory_order_relaxed);
      }
      for (std::size_t i = 0; i < kRoles; ++i) {
        total.role_ns[i] += t->role_ns[i].load(std::memory_order_relaxed);
      }
    }
    return total;
  }

 private:
  std::mutex mutex_;
  std::vector<ThreadCounters*> live_;
  Snapshot retired_;
};

Registry& registry() {
  // Leaked on purpose: threads may exit (and detach) during static destruction.
  static Registry* instance = new Registry;
  return *instance;
}

// Detaches the thread's counters when it exits (their totals are kept).
struct ThreadSlot {
  ThreadSlot() { registry().attach(&counters); }
  ~ThreadSlot() {
    registry().detach(&counters);
    // Counts made later in this thread's exit (other thread_local destructors) go nowhere.
    static ThreadCounters sink;
    detail::t_counters = &sink;
  }
  ThreadCounters counters;
};

}  // namespace

namespace detail {
ThreadCounters& attach_this_thread() {
  thread_local ThreadSlot slot;
  t_counters = &slot.counters;
  return slot.counters;
}
}  // namespace detail

Snapshot snapshot() { return registry().sum(); }

std::vector<Sample> Snapshot::samples() const {
  const auto value = [this](Counter c) { return static_cast<double>(get(c)); };
  const auto seconds = [this](Role r) {
    return static_cast<double>(role_ns[static_cast<std::size_t>(r)]) / 1e9;
  };
  return {
      {"lf_connections_open", "TCP connections open now (accepted or connected)", "gauge",
       static_cast<double>(connections_open())},
      {"lf_udp_handlers", "UDP services (DatagramHandlers) open now", "gauge",
       static_cast<double>(udp_handlers())},
      {"lf_pending_connects", "Outgoing connects not yet connected, failed or cancelled", "gauge",
       static_cast<double>(pending_connects())},
      {"lf_connections_total", "Connections accepted or connected", "counter",
       value(Counter::kConnectionsOpened)},
      {"lf_connections_rejected_total", "Connections closed at once (no descriptors, over limit)",
       "counter", value(Counter::kConnectionsRejected)},
      {"lf_idle_timeouts_total", "Connections closed by the idle timeout", "counter",
       value(Counter::kIdleTimeouts)},
      {"lf_bytes_in_total", "Bytes read from connections", "counter", value(Counter::kBytesIn)},
      {"lf_bytes_out_total", "Bytes written to connections", "counter", value(Counter::kBytesOut)},
      {"lf_events_dispatched_total", "Handler runs on ThreadSet threads", "counter",
       value(Counter::kEventsDispatched)},
      {"lf_leader_promotions_total", "Leader token handed to a follower", "counter",
       value(Counter::kPromotions)},
      {"lf_hand_offs_total", "Handlers queued for another thread or handed to a follower",
       "counter", value(Counter::kHandOffs)},
      {"lf_stalls_total", "Handlers started while every thread was processing", "counter",
       value(Counter::kStalls)},
      {"lf_timers_fired_total", "Timer callbacks run", "counter", value(Counter::kTimersFired)},
      {"lf_log_messages_dropped_total", "Log messages dropped because the writer fell behind",
       "counter", value(Counter::kLogMessagesDropped)},
      {"lf_handler_exceptions_total", "Exceptions caught from handler hooks (handler closed)",
       "counter", value(Counter::kHandlerExceptions)},
      {"lf_drain_timeouts_total", "Connections still open at the drain deadline, then closed",
       "counter", value(Counter::kDrainTimeouts)},
      {"lf_tls_handshakes_total", "TLS handshakes completed (full or resumed)", "counter",
       value(Counter::kTlsHandshakes)},
      {"lf_tls_resumed_handshakes_total", "TLS handshakes that resumed an earlier session",
       "counter", value(Counter::kTlsResumed)},
      {"lf_tls_handshake_failures_total", "TLS handshakes that failed or timed out", "counter",
       value(Counter::kTlsHandshakeFailures)},
      {"lf_tls_truncations_total", "TLS peers that closed without close_notify", "counter",
       value(Counter::kTlsTruncations)},
      {"lf_tls_files_sent_by_kernel_total",
       "Files sent over TLS by kernel TLS (SSL_sendfile, no user-space copy)", "counter",
       value(Counter::kTlsFilesByKernel)},
      {"lf_tls_files_sent_by_copy_total",
       "Files sent over TLS by pread + SSL_write (kernel TLS not in use)", "counter",
       value(Counter::kTlsFilesByCopy)},
      {"lf_tls_reloads_total", "TLS certificate reloads that took effect (SIGHUP)", "counter",
       value(Counter::kTlsReloads)},
      {"lf_tls_reload_failures_total",
       "TLS certificate reloads that failed (the certificates in use were kept)", "counter",
       value(Counter::kTlsReloadFailures)},
      {"lf_threads", "ThreadSet threads running now", "gauge",
       static_cast<double>(threads_running())},
      {"lf_threads_grown_total", "Threads started because every thread was busy (elastic)",
       "counter", value(Counter::kThreadsGrown)},
      {"lf_threads_retired_total", "Extra threads that left after idling (elastic)", "counter",
       value(Counter::kThreadsRetired)},
      {"lf_thread_leading_seconds_total", "Time threads spent as leader", "counter",
       seconds(Role::kLeading)},
      {"lf_thread_processing_seconds_total", "Time threads spent processing", "counter",
       seconds(Role::kProcessing)},
      {"lf_thread_following_seconds_total", "Time threads spent as followers", "counter",
       seconds(Role::kFollowing)},
  };
}

std::string to_prometheus(const std::vector<Sample>& samples) {
  fmt::memory_buffer out;
  for (const Sample& s : samples) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", s.name,
                   s.help, s.name, s.type, s.name, s.value);
  }
  return fmt::to_string(out);
}

std::string prometheus_text() {
  return to_prometheus(snapshot().samples()) + registered_to_prometheus();
}

}  // namespace lf::metrics
