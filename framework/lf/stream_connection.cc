#include "lf/stream_connection.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>

#include <cerrno>

#include <fmt/format.h>

#include "lf/handle_set.h"
#include "lf/log.h"
#include "lf/metrics.h"
#include "lf/timer_service.h"

namespace lf {

void StreamConnection::open(Socket socket, HandleSet& handle_set,
                            const ConnectionOptions& options) {
  socket_ = std::move(socket);
  local_ = InetAddress::local_of(socket_.fd());
  peer_ = InetAddress::peer_of(socket_.fd());
  options_ = options;
  if (options_.timers == nullptr) options_.idle_timeout = std::chrono::milliseconds(0);
  last_activity_ = last_touch_ = std::chrono::steady_clock::now();
  connected_.store(true, std::memory_order_release);
  handle_set.register_handle(shared_from_this());
  metrics::add(metrics::Counter::kConnectionsOpened);
  // After registration: a timer firing earlier could not notify us.
  if (options_.idle_timeout.count() > 0) start_idle_timer(options_.idle_timeout);
  // Runs on_connect() soon even if the peer stays silent.
  notify(event::kWake);
}

void StreamConnection::send(std::string_view data) {
  if (data.empty()) return;
  bool was_empty = false;
  {
    std::lock_guard lock(output_mutex_);
    if (output_closed_) return;
    was_empty = !output_pending();
    // Bytes queued behind a file wait for it.
    (files_.empty() ? output_ : files_.back().after).append(data);
    output_size_.store(output_size_.load(std::memory_order_relaxed) + data.size(),
                       std::memory_order_release);
  }
  // Our own processing flushes before it returns; with output already pending, a flush (or
  // EPOLLOUT) is on its way. Otherwise hand the write to a ThreadSet thread.
  if (was_empty && !in_processing()) notify(event::kWake);
}

void StreamConnection::send(Buffer& data) {
  send(data.view());
  data.retrieve_all();
}

void StreamConnection::send_file(UniqueFd file, std::uint64_t offset, std::uint64_t count) {
  if (count == 0) return;
  bool was_empty = false;
  {
    std::lock_guard lock(output_mutex_);
    if (output_closed_) return;
    was_empty = !output_pending();
    files_.push_back(FileChunk{std::move(file), offset, count, Buffer::unallocated()});
    queued_files_.store(files_.size(), std::memory_order_release);
  }
  if (was_empty && !in_processing()) notify(event::kWake);
}

void StreamConnection::release_idle_storage(Buffer& buffer) noexcept {
  const std::size_t held = buffer.capacity();
  if (held <= kSmallBuffer || held > kIdleBufferLimit) buffer.free_if_empty();
}

bool StreamConnection::output_pending() const noexcept {
  return output_.readable_bytes() > 0 || !files_.empty();
}

void StreamConnection::shutdown() {
  shutdown_requested_.store(true, std::memory_order_release);
  if (!in_processing()) notify(event::kWake);
}

void StreamConnection::force_close() {
  if (in_processing()) {
    close_now();
  } else {
    notify(event::kClose);
  }
}

void StreamConnection::pause_reading(bool paused) {
  if (reading_held_.exchange(paused, std::memory_order_acq_rel) == paused) return;
  // Resuming: data may have arrived while nobody watched, and input may wait in the buffer;
  // pausing: re-arm without EPOLLIN.
  if (!paused) {
    redeliver_input_.store(true, std::memory_order_release);
    notify(event::kReadable);
  } else if (!in_processing()) {
    notify(event::kWake);
  }
}

void StreamConnection::deliver_buffered_input() {
  redeliver_input_.store(true, std::memory_order_release);
  notify(event::kWake);
}

bool StreamConnection::output_full(std::size_t more) const noexcept {
  return output_bytes() + more > high_water_mark_ ||
         queued_files_.load(std::memory_order_acquire) > kMaxQueuedFiles;
}

std::uint32_t StreamConnection::interest() const noexcept {
  if (closed_) return 0;
  std::uint32_t bits = 0;
  if (!reading_paused_ && !peer_closed_ && !reading_held_.load(std::memory_order_acquire)) {
    bits |= EPOLLIN | EPOLLRDHUP;
  }
  if (want_write_) bits |= EPOLLOUT;
  return bits;
}

void StreamConnection::handle_event(std::uint32_t events) {
  if (closed_) return;  // a stale event, or work queued before the close
  if (!started_) {
    started_ = true;
    on_connect();
    if (closed_) return;
  }
  if ((events & event::kTimer) != 0) {
    if (idle_timer_fired_.exchange(false)) check_idle();
    if (closed_) return;
    if (user_timer_fired_.exchange(false)) on_timer();
    if (closed_) return;
  }
  const bool held = reading_held_.load(std::memory_order_acquire);
  // Input the handler left in the buffer while it could not go on (paused, output full).
  if (!reading_paused_ && !held && redeliver_input_.load(std::memory_order_acquire)) {
    redeliver_input_.store(false, std::memory_order_release);
    if (input_.readable_bytes() > 0) deliver_input();
    if (closed_) return;
  }
  constexpr std::uint32_t kInputEvents = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  // A held connection still reads on a hang-up (epoll reports it whatever the interest, so
  // ignoring it would spin); what is left is bounded by the socket's receive buffer.
  if ((events & kInputEvents) != 0 && !reading_paused_ && !peer_closed_ &&
      (!held || (events & (EPOLLHUP | EPOLLERR)) != 0)) {
    read_input();
    if (closed_) return;
  }
  const bool output_done = flush_output();
  if (closed_) return;
  apply_backpressure();
  // Closing or half-closing waits until nothing is owed: no output left or still to be produced
  // (a streaming on_write_complete), no buffered input waiting to be answered.
  if (output_done && !redeliver_input_.load(std::memory_order_acquire)) {
    if (peer_closed_ && (close_on_peer_close_ || write_shut_)) {
      close_now();  // the peer finished and has all our answers
      return;
    }
    if (!write_shut_ && shutdown_requested_.load(std::memory_order_acquire)) {
      socket_.shutdown_write();
      write_shut_ = true;
      if (peer_closed_) {
        close_now();  // half-closed both ways
        return;
      }
    }
    if (peer_closed_ && (events & (EPOLLHUP | EPOLLERR)) != 0) {
      close_now();  // kept open after the peer's FIN, but the connection is gone
      return;
    }
  } else if (reading_paused_ && (events & (EPOLLHUP | EPOLLERR)) != 0) {
    close_now();  // nobody will ever read what we hold
    return;
  }
  release_idle_storage(input_);
}

void StreamConnection::read_input() {
  // Level triggered (kOneShot), a short read means the socket is drained: anything left, such
  // as a FIN queued behind the data, is reported again when the handle is re-armed. Edge
  // triggered, nothing would be reported again: read until EAGAIN.
  const bool until_eagain = handle_set()->suspension() == Suspension::kEdgeTriggered;
  for (int i = 0; i < kMaxReadsPerRound; ++i) {
    const std::size_t asked = input_.read_capacity();
    int saved_errno = 0;
    const ssize_t n = input_.read_fd(socket_.fd(), &saved_errno);
    if (n > 0) {
      metrics::add(metrics::Counter::kBytesIn, static_cast<std::uint64_t>(n));
      note_activity();
      deliver_input();
      if (closed_ || reading_paused_) return;
      if (reading_held_.load(std::memory_order_acquire)) return;
      if (static_cast<std::size_t>(n) < asked && !until_eagain) return;
      flush_output();  // keep the output from piling up while a fast peer streams
      if (closed_) return;
      apply_backpressure();
      if (reading_paused_) return;
      continue;
    }
    if (n == 0) {
      peer_closed_ = true;
      on_peer_closed();
      return;
    }
    if (saved_errno == EINTR) continue;
    if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) return;
    close_now();  // ECONNRESET and friends: the peer is gone, its unsent output with it
    return;
  }
  // Still readable after a full round: come back after other handlers had their turn.
  notify(event::kReadable);
}

