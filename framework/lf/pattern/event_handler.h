// Public. EventHandler: the Leader/Followers pattern's event handler. Subclass it (or, for TCP
// protocols, StreamConnection) and register it with a HandleSet; a ThreadSet thread then runs it
// whenever its handle is ready. A handler is never run by two threads at once.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

namespace lf {

class HandleSet;

// Event bits passed to handle_event(): epoll's own bits plus framework events the kernel never sets.
namespace event {
inline constexpr std::uint32_t kReadable = EPOLLIN;
inline constexpr std::uint32_t kWritable = EPOLLOUT;
inline constexpr std::uint32_t kPeerClosed = EPOLLRDHUP;
inline constexpr std::uint32_t kHangUp = EPOLLHUP;
inline constexpr std::uint32_t kError = EPOLLERR;
inline constexpr std::uint32_t kWake = 1u << 24;   // notify(): work handed over by another thread
inline constexpr std::uint32_t kDrain = 1u << 25;  // finish gracefully (server shutdown)
inline constexpr std::uint32_t kClose = 1u << 26;  // close now
inline constexpr std::uint32_t kTimer = 1u << 27;  // a timer the handler set has expired
}  // namespace event

class EventHandler;

// A handler must not derive from std::enable_shared_from_this itself: with two such bases,
// std::make_shared sets neither, and the framework cannot find the handler's owner. Server's
// listen/connect templates call this to fail at compile time instead.
template <class Handler>
constexpr void check_shared_through_event_handler() noexcept {
  static_assert(!std::is_convertible_v<Handler*, std::enable_shared_from_this<Handler>*>,
                "a handler must not derive from std::enable_shared_from_this: lf::EventHandler "
                "already does; use std::static_pointer_cast<Handler>(shared_from_this())");
}

class EventHandler : public std::enable_shared_from_this<EventHandler> {
 public:
  EventHandler() = default;
  EventHandler(const EventHandler&) = delete;
  EventHandler& operator=(const EventHandler&) = delete;
  virtual ~EventHandler() = default;

  // The handle (file descriptor) this handler waits on.
  [[nodiscard]] virtual int handle() const noexcept = 0;

  // Processing: runs on a ThreadSet thread, never concurrently with itself or the hooks below.
  // `events` holds the epoll bits and event::kWake that arrived since the last call.
  virtual void handle_event(std::uint32_t events) = 0;

  // The framework asks the handler to finish what it has in hand and then close (server stop).
  // Runs like handle_event(). The default closes at once. (A StreamConnection's handler
  // overrides on_drain() instead.)
  virtual void handle_drain() { handle_close(); }

  // The framework asks the handler to close now: it must remove itself from its HandleSet and
  // release its handle. Runs like handle_event(). The default only removes the handler.
  virtual void handle_close();

  // A hook of this handler threw `what` out of handle_event(), handle_drain() or handle_close()
  // (the framework catches every exception there, counts it and calls this). Runs like
  // handle_event(). The default logs it and closes the handler; it must not throw.
  virtual void handle_exception(std::string_view what);

  // The epoll events to wait for when the handle is (re)armed after processing. Read only by the
  // processing thread and at registration.
  [[nodiscard]] virtual std::uint32_t interest() const noexcept { return EPOLLIN; }

  // Thread safe (hold a shared_ptr to the handler). Schedules the handler to run on a ThreadSet
  // thread with `bits` added to its pending events; bits from several calls are merged.
  void notify(std::uint32_t bits);

  // The HandleSet this handler is registered with, or null before registration.
  [[nodiscard]] HandleSet* handle_set() const noexcept { return handle_set_; }
  // True while the calling thread is processing this handler.
  [[nodiscard]] bool in_processing() const noexcept;

 private:
  friend class HandleSet;
  friend class ThreadSet;
  friend class Dispatcher;  // the other concurrency models run handlers through it
  friend class Server;

  // Set while the handler is queued or running: whoever sets it owns the duty to run the handler.
  static constexpr std::uint32_t kScheduled = 1u << 31;
  // How many rounds one thread runs a busy handler before giving other handlers a turn.
  static constexpr int kMaxRounds = 16;

  // Adds pending bits. True when the handler was idle, so the caller must queue it.
  [[nodiscard]] bool mark_ready(std::uint32_t bits) noexcept {
    return (state_.fetch_or(bits | kScheduled, std::memory_order_acq_rel) & kScheduled) == 0;
  }
  [[nodiscard]] bool scheduled() const noexcept {
    return (state_.load(std::memory_order_acquire) & kScheduled) != 0;
  }
  // Runs the pending events until none are left. True when the handler is still busy after
  // kMaxRounds and must be queued again (it stays scheduled).
  [[nodiscard]] bool run();
  // Runs `bits` through the handle_* entry points; an exception escaping them is counted and
  // given to handle_exception(), so one handler's bug cannot end the process.
  void process(std::uint32_t bits) noexcept;
  void dispatch(std::uint32_t bits);
  void recover(std::string_view what) noexcept;

  std::atomic<std::uint32_t> state_{0};
  HandleSet* handle_set_ = nullptr;   // written once at registration
  // Written under the HandleSet's registry lock, but read without it by resume_handle(): the
  // only writers are register_handle(), before any thread can run the handler (its state_
  // release publishes the value to the first runner), and remove_handle(), which is called from
  // the handler's own processing or once no thread runs. So the processing thread never races
  // a write.
  bool registered_ = false;
  std::uint32_t armed_interest_ = 0;  // what epoll watches now; owned by the processing thread
};

}  // namespace lf
