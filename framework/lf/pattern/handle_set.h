// Public. HandleSet: the Leader/Followers pattern's handle set, one epoll instance. Handles are
// registered with their handlers; wait_for_event() (leader only) returns the handlers that became
// ready. Suspension keeps a handle from being reported to a second thread while one processes it.
// Thread safe except where a method says otherwise.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lf/base/unique_fd.h"

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
  // Ready handlers travel as bare pointers, with no reference count to touch per event: a
  // scheduled handler (queued or running) is kept alive by its HandleSet. It is registered, or
  // removed but kept until it is no longer scheduled, or posted from outside with a reference
  // that the HandleSet keeps the same way.
  using ReadyList = std::vector<EventHandler*>;

  // Throws std::system_error if epoll or eventfd cannot be created.
  explicit HandleSet(Suspension suspension = Suspension::kOneShot);
  ~HandleSet();
  HandleSet(const HandleSet&) = delete;
  HandleSet& operator=(const HandleSet&) = delete;

  // Starts demultiplexing events for handler->handle(), armed for handler->interest().
  // The HandleSet shares ownership of the handler until it is removed. Throws std::system_error.
  void register_handle(std::shared_ptr<EventHandler> handler);

  // Stops demultiplexing; call it before closing the handle. The handler stays alive until no
  // thread can reach it through an event fetched earlier and it is no longer scheduled (queued
  // or running). Call from the handler's processing, or when no ThreadSet thread runs.
  void remove_handle(EventHandler& handler);

  // Re-arms the handle after processing (kOneShot) or updates its interest (kEdgeTriggered).
  // Called by the processing thread; does nothing for a removed handler. False if epoll could
  // not re-arm it (ENOMEM): the kernel will not report it, so the caller must run it again.
  bool resume_handle(EventHandler& handler);

  // Leader only: one thread at a time. Waits up to timeout_ms (-1: forever) and appends to `ready`
  // every handler that became ready and was not already queued or running, plus handlers queued
  // by post(). Returns how many it appended (0 on timeout or wakeup()).
  std::size_t wait_for_event(ReadyList& ready, int timeout_ms);

  // Queues a handler whose state was already marked scheduled, and wakes the leader. The
  // caller holds a reference, which the HandleSet keeps until the handler has run (notify()).
  void post(std::shared_ptr<EventHandler> handler);
  // The same for a handler that is still scheduled since it was fetched (a busy handler sent to
  // the back of the queue): the HandleSet already keeps it alive.
  void post_again(EventHandler& handler);

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
  // Frees the removed handlers that are no longer scheduled, and the references of posted
  // handlers that have run (leader only).
  void free_unscheduled();
  // Appends to `ready` the handlers queued by post() (leader only).
  void take_posted(ReadyList& ready);
  void enqueue_posted(EventHandler& handler, std::shared_ptr<EventHandler> ref);
  static void move_unscheduled(std::vector<std::shared_ptr<EventHandler>>& from,
                               std::vector<std::shared_ptr<EventHandler>>& to);

  const Suspension suspension_;
  UniqueFd epoll_fd_;
  UniqueFd wakeup_fd_;
  std::vector<epoll_event> events_;  // leader only

  mutable std::mutex registry_mutex_;
  std::unordered_map<const EventHandler*, std::shared_ptr<EventHandler>> registry_;
  // Removed handlers that a ready list or a running thread may still point to. The leader frees
  // them before an epoll_wait once they are no longer scheduled: then no earlier epoll_wait's
  // pointer can be left, and no later one can return them.
  std::vector<std::shared_ptr<EventHandler>> removed_;
  std::atomic<bool> has_removed_{false};  // removed_ is not empty: saves the lock per wait

  std::mutex posted_mutex_;
  ReadyList posted_;                                    // guarded by posted_mutex_
  std::vector<std::shared_ptr<EventHandler>> posted_refs_;  // guarded by posted_mutex_
  // References of posted handlers the leader took, kept until they are no longer scheduled
  // (leader only: whoever leads touches it, each after the previous leader).
  std::vector<std::shared_ptr<EventHandler>> taken_refs_;
};

}  // namespace lf