void StreamConnection::deliver_input() {
  on_message(input_);
  if (closed_) return;
  // Answers above the mark: on_message() gets no more input until they drain; the rest of the
  // input is handed back then (apply_backpressure).
  apply_backpressure();
}

bool StreamConnection::flush_output() {
  // on_write_complete() may queue more (a streaming producer): keep writing while it does and
  // the socket takes it; after a few rounds let other handlers run first.
  for (int round = 0; round < kMaxReadsPerRound; ++round) {
    if (!write_output()) return !want_write_;  // nothing was queued, or the socket is full
    on_write_complete();
    if (closed_) return true;
    if (output_bytes() == 0 && queued_files_.load(std::memory_order_acquire) == 0) return true;
  }
  // Still producing: the rest is owed, and written when this handler runs again.
  notify(event::kWake);
  return false;
}

bool StreamConnection::write_output() {
  std::unique_lock lock(output_mutex_);
  if (!output_pending()) {
    want_write_ = false;
    release_idle_storage(output_);
    return false;
  }
  if (write_shut_) {
    discard_output();  // nowhere to send it
    want_write_ = false;
    return false;
  }
  std::uint64_t written = 0;
  bool blocked = false;
  while (!blocked && output_pending()) {
    ssize_t n = 0;
    if (output_.readable_bytes() > 0) {
      n = ::send(socket_.fd(), output_.peek(), output_.readable_bytes(), MSG_NOSIGNAL);
      if (n > 0) {
        output_.retrieve(static_cast<std::size_t>(n));
        output_size_.store(output_size_.load(std::memory_order_relaxed) -
                               static_cast<std::size_t>(n),
                           std::memory_order_release);
      }
    } else {
      FileChunk& file = files_.front();
      auto offset = static_cast<off_t>(file.offset);
      n = ::sendfile(socket_.fd(), file.file.get(), &offset,
                     static_cast<std::size_t>(std::min<std::uint64_t>(file.remaining, 1u << 30)));
      if (n > 0) {
        file.offset += static_cast<std::uint64_t>(n);
        file.remaining -= static_cast<std::uint64_t>(n);
      } else if (n == 0) {
        // The file is shorter than promised: what was promised cannot be sent.
        LF_LOG_WARN("{}: file ended {} bytes early, closing", peer_.to_string(), file.remaining);
        errno = EIO;
        n = -1;
      }
      if (file.remaining == 0) {
        // The bytes queued behind this file are next.
        output_.swap(file.after);
        files_.pop_front();
        queued_files_.store(files_.size(), std::memory_order_release);
      }
    }
    if (n > 0) {
      written += static_cast<std::uint64_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      blocked = true;
    } else if (errno != EINTR) {
      lock.unlock();
      close_now();  // EPIPE, ECONNRESET: the peer is gone
      return false;
    }
  }
  want_write_ = output_pending();
  if (!want_write_) release_idle_storage(output_);
  lock.unlock();
  metrics::add(metrics::Counter::kBytesOut, written);
  if (written > 0) note_activity();
  return !want_write_;
}

