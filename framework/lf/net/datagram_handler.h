// Public. DatagramHandler: the ConcreteEventHandler base for UDP services. It owns one bound UDP
// socket (IPv4 or IPv6), reads datagrams in batches with recvmmsg and hands each to
// on_datagram(), which runs on ThreadSet threads, one call at a time per handler. send_to() is
// thread safe; queued datagrams go out in batches with sendmmsg.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lf/base/unique_fd.h"
#include "lf/net/inet_address.h"
#include "lf/pattern/event_handler.h"

namespace lf {

// How a DatagramHandler binds and bounds its send queue (a value type, read at construction).
struct DatagramOptions {
  bool reuse_port = false;  // SO_REUSEPORT: several processes or sockets share the port
  bool v6_only = false;     // IPV6_V6ONLY for "::"
  // Queued output above this is dropped (UDP may lose datagrams; memory must stay bounded).
  std::size_t max_queued_bytes = 4 * 1024 * 1024;
};

class DatagramHandler : public EventHandler {
 public:
  // Binds a non-blocking UDP socket to `address` (port 0 picks one). Throws std::system_error.
  explicit DatagramHandler(const InetAddress& address, const DatagramOptions& options = {});
  ~DatagramHandler() override;

  // Thread safe. Queues one datagram for `to`; false if it was dropped (closed, or the queue is
  // full). Sent when the handler runs next: at the end of on_datagram()'s batch when called
  // from it, else soon on a ThreadSet thread.
  bool send_to(std::string_view data, const InetAddress& to);

  // The bound address (with the real port when asked for port 0).
  [[nodiscard]] const InetAddress& local_address() const noexcept { return local_; }
  // Thread safe. Datagrams received, sent, and dropped from the send queue.
  [[nodiscard]] std::uint64_t received() const noexcept { return received_.load(); }
  [[nodiscard]] std::uint64_t sent() const noexcept { return sent_.load(); }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_.load(); }

  // EventHandler
  [[nodiscard]] int handle() const noexcept override { return fd_.get(); }
  void handle_event(std::uint32_t events) override;
  void handle_close() override;
  [[nodiscard]] std::uint32_t interest() const noexcept override;

 protected:
  // One datagram from `from`. `data` is valid during the call only.
  virtual void on_datagram(std::string_view data, const InetAddress& from) = 0;

 private:
  static constexpr std::size_t kBatch = 32;             // datagrams per recvmmsg / sendmmsg
  static constexpr std::size_t kMaxDatagram = 65536;    // largest UDP payload, rounded up
  static constexpr int kMaxBatchesPerRound = 16;        // then other handlers get a turn

  struct Datagram {
    InetAddress to;
    std::string data;
  };

  void read_datagrams();
  // on_datagram() with exceptions caught, logged and counted.
  void deliver(std::string_view data, const InetAddress& from);
  void failed(const InetAddress& from, std::string_view what) noexcept;
  // Sends what the socket takes; leaves the rest queued and watches EPOLLOUT.
  void flush_output();

  UniqueFd fd_;
  InetAddress local_;
  DatagramOptions options_;
  std::vector<char> input_;  // kBatch * kMaxDatagram bytes, allocated on the first read
  bool closed_ = false;      // owned by the processing thread
  bool want_write_ = false;  // owned by the processing thread

  std::mutex output_mutex_;
  std::vector<Datagram> output_;  // guarded by output_mutex_
  std::size_t output_bytes_ = 0;  // guarded by output_mutex_
  bool output_closed_ = false;    // guarded by output_mutex_

  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace lf
