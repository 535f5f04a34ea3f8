#include "lf/pattern/event_handler.h"

#include <exception>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/pattern/handle_set.h"

namespace lf {

namespace {
thread_local const EventHandler* t_processing = nullptr;

// Marks the calling thread as processing `handler` for the duration of a scope.
class ProcessingScope {
 public:
  explicit ProcessingScope(const EventHandler* handler) noexcept : saved_(t_processing) {
    t_processing = handler;
  }
  ~ProcessingScope() { t_processing = saved_; }
  ProcessingScope(const ProcessingScope&) = delete;
  ProcessingScope& operator=(const ProcessingScope&) = delete;

 private:
  const EventHandler* saved_;
};
}  // namespace

void EventHandler::handle_close() {
  if (handle_set_ != nullptr) handle_set_->remove_handle(*this);
}

void EventHandler::handle_exception(std::string_view what) {
  LF_LOG_ERROR("handler of fd {} threw: {}; closing it", handle(), what);
  handle_close();
}

void EventHandler::dispatch(std::uint32_t bits) {
  const std::uint32_t io_bits = bits & ~(event::kDrain | event::kClose);
  if (io_bits != 0) handle_event(io_bits);
  if ((bits & event::kDrain) != 0) handle_drain();
  if ((bits & event::kClose) != 0) handle_close();
}

void EventHandler::process(std::uint32_t bits) noexcept {
  try {
    dispatch(bits);
  } catch (const std::exception& e) {
    recover(e.what());
  } catch (...) {
    recover("an exception not derived from std::exception");
  }
}

void EventHandler::recover(std::string_view what) noexcept {
  metrics::add(metrics::Counter::kHandlerExceptions);
  try {
    handle_exception(what);
  } catch (...) {
    // handle_exception() broke its promise; the handler is left as it is rather than the process.
    LF_LOG_ERROR("handler of fd {}: handle_exception threw too", handle());
  }
}

void EventHandler::notify(std::uint32_t bits) {
  HandleSet* set = handle_set_;
  if (set == nullptr) return;  // not registered yet: nothing can run it
  if (mark_ready(bits)) set->post(shared_from_this());
}

bool EventHandler::in_processing() const noexcept { return t_processing == this; }

bool EventHandler::run() {
  ProcessingScope scope(this);
  for (int round = 0; round < kMaxRounds; ++round) {
    // Take the pending bits but stay scheduled, so that events arriving meanwhile are only
    // recorded (by another thread's mark_ready) and picked up by the next round here.
    const std::uint32_t bits = state_.exchange(kScheduled, std::memory_order_acq_rel) & ~kScheduled;
    process(bits);
    // Re-arm before giving up ownership: an event reported after this is merged into state_
    // and makes the release below fail, so it is never lost and never run elsewhere.
    if (handle_set_ != nullptr && !handle_set_->resume_handle(*this)) {
      // Not re-armed (out of kernel memory): nothing would report this handle again, so run
      // it again as if its events had come, which retries the re-arm.
      state_.fetch_or(interest() | event::kWake, std::memory_order_acq_rel);
    }
    std::uint32_t expected = kScheduled;
    if (state_.compare_exchange_strong(expected, 0, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return false;
    }
  }
  return true;
}

}  // namespace lf