void StreamConnection::note_activity() {
  if (!idle_timer_.valid()) return;
  const auto now = std::chrono::steady_clock::now();
  last_activity_ = now;
  // Touching takes the wheel's lock: once per tick is enough, check_idle() looks at the time.
  if (now - last_touch_ >= options_.timers->tick()) {
    last_touch_ = now;
    options_.timers->touch(idle_timer_, options_.idle_timeout);
  }
}

void StreamConnection::start_idle_timer(std::chrono::steady_clock::duration delay) {
  idle_timer_ = options_.timers->run_after(delay, [weak = weak_from_this()] {
    if (auto self = std::static_pointer_cast<StreamConnection>(weak.lock())) {
      self->idle_timer_fired_.store(true);
      self->notify(event::kTimer);
    }
  });
}

TimerId StreamConnection::start_timer(std::chrono::steady_clock::duration delay) {
  if (options_.timers == nullptr) return TimerId{};
  return options_.timers->run_after(delay, [weak = weak_from_this()] {
    if (auto self = std::static_pointer_cast<StreamConnection>(weak.lock())) {
      self->user_timer_fired_.store(true);
      self->notify(event::kTimer);
    }
  });
}

bool StreamConnection::cancel_timer(TimerId id) {
  return options_.timers != nullptr && options_.timers->cancel(id);
}

