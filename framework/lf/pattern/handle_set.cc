#include "lf/pattern/handle_set.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <system_error>

#include "lf/metrics/metrics.h"
#include "lf/pattern/event_handler.h"

namespace lf {

namespace {
constexpr int kMaxEventsPerWait = 256;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int epoll_control(int epoll_fd, int op, int fd, std::uint32_t bits, void* ptr) noexcept {
  epoll_event ev{};
  ev.events = bits;
  ev.data.ptr = ptr;
  return ::epoll_ctl(epoll_fd, op, fd, &ev);
}
}  // namespace

HandleSet::HandleSet(Suspension suspension)
    : suspension_(suspension),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      wakeup_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      events_(kMaxEventsPerWait) {
  if (!epoll_fd_) throw_errno("epoll_create1");
  if (!wakeup_fd_) throw_errno("eventfd");
  // The wakeup handle is the only one registered with a null pointer.
  if (epoll_control(epoll_fd_.get(), EPOLL_CTL_ADD, wakeup_fd_.get(), EPOLLIN, nullptr) != 0) {
    throw_errno("epoll_ctl(wakeup)");
  }
}

HandleSet::~HandleSet() = default;

std::uint32_t HandleSet::epoll_bits(std::uint32_t interest) const noexcept {
  return interest | (suspension_ == Suspension::kOneShot ? EPOLLONESHOT : EPOLLET);
}

void HandleSet::register_handle(std::shared_ptr<EventHandler> handler) {
  EventHandler* raw = handler.get();
  const std::uint32_t interest = raw->interest();
  std::lock_guard lock(registry_mutex_);
  raw->handle_set_ = this;
  raw->registered_ = true;
  raw->armed_interest_ = interest;
  // Publishes the fields above to the leader, whose first touch of a reported handler is an
  // acquire on state_ (the kernel's ordering is invisible to ThreadSanitizer).
  raw->state_.fetch_or(0, std::memory_order_release);
  if (epoll_control(epoll_fd_.get(), EPOLL_CTL_ADD, raw->handle(), epoll_bits(interest), raw) !=
      0) {
    raw->registered_ = false;
    throw_errno("epoll_ctl(ADD)");
  }
  registry_.emplace(raw, std::move(handler));
}

void HandleSet::remove_handle(EventHandler& handler) {
  std::lock_guard lock(registry_mutex_);
  const auto it = registry_.find(&handler);
  if (it == registry_.end()) return;
  epoll_control(epoll_fd_.get(), EPOLL_CTL_DEL, handler.handle(), 0, nullptr);
  handler.registered_ = false;
  removed_.push_back(std::move(it->second));
  has_removed_.store(true, std::memory_order_release);
  registry_.erase(it);
}

bool HandleSet::resume_handle(EventHandler& handler) {
  // No lock: the processing thread is the only one that can change registered_ now
  // (event_handler.h).
  if (!handler.registered_) return true;
  const std::uint32_t interest = handler.interest();
  if (suspension_ == Suspension::kEdgeTriggered && interest == handler.armed_interest_) return true;
  if (epoll_control(epoll_fd_.get(), EPOLL_CTL_MOD, handler.handle(), epoll_bits(interest),
                    &handler) != 0) {
    // ENOMEM (found by tests/fault): not armed. ENOENT/EBADF: being removed, nothing to do.
    return errno != ENOMEM;
  }
  handler.armed_interest_ = interest;
  return true;
}

void HandleSet::move_unscheduled(std::vector<std::shared_ptr<EventHandler>>& from,
                                 std::vector<std::shared_ptr<EventHandler>>& to) {
  // A scheduled handler is still queued or running (the queues hold bare pointers): its
  // reference stays until a later wait. Nothing can schedule it again unless it is still
  // registered, or a thread that holds a reference of its own notifies it.
  const auto unscheduled = std::partition(from.begin(), from.end(), [](const auto& handler) {
    return handler->scheduled();
  });
  to.insert(to.end(), std::make_move_iterator(unscheduled), std::make_move_iterator(from.end()));
  from.erase(unscheduled, from.end());
}

void HandleSet::free_unscheduled() {
  std::vector<std::shared_ptr<EventHandler>> doomed;  // destroyed after the lock is released
  if (!taken_refs_.empty()) move_unscheduled(taken_refs_, doomed);
  if (has_removed_.load(std::memory_order_acquire)) {
    std::lock_guard lock(registry_mutex_);
    move_unscheduled(removed_, doomed);
    has_removed_.store(!removed_.empty(), std::memory_order_relaxed);
  }
}

std::size_t HandleSet::wait_for_event(ReadyList& ready, int timeout_ms) {
  if (!taken_refs_.empty() || has_removed_.load(std::memory_order_acquire)) free_unscheduled();
  const int n = ::epoll_wait(epoll_fd_.get(), events_.data(), static_cast<int>(events_.size()),
                             timeout_ms);
  if (n < 0) return 0;  // EINTR: the caller simply waits again
  const std::size_t before = ready.size();
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    auto* handler = static_cast<EventHandler*>(events_[static_cast<std::size_t>(i)].data.ptr);
    if (handler == nullptr) {
      woken = true;
    } else if (handler->mark_ready(events_[static_cast<std::size_t>(i)].events)) {
      // Alive: it is registered, or in removed_, which keeps it while it is scheduled.
      ready.push_back(handler);
    }
  }
  if (woken) {
    drain_wakeup();
    take_posted(ready);
  }
  return ready.size() - before;
}

