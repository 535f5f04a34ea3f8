#include "lf/net/stream_connection.h"

#include <fmt/format.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <stdexcept>

#include "lf/log/log.h"
#include "lf/metrics/metrics.h"
#include "lf/net/tls_context.h"
#include "lf/net/tls_session.h"
#include "lf/pattern/handle_set.h"
#include "lf/timer/timer_service.h"

namespace lf {

void StreamConnection::open(Socket socket, HandleSet& handle_set,
                            const ConnectionOptions& options) {
  // Registering needs the owning shared_ptr; without one, say why rather than std::bad_weak_ptr.
  if (weak_from_this().expired()) {
    throw std::logic_error(
        "StreamConnection::open: no std::shared_ptr owns this connection: create it with "
        "std::make_shared, and do not derive it from std::enable_shared_from_this "
        "(lf::EventHandler already does: use std::static_pointer_cast on shared_from_this())");
  }
  socket_ = std::move(socket);
  local_ = InetAddress::local_of(socket_.fd());
  peer_ = InetAddress::peer_of(socket_.fd());
  options_ = options;
  if (options_.timers == nullptr) {
    options_.idle_timeout = std::chrono::milliseconds(0);
    options_.handshake_timeout = std::chrono::milliseconds(0);
  }
  // A TLS server waits for the client's hello: its first event is that hello arriving (already
  // here or not), and nothing runs before it (on_connect() follows the handshake).
  const bool awaits_hello = options_.tls != nullptr && !options_.tls->is_client();
  if (options_.tls != nullptr) {
    tls_ = options_.tls->is_client()
               ? std::make_unique<TlsSession>(std::move(options_.tls), socket_.fd(),
                                              options_.server_name, peer_)
               : std::make_unique<TlsSession>(std::move(options_.tls), socket_.fd());
  }
  timers_.attach(options_.timers);
  last_activity_ = last_touch_ = std::chrono::steady_clock::now();
  connected_.store(true, std::memory_order_release);
  // The handshake's deadline starts now, so that a peer that never speaks is dropped too;
  // before the registration, since from then on another thread may run the connection.
  if (awaits_hello && options_.handshake_timeout.count() > 0) {
    start_idle_timer(options_.handshake_timeout);
  }
  handle_set.register_handle(shared_from_this());
  metrics::add(metrics::Counter::kConnectionsOpened);
  if (awaits_hello) {
    // Fired before the registration (it cannot within a wheel tick, but a preempted thread may
    // take longer): its notify() found nothing to run, so say it again.
    if (idle_timer_fired_.load()) notify(event::kTimer);
    return;
  }
  // Runs on_connect() soon even if the peer stays silent; that first run starts the idle timer,
  // so only the owning thread ever touches it.
  notify(event::kWake);
}

std::string StreamConnection::peer_certificate_subject() const {
  return tls_ == nullptr ? std::string() : tls_->peer_certificate_subject();
}

namespace {
// The running thread's spare storage, lent to the connection it runs while that connection's
// input or output is empty (borrow_storage / give_back_storage).
struct SpareStorage {
  Buffer input = Buffer::unallocated();
  Buffer output = Buffer::unallocated();
};
thread_local SpareStorage t_spare;

// The bound of send(): never refused.
constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();
}  // namespace

void StreamConnection::borrow_storage(Buffer& buffer, Buffer& spare) {
  if (buffer.capacity() != 0) return;
  if (spare.capacity() == 0) spare = Buffer();
  buffer.swap(spare);
}

void StreamConnection::give_back_storage(Buffer& buffer, Buffer& spare) noexcept {
  if (buffer.readable_bytes() != 0 || buffer.capacity() == 0) return;
  if (spare.capacity() == 0 && buffer.capacity() <= kSpareLimit) {
    buffer.swap(spare);
    spare.retrieve_all();
  } else {
    buffer.free_if_empty();
  }
}

StreamConnection::StreamConnection() = default;

StreamConnection::~StreamConnection() { delete inbox_.load(std::memory_order_acquire); }

StreamConnection::Inbox& StreamConnection::inbox() {
  Inbox* box = inbox_.load(std::memory_order_seq_cst);
  if (box != nullptr) return *box;
  auto fresh = std::make_unique<Inbox>();
  if (inbox_.compare_exchange_strong(box, fresh.get(), std::memory_order_seq_cst)) {
    return *fresh.release();
  }
  return *box;  // another thread created it first
}

template <typename Append>
bool StreamConnection::send_through_inbox(std::size_t bytes, std::size_t max_pending,
                                          Append append) {
  if (output_closed_.load(std::memory_order_acquire)) return false;  // no inbox for a closed one
  Inbox& box = inbox();
  bool was_empty = false;
  {
    std::lock_guard lock(box.mutex);
    // seq_cst with close_now(): either it sees this inbox and empties it, or we see the close.
    if (output_closed_.load(std::memory_order_seq_cst)) return false;
    // Every enqueue into the inbox and the owner's take_inbox() hold this lock, so the check and
    // the append below are one step: concurrent try_send() calls cannot all pass and overshoot.
    // The owner's output only shrinks outside the lock (plain send() aside), so this never
    // undercounts.
    const std::size_t pending = output_size_.load(std::memory_order_acquire) + box.queue.bytes();
    if (bytes > max_pending || pending > max_pending - bytes) return false;
    was_empty = box.queue.empty();
    append(box.queue);
    box.bytes.store(box.queue.bytes(), std::memory_order_release);
    box.files.store(box.queue.files(), std::memory_order_release);
    inbox_pending_.store(true, std::memory_order_release);
  }
  // A non-empty inbox has a wakeup on its way: the owner empties it when it runs.
  if (was_empty) notify(event::kWake);
  return true;
}

bool StreamConnection::send(std::string_view data) {
  if (data.empty()) return !output_closed_.load(std::memory_order_acquire);
  if (in_processing()) {
    if (!prepare_owner_send()) return false;
    if (output_.empty()) borrow_storage(output_.head(), t_spare.output);
    output_.append(data);
    publish_output_size();
    return true;  // our processing flushes before it returns
  }
  return send_through_inbox(data.size(), kUnbounded,
                            [data](OutputQueue& queue) { queue.append(data); });
}

bool StreamConnection::try_send(std::string_view data, std::size_t max_pending) {
  // The owner too goes through the inbox: its lock is what makes check and enqueue one step. Its
  // flush takes the inbox before writing, and its next send() before appending, so order holds.
  return send_through_inbox(data.size(), max_pending,
                            [data](OutputQueue& queue) { queue.append(data); });
}

bool StreamConnection::send(Buffer& data) {
  if (!in_processing()) {
    const bool queued = send(data.view());
    data.retrieve_all();
    return queued;
  }
  if (data.readable_bytes() == 0) return !closed_;
  if (!prepare_owner_send()) {
    data.retrieve_all();
    return false;
  }
  // The output takes over data's storage and data gets the spare, so a handler's reply buffer
  // keeps room to build the next answer in.
  if (output_.empty()) borrow_storage(output_.head(), t_spare.output);
  output_.append(data);  // takes over data's storage when the output is empty
  publish_output_size();
  return true;
}

bool StreamConnection::send_file(UniqueFd file, std::uint64_t offset, std::uint64_t count) {
  if (count == 0) return !output_closed_.load(std::memory_order_acquire);
  if (in_processing()) {
    if (!prepare_owner_send()) return false;
    output_.append_file(std::move(file), offset, count);
    publish_output_size();
    return true;
  }
  // File ranges are not held in memory: 0 bytes toward any bound.
  return send_through_inbox(0, kUnbounded, [&file, offset, count](OutputQueue& queue) {
    queue.append_file(std::move(file), offset, count);
  });
}

bool StreamConnection::prepare_owner_send() {
  if (closed_) return false;
  // Bytes another thread sent before this call go first.
  if (inbox_pending_.load(std::memory_order_acquire)) take_inbox();
  return true;
}

void StreamConnection::take_inbox() {
  Inbox& box = *inbox_.load(std::memory_order_acquire);  // pending: it exists
  std::lock_guard lock(box.mutex);
  inbox_pending_.store(false, std::memory_order_relaxed);
  output_.splice(box.queue);
  // Counted in output_size_ before it leaves the inbox's count: a reader may see it twice,
  // never not at all.
  publish_output_size();
  box.bytes.store(0, std::memory_order_release);
  box.files.store(0, std::memory_order_release);
}

std::size_t StreamConnection::output_bytes() const noexcept {
  const Inbox* box = inbox_.load(std::memory_order_acquire);
  return output_size_.load(std::memory_order_acquire) +
         (box != nullptr ? box->bytes.load(std::memory_order_acquire) : 0);
}

std::size_t StreamConnection::queued_files() const noexcept {
  const Inbox* box = inbox_.load(std::memory_order_acquire);
  return output_files_.load(std::memory_order_acquire) +
         (box != nullptr ? box->files.load(std::memory_order_acquire) : 0);
}

void StreamConnection::publish_output_size() noexcept {
  output_size_.store(output_.bytes(), std::memory_order_release);
  output_files_.store(output_.files(), std::memory_order_release);
}

void StreamConnection::shutdown() {
  shutdown_requested_.store(true, std::memory_order_release);
  if (!in_processing()) notify(event::kWake);
}

void StreamConnection::close_when_sent() {
  close_when_shut_.store(true, std::memory_order_release);
  shutdown();
}

bool StreamConnection::holds_unread_input() const noexcept {
  return input_.readable_bytes() > 0 || (tls_ != nullptr && tls_->holds_input()) ||
         socket_.pending_input() > 0;
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
  return output_bytes() + more > high_water_mark_ || queued_files() > kMaxQueuedFiles;
}

std::uint32_t StreamConnection::interest() const noexcept {
  if (closed_) return 0;
  std::uint32_t bits = 0;
  if (!reading_paused_ && !peer_closed_ && !reading_held_.load(std::memory_order_acquire)) {
    bits |= read_events_;
  }
  if (want_write_) bits |= write_event_;
  return bits;
}

void StreamConnection::handle_event(std::uint32_t events) {
  if (closed_) return;  // a stale event, or work queued before the close
  if (tls_ != nullptr) tls_->forget_socket_reads();
  if (!started_) {
    if (tls_ != nullptr && !tls_->established()) {
      if (!advance_handshake(events)) return;
      events |= EPOLLIN;  // the client's first data may already wait behind its Finished
    }
    started_ = true;
    if (options_.idle_timeout.count() > 0) {
      last_activity_ = last_touch_ = std::chrono::steady_clock::now();
      start_idle_timer(options_.idle_timeout);
    }
    on_connect();
    if (closed_) return;
  }
  if ((events & event::kTimer) != 0) {
    if (idle_timer_fired_.exchange(false)) check_idle();
    if (closed_) return;
    timers_.run_due();
    if (closed_) return;
  }
  const bool held = reading_held_.load(std::memory_order_acquire);
  // Input the handler left in the buffer while it could not go on (paused, output full).
  if (!reading_paused_ && !held && redeliver_input_.load(std::memory_order_acquire)) {
    redeliver_input_.store(false, std::memory_order_release);
    if (input_.readable_bytes() > 0) deliver_input();
    if (closed_) return;
  }
  // Remembered: edge triggered, the kernel reports the FIN once, and a round may end (read
  // limit, backpressure, a pause) before the reads reach it.
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) hangup_reported_ = true;
  // A held connection still reads on a hang-up (epoll reports it whatever the interest, so
  // ignoring it would spin); what is left is bounded by the socket's receive buffer.
  if ((events & input_events_) != 0 && !reading_paused_ && !peer_closed_ &&
      (!held || (events & (EPOLLHUP | EPOLLERR)) != 0)) {
    read_input();
    if (closed_) return;
  }
  bool output_done = flush_output();
  if (closed_) return;
  apply_backpressure();
  // The server is stopping and every request read has been answered (none held back by the
  // high-water mark; a pause_reading() does not count, it may last): time for on_drain().
  if (drain_hook_due_ && !reading_paused_ &&
      !(redeliver_input_.load(std::memory_order_acquire) && !held)) {
    drain_hook_due_ = false;
    on_drain();
    if (closed_) return;
    // Write what it queued; the half-close it asked for (the default does) follows below.
    output_done = flush_output();
    if (closed_) return;
    apply_backpressure();
  }
  // Closing or half-closing waits until nothing is owed: no output left or still to be produced
  // (a streaming on_write_complete), no buffered input waiting to be answered.
  // Bytes another thread queued since the flush are owed too (a send then shutdown() from a
  // thread other than ours: the bytes must go before the FIN).
  if (output_done && !redeliver_input_.load(std::memory_order_acquire) &&
      !inbox_pending_.load(std::memory_order_acquire)) {
    if (peer_closed_ && (close_on_peer_close_ || write_shut_)) {
      // The peer finished and has all our answers; TLS answers its close_notify (best effort).
      if (tls_ != nullptr) (void)tls_->send_close_notify();
      close_now();
      return;
    }
    if (!write_shut_ && shutdown_requested_.load(std::memory_order_acquire) && shut_write()) {
      if (peer_closed_) {
        close_now();  // half-closed both ways
        return;
      }
      // Unread bytes would make close() send a reset, which may cost the peer our last bytes
      // still in flight: then wait for its close, as shutdown() does.
      if (close_when_shut_.load(std::memory_order_acquire) && !holds_unread_input()) {
        close_now();
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
  give_back_storage(input_, t_spare.input);
}

void StreamConnection::read_input() {
  if (tls_ != nullptr) {
    read_tls_input();
    return;
  }
  // A short read (fewer bytes than asked) means the socket is drained. Level triggered
  // (kOneShot), anything left, such as a FIN queued behind the data, is reported again when the
  // handle is re-armed. Edge triggered, bytes or a FIN arriving after the read are a new edge
  // (the kernel reports every arrival), so the short read is enough too, with neither an
  // epoll_ctl nor a read that returns EAGAIN; only once a FIN was reported (in this round or an
  // earlier one) we read on to EOF.
  const bool until_eagain =
      handle_set()->suspension() == Suspension::kEdgeTriggered && hangup_reported_;
  borrow_storage(input_, t_spare.input);
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

void StreamConnection::read_tls_input() {
  // OpenSSL reads ahead (as much as the socket holds, up to its buffer), so bytes may wait
  // inside it behind the record it returned, or in the kernel behind its last read: read until
  // it wants more from the socket (it saw EAGAIN) or, as for plaintext, until it holds nothing
  // and its last read of the socket was short, which spares the read that returns EAGAIN.
  const bool until_eagain =
      handle_set()->suspension() == Suspension::kEdgeTriggered && hangup_reported_;
  borrow_storage(input_, t_spare.input);
  for (int i = 0; i < kMaxReadsPerRound; ++i) {
    const TlsSession::Result result = tls_->read(input_);
    switch (result.status) {
      case TlsSession::Status::kOk:
        read_events_ = EPOLLIN | EPOLLRDHUP;
        input_events_ = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
        metrics::add(metrics::Counter::kBytesIn, result.bytes);
        note_activity();
        deliver_input();
        if (closed_ || reading_paused_) return;
        if (reading_held_.load(std::memory_order_acquire)) return;
        if (tls_->input_drained() && !until_eagain) return;
        flush_output();
        if (closed_) return;
        apply_backpressure();
        if (reading_paused_) return;
        continue;
      case TlsSession::Status::kWantRead:
        read_events_ = EPOLLIN | EPOLLRDHUP;
        input_events_ = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
        return;
      case TlsSession::Status::kWantWrite:
        // A read that must write first (a TLS 1.3 key update answer): read again once writable.
        read_events_ = EPOLLOUT | EPOLLRDHUP;
        input_events_ = EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
        return;
      case TlsSession::Status::kClosed:
        peer_closed_ = true;
        on_peer_closed();
        return;
      case TlsSession::Status::kTruncated:
        // After our close_notify a bare FIN is the usual answer; before it, the peer's data may
        // have been cut short (a truncation attack looks the same): not a clean end, so
        // on_peer_closed() does not run.
        if (write_shut_) {
          peer_closed_ = true;
          on_peer_closed();
          return;
        }
        metrics::add(metrics::Counter::kTlsTruncations);
        LF_LOG_INFO("{}: TLS truncation: the peer closed without close_notify", peer_.to_string());
        close_now();
        return;
      case TlsSession::Status::kFailed:
        // The peer's doing (a forged or damaged record, a reset): INFO, as for a failed handshake.
        LF_LOG_INFO("{}: TLS read failed: {}, closing", peer_.to_string(), tls_->failure());
        close_now();
        return;
    }
  }
  notify(event::kReadable);  // still readable after a full round
}

bool StreamConnection::advance_handshake(std::uint32_t events) {
  // The handshake deadline uses the idle timer, which starts only after the handshake.
  if ((events & event::kTimer) != 0 && idle_timer_fired_.exchange(false)) {
    idle_timer_ = TimerId{};  // it fired: nothing to cancel
    abandon_handshake(ETIMEDOUT, fmt::format("TLS handshake timed out after {} ms",
                                             options_.handshake_timeout.count()));
    return false;
  }
  if (draining_.load(std::memory_order_acquire)) {
    // The server is stopping and this peer has asked nothing yet (a connect waiting for the
    // handshake hears ECANCELED from close_now()).
    close_now();
    return false;
  }
  if (!idle_timer_.valid() && options_.handshake_timeout.count() > 0) {
    start_idle_timer(options_.handshake_timeout);
  }
  switch (tls_->handshake()) {
    case TlsSession::Status::kOk:
      if (idle_timer_.valid()) options_.timers->cancel(std::exchange(idle_timer_, TimerId{}));
      idle_timer_fired_.store(false);
      read_events_ = EPOLLIN | EPOLLRDHUP;
      metrics::add(metrics::Counter::kTlsHandshakes);
      if (tls_->resumed()) metrics::add(metrics::Counter::kTlsResumed);
      LF_LOG_DEBUG("{}: TLS established: {}{}{}", peer_.to_string(), tls_->description(),
                   tls_->resumed() ? ", resumed" : "",
                   tls_->kernel_sends() ? ", kernel TLS sends" : "");
      if (options_.on_handshake) {
        // Released now: it may hold the connect's state, which the connection must not keep.
        const auto told = std::exchange(options_.on_handshake, nullptr);
        if (!told(0, {})) {
          close_now();
          return false;
        }
      }
      return true;
    case TlsSession::Status::kWantRead:
      read_events_ = EPOLLIN | EPOLLRDHUP;
      return false;
    case TlsSession::Status::kWantWrite:
      read_events_ = EPOLLOUT | EPOLLRDHUP;
      return false;
    case TlsSession::Status::kTruncated:
      abandon_handshake(ECONNRESET, "TLS handshake failed: " + tls_->failure());
      return false;
    default: {
      // A reset is the socket's errno (ECONNRESET, EPIPE); anything else the protocol's.
      const int error = tls_->system_error() != 0 ? tls_->system_error() : EPROTO;
      abandon_handshake(error, "TLS handshake failed: " + tls_->failure());
      return false;
    }
  }
}

std::string StreamConnection::tls_alpn() const {
  return tls_ == nullptr ? std::string() : tls_->alpn();
}

bool StreamConnection::tls_resumed() const noexcept {
  return tls_ != nullptr && tls_->resumed();
}

void StreamConnection::abandon_handshake(int error, std::string_view why) {
  metrics::add(metrics::Counter::kTlsHandshakeFailures);
  if (options_.on_handshake) {
    LF_LOG_WARN("{}: {}, closing", peer_.to_string(), why);  // our own connect failed
    std::exchange(options_.on_handshake, nullptr)(error, why);
  } else {
    // An accepted peer: scanners, old clients and port probes fail handshakes all day, the
    // peer's doing, so INFO (as nginx does); lf_tls_handshake_failures_total counts them.
    LF_LOG_INFO("{}: {}, closing", peer_.to_string(), why);
  }
  close_now();
}

bool StreamConnection::shut_write() {
  if (tls_ != nullptr && tls_->send_close_notify() == TlsSession::Status::kWantWrite) {
    want_write_ = true;  // the next run tries again
    write_event_ = EPOLLOUT;
    return false;
  }
  socket_.shutdown_write();
  write_shut_ = true;
  return true;
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
    if (inbox_pending_.load(std::memory_order_acquire)) take_inbox();
    if (!write_output()) return !want_write_;  // nothing was queued, or the socket is full
    on_write_complete();
    if (closed_) return true;
    if (output_.empty() && !inbox_pending_.load(std::memory_order_acquire)) return true;
  }
  // Still producing: the rest is owed, and written when this handler runs again.
  notify(event::kWake);
  return false;
}

bool StreamConnection::write_output() {
  if (output_.empty()) {
    want_write_ = false;
    give_back_storage(output_.head(), t_spare.output);
    return false;
  }
  if (write_shut_) {
    discard_output();  // nowhere to send it
    want_write_ = false;
    return false;
  }
  const std::uint64_t file_left = output_.first_file_remaining();
  const OutputQueue::WriteResult result =
      tls_ == nullptr ? output_.write_to(socket_.fd()) : output_.write_to(*tls_);
  publish_output_size();
  if (result.written > 0) {
    metrics::add(metrics::Counter::kBytesOut, result.written);
    note_activity();
  }
  switch (result.status) {
    case OutputQueue::WriteStatus::kEmptied:
      want_write_ = false;
      give_back_storage(output_.head(), t_spare.output);
      return true;
    case OutputQueue::WriteStatus::kBlocked:
      want_write_ = true;
      write_event_ = EPOLLOUT;
      return false;
    case OutputQueue::WriteStatus::kBlockedOnRead:
      want_write_ = true;
      write_event_ = EPOLLIN;  // TLS: the write goes on once the socket is readable
      return false;
    case OutputQueue::WriteStatus::kTlsFailed:
      LF_LOG_INFO("{}: TLS write failed: {}, closing", peer_.to_string(), tls_->failure());
      close_now();
      return false;
    case OutputQueue::WriteStatus::kFileEnded:
      // The file is shorter than promised: what was promised cannot be sent.
      LF_LOG_WARN("{}: file ended early ({} of {} bytes left), closing", peer_.to_string(),
                  output_.first_file_remaining(), file_left);
      close_now();
      return false;
    case OutputQueue::WriteStatus::kPeerGone:
      close_now();  // EPIPE, ECONNRESET: the peer is gone
      return false;
  }
  return false;
}

void StreamConnection::note_activity() {
  if (options_.idle_timeout.count() == 0) return;  // no clock read per message without a timeout
  const auto now = std::chrono::steady_clock::now();
  last_activity_ = now;
  if (!idle_timer_.valid()) return;
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

TimerId StreamConnection::start_timer(std::chrono::steady_clock::duration delay,
                                      std::function<void()> callback) {
  return timers_.start(delay, /*periodic=*/false, std::move(callback));
}

TimerId StreamConnection::start_periodic(std::chrono::steady_clock::duration interval,
                                         std::function<void()> callback) {
  return timers_.start(interval, /*periodic=*/true, std::move(callback));
}

void StreamConnection::check_idle() {
  if (!idle_timer_.valid()) return;
  const auto silent = std::chrono::steady_clock::now() - last_activity_;
  if (silent < options_.idle_timeout) {
    // Traffic since the last touch: wait for the rest. The fire may also have been the handshake
    // timer's, cancelled too late (its callback had started) while the idle timer runs: cancel
    // whichever is current, so one timer is left, not two (a no-op when it is the one that fired).
    options_.timers->cancel(idle_timer_);
    start_idle_timer(options_.idle_timeout - silent);
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
             queued_files() <= kMaxQueuedFiles / 2) {
    reading_paused_ = false;
    // Data may have arrived while we did not watch: look now rather than rely on an edge; and
    // the handler gets back the input it left while the output was full.
    redeliver_input_.store(true, std::memory_order_release);
    notify(event::kReadable);
  }
}

void StreamConnection::handle_drain() {
  if (closed_ || draining_.exchange(true, std::memory_order_acq_rel)) return;
  // Answer what has already arrived (on_connect() first if it has not run). handle_event()
  // runs on_drain() once every request read is answered, which under backpressure takes more
  // rounds (the peer must read first), so that a goodbye comes after those answers.
  drain_hook_due_ = true;
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
  const std::size_t files = queued_files();
  if (bytes > 0 || files > 0 || want_write_) {
    LF_LOG_WARN("{}: closing ({}), dropping {} bytes and {} files of unsent output",
                peer_.to_string(), why, bytes, files);
  } else {
    LF_LOG_WARN("{}: closing ({})", peer_.to_string(), why);
  }
  close_now();
}

void StreamConnection::discard_output() noexcept {
  output_.clear();
  publish_output_size();
  Inbox* box = inbox_.load(std::memory_order_seq_cst);
  if (box == nullptr) return;
  std::lock_guard lock(box->mutex);
  box->queue.clear();
  inbox_pending_.store(false, std::memory_order_relaxed);
  box->bytes.store(0, std::memory_order_release);
  box->files.store(0, std::memory_order_release);
}

void StreamConnection::close_now() {
  if (closed_) return;
  closed_ = true;
  connected_.store(false, std::memory_order_release);
  if (idle_timer_.valid()) options_.timers->cancel(std::exchange(idle_timer_, TimerId{}));
  timers_.close();  // no timer callback runs after on_close(), and none holds `this` after it
  output_closed_.store(true, std::memory_order_seq_cst);  // later sends from other threads drop
  discard_output();
  // The listener may accept another connection in its place (released before this one leaves
  // the HandleSet, so whoever sees it gone also sees the slot free).
  options_.slot.reset();
  // Out of epoll before the fd number can be reused by another connection.
  if (HandleSet* set = handle_set()) set->remove_handle(*this);
  if (tls_ != nullptr) tls_->release();  // OpenSSL's state and buffers go now, not with `this`
  // Closed before the handshake ended (a cancel, a server stop): whoever waits for it hears so.
  if (options_.on_handshake) {
    std::exchange(options_.on_handshake, nullptr)(ECANCELED, "closed during the TLS handshake");
  }
  socket_.close();
  Buffer::unallocated().swap(input_);
  want_write_ = false;
  metrics::add(metrics::Counter::kConnectionsClosed);
  // A TLS connection whose handshake never completed was never the handler's: no on_connect(),
  // so no on_close() either.
  if (started_ || tls_ == nullptr) on_close();
}

}  // namespace lf
