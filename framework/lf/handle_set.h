// Public. HandleSet: the Leader/Followers pattern's handle set, one epoll instance. Handles are
// registered with their handlers; wait_for_event() (leader only) returns the handlers that became
// ready. Suspension keeps a handle from being reported to a second thread while one processes it.
// Thread safe except where a method says otherwise.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lf/unique_fd.h"

namespace lf {

class EventHandler;

// How a handle is kept from being reported again while a thread processes it.
enum class Suspension {
  // EPOLLONESHOT, level triggered: the kernel disarms a reported handle; resume_handle re-arms it
  // (one epoll_ctl per processing).
  kOneShot,
  // EPOLLET, registered once: the handler's own atomic state turns duplicate reports into a
  // "run again" mark, and epoll_ctl is only called when the interest changes.
  kEdgeTriggered,
};

class HandleSet {
 public:
  using ReadyList = std::vector<std::shared_ptr<EventHandler>>;

  // Throws std::system_error if epoll or eventfd cannot be created.
  explicit HandleSet(Suspension suspension = Suspension::kOneShot);
  ~HandleSet();
  HandleSet(const HandleSet&) = delete;
  HandleSet& operator=(const HandleSet&) = delete;

  // Starts demultiplexing events for handler->handle(), armed for handler->interest().
  // The HandleSet shares ownership of the handler until it is removed. Throws std::system_error.
  void register_handle(std::shared_ptr<EventHandler> handler);

  // Stops demultiplexing; call it before closing the handle. The handler stays alive until no
  // thread can reach it through an event fetched earlier. Call from the handler's processing, or
  // when no ThreadSet thread runs.
  void remove_handle(EventHandler& handler);

  // Re-arms the handle after processing (kOneShot) or updates its interest (kEdgeTriggered).
  // Called by the processing thread; does nothing for a removed handler. False if epoll could
  // not re-arm it (ENOMEM): the kernel will not report it, so the caller must run it again.
  bool resume_handle(EventHandler& handler);

  // Leader only: one thread at a time. Waits up to timeout_ms (-1: forever) and appends to `ready`
  // every handler that became ready and was not already queued or running, plus handlers queued
  // by post(). Returns how many it appended (0 on timeout or wakeup()).
  std::size_t wait_for_event(ReadyList& ready, int timeout_ms);

  // Queues a handler whose state was already marked scheduled, and wakes the leader.
  void post(std::shared_ptr<EventHandler> handler);

  // Makes a wait_for_event() in progress (or the next one) return.
  void wakeup() noexcept;

  // Registered handlers (not counting the HandleSet's own wakeup handle).
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] bool contains(const EventHandler& handler) const;
  [[nodiscard]] std::vector<std::shared_ptr<EventHandler>> handlers() const;
  [[nodiscard]] Suspension suspension() const noexcept { return suspension_; }

  // Drops queued work and removed handlers. Only when no ThreadSet thread runs (after stop).
  void release_pending();

 private:
  [[nodiscard]] std::uint32_t epoll_bits(std::uint32_t interest) const noexcept;
  void drain_wakeup() noexcept;

  const Suspension suspension_;
  UniqueFd epoll_fd_;
  UniqueFd wakeup_fd_;
  std::vector<epoll_event> events_;  // leader only

  mutable std::mutex registry_mutex_;
  std::unordered_map<const EventHandler*, std::shared_ptr<EventHandler>> registry_;
  // Removed handlers whose pointers an earlier epoll_wait may still have returned. Freed by the
  // leader before its next epoll_wait, when no such pointer can be left.
  std::vector<std::shared_ptr<EventHandler>> removed_;

  std::mutex posted_mutex_;
  ReadyList posted_;
};

}  // namespace lf