void HandleSet::take_posted(ReadyList& ready) {
  std::lock_guard lock(posted_mutex_);
  ready.insert(ready.end(), posted_.begin(), posted_.end());
  posted_.clear();
  for (auto& ref : posted_refs_) taken_refs_.push_back(std::move(ref));
  posted_refs_.clear();
}

void HandleSet::post(std::shared_ptr<EventHandler> handler) {
  EventHandler& raw = *handler;
  enqueue_posted(raw, std::move(handler));
}

void HandleSet::post_again(EventHandler& handler) { enqueue_posted(handler, nullptr); }

void HandleSet::enqueue_posted(EventHandler& handler, std::shared_ptr<EventHandler> ref) {
  metrics::add(metrics::Counter::kHandOffs);
  bool was_empty = false;
  {
    std::lock_guard lock(posted_mutex_);
    was_empty = posted_.empty();
    posted_.push_back(&handler);
    if (ref) posted_refs_.push_back(std::move(ref));
  }
  // A non-empty queue has a wakeup on its way already: the leader drains the queue after it
  // consumes the eventfd, so one write serves every post until then.
  if (was_empty) wakeup();
}

void HandleSet::wakeup() noexcept {
  const std::uint64_t one = 1;
  // Retried on EINTR: a lost wakeup would leave posted handlers waiting (EAGAIN means the
  // counter is full, so a wakeup is pending anyway).
  while (::write(wakeup_fd_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void HandleSet::drain_wakeup() noexcept {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = ::read(wakeup_fd_.get(), &count, sizeof count);
}

std::size_t HandleSet::size() const {
  std::lock_guard lock(registry_mutex_);
  return registry_.size();
}

bool HandleSet::contains(const EventHandler& handler) const {
  std::lock_guard lock(registry_mutex_);
  return registry_.contains(&handler);
}

std::vector<std::shared_ptr<EventHandler>> HandleSet::handlers() const {
  std::lock_guard lock(registry_mutex_);
  std::vector<std::shared_ptr<EventHandler>> result;
  result.reserve(registry_.size());
  for (const auto& [raw, handler] : registry_) result.push_back(handler);
  return result;
}

void HandleSet::release_pending() {
  std::vector<std::shared_ptr<EventHandler>> posted_refs;
  std::vector<std::shared_ptr<EventHandler>> taken_refs;
  std::vector<std::shared_ptr<EventHandler>> removed;
  {
    std::lock_guard lock(posted_mutex_);
    posted_.clear();
    posted_refs.swap(posted_refs_);
  }
  taken_refs.swap(taken_refs_);
  {
    std::lock_guard lock(registry_mutex_);
    removed.swap(removed_);
    has_removed_.store(false, std::memory_order_relaxed);
  }
}

}  // namespace lf