void StreamConnection::check_idle() {
  if (!idle_timer_.valid()) return;
  const auto silent = std::chrono::steady_clock::now() - last_activity_;
  if (silent < options_.idle_timeout) {
    start_idle_timer(options_.idle_timeout - silent);  // traffic since the last touch
    return;
  }
  LF_LOG_INFO("closing idle connection {} (no traffic for {} ms)", peer_.to_string(),
              std::chrono::duration_cast<std::chrono::milliseconds>(silent).count());
  metrics::add(metrics::Counter::kIdleTimeouts);
  idle_timer_ = TimerId{};  // it fired: nothing to cancel
  close_now();
}

void StreamConnection::apply_backpressure() {
  if (!reading_paused_ && output_full()) {
    reading_paused_ = true;
    on_high_water_mark(output_bytes());
  } else if (reading_paused_ && output_bytes() <= high_water_mark_ / 2 &&
             queued_files_.load(std::memory_order_acquire) <= kMaxQueuedFiles / 2) {
    reading_paused_ = false;
    // Data may have arrived while we did not watch: look now rather than rely on an edge; and
    // the handler gets back the input it left while the output was full.
    redeliver_input_.store(true, std::memory_order_release);
    notify(event::kReadable);
  }
}

void StreamConnection::handle_drain() {
  draining_.store(true, std::memory_order_release);
  shutdown_requested_.store(true, std::memory_order_release);
  // Answer what has already arrived, then shut the write side once it is sent.
  handle_event(event::kReadable);
}

void StreamConnection::handle_close() {
  if (closed_) return;
  if (draining_.load(std::memory_order_acquire)) {
    // The drain deadline passed (Server::shut_down): say what the peer did not get.
    metrics::add(metrics::Counter::kDrainTimeouts);
    close_with_report("the drain deadline passed");
  } else {
    close_now();
  }
}

void StreamConnection::handle_exception(std::string_view what) {
  if (closed_) {
    LF_LOG_ERROR("{}: on_close threw: {}", peer_.to_string(), what);
    return;
  }
  close_with_report(fmt::format("a hook threw: {}", what));
}

void StreamConnection::close_with_report(std::string_view why) {
  const std::size_t bytes = output_bytes();
  const std::size_t files = queued_files_.load(std::memory_order_acquire);
  if (bytes > 0 || files > 0 || want_write_) {
    LF_LOG_WARN("{}: closing ({}), dropping {} bytes and {} files of unsent output",
                peer_.to_string(), why, bytes, files);
  } else {
    LF_LOG_WARN("{}: closing ({})", peer_.to_string(), why);
  }
  close_now();
}

void StreamConnection::discard_output() noexcept {
  Buffer::unallocated().swap(output_);
  files_.clear();
  output_size_.store(0, std::memory_order_release);
  queued_files_.store(0, std::memory_order_release);
}

void StreamConnection::close_now() {
  if (closed_) return;
  closed_ = true;
  connected_.store(false, std::memory_order_release);
  if (idle_timer_.valid()) options_.timers->cancel(std::exchange(idle_timer_, TimerId{}));
  {
    std::lock_guard lock(output_mutex_);
    output_closed_ = true;
    discard_output();
  }
  // The listener may accept another connection in its place (released before this one leaves
  // the HandleSet, so whoever sees it gone also sees the slot free).
  options_.slot.reset();
  // Out of epoll before the fd number can be reused by another connection.
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
  socket_.close();
  Buffer::unallocated().swap(input_);
  want_write_ = false;
  metrics::add(metrics::Counter::kConnectionsClosed);
  on_close();
}

}  // namespace lf
