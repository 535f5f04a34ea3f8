// Public. StreamConnection: the ConcreteEventHandler base for TCP protocols. Subclass it and
// override on_message() (and optionally the other on_* hooks); the hooks and timer callbacks run
// on ThreadSet threads, one at a time per connection. send(), try_send(), shutdown(),
// force_close(), pause_reading() and the timer calls (start_timer, start_periodic, cancel_timer)
// are thread safe; call them from other threads through a shared_ptr to the connection.
//
// Ownership: the thread running a connection's hooks owns its buffers and state; it touches them
// without locks. A send() from that thread goes straight to the output; one from any other thread
// goes to a small locked inbox that the owner moves into the output when it next runs (it is
// woken for that), in the order the inbox received it. try_send() always goes to the inbox: its
// bound is checked under the inbox lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "lf/base/unique_fd.h"
#include "lf/net/buffer.h"
#include "lf/net/connection_timers.h"
#include "lf/net/inet_address.h"
#include "lf/net/output_queue.h"
#include "lf/net/socket.h"
#include "lf/pattern/event_handler.h"
#include "lf/timer/timer_wheel.h"

namespace lf {

class TimerService;
class TlsContext;
class TlsSession;

// What open() gives a connection (a value type, copied at open()).
struct ConnectionOptions {
  std::chrono::milliseconds idle_timeout{0};  // close after this long without traffic (0: never)
  TimerService* timers = nullptr;             // required for the idle and handshake timeouts
  // Held while the connection is open, released when it closes (the Acceptor's connection count).
  std::shared_ptr<void> slot{};
  // Serve TLS with this context (null: plaintext): the handshake comes first, then on_connect().
  std::shared_ptr<TlsContext> tls{};
  // A TLS handshake not complete after this long is abandoned (0: never).
  std::chrono::milliseconds handshake_timeout{10000};
  // The connect side (a client TlsContext): the name the server's certificate must carry and
  // that is sent as SNI; empty: the peer's IP address must be in the certificate instead.
  std::string server_name{};
  // Told once when the TLS handshake ends, on the connection's thread: error 0 on success (then
  // false closes the connection without on_connect(): nobody wants it any more), else an errno
  // value (EPROTO, ETIMEDOUT, ECONNRESET, ECANCELED) and OpenSSL's reason in words. How the
  // Connector settles a TLS connect only once the handshake is done.
  std::function<bool(int error, std::string_view why)> on_handshake{};
};

class StreamConnection : public EventHandler {
 public:
  // Above this much pending output the connection stops reading and on_high_water_mark() runs;
  // it reads again once the output drains below half of it. So a peer that stops reading
  // cannot make the server buffer without bound.
  static constexpr std::size_t kDefaultHighWaterMark = 64 * 1024 * 1024;

  // Out of line: TlsSession is complete only in the .cc.
  StreamConnection();
  ~StreamConnection() override;

  // The send calls return true when the data was queued (or there was nothing to send) and false
  // when the connection is closed and the data was dropped. The result is information, not an
  // error to handle: a reply to a peer that is gone may simply be ignored.

  // Thread safe. Queues data for the peer.
  bool send(std::string_view data);
  // Thread safe. Sends and empties `data`; from the connection's own hooks it may swap storage
  // with `data` instead of copying (data stays usable, with room for the next answer).
  bool send(Buffer& data);
  // Thread safe. Sends `count` bytes of `file` from `offset` with sendfile(2) (no copy through
  // user space), in order with the other output; the file is closed once sent or on close.
  bool send_file(UniqueFd file, std::uint64_t offset, std::uint64_t count);
  // Thread safe. Like send(), but queues nothing and returns false when the output held in memory
  // (output_bytes(): the owner's output and what other threads queued in the inbox) plus
  // data.size() would exceed max_pending, or when the connection is closed. For fan-out to peers
  // that may read slowly (a chat room): the high-water mark bounds only what a connection's own
  // hooks queue, not what other threads send it. The check and the enqueue are one step under the
  // inbox lock, from any thread (the owner's try_send goes through the inbox too), so concurrent
  // try_send() calls never take the output past max_pending together. Plain send() is never
  // refused; what it queues counts toward the bound.
  [[nodiscard]] bool try_send(std::string_view data, std::size_t max_pending);
  // Thread safe. Half-closes: the write side is shut once the pending output is sent; the
  // connection closes when the peer closes its side.
  void shutdown();
  // Thread safe. Like shutdown(), but closes as soon as the write side is shut (over TLS after
  // close_notify) instead of waiting for the peer to close, when nothing it sent is left unread
  // (the input buffer, OpenSSL's and the socket's are empty then); else it waits, as shutdown()
  // does. For a protocol whose peer has nothing more to say once answered (HTTP after a closing
  // answer to a request read in full): it saves the wait for the peer's FIN, as nginx closes
  // when it expects no more client data. Bytes the peer sends after the close are refused by the
  // kernel with a reset.
  void close_when_sent();
  // Thread safe. Closes now, discarding unsent output.
  void force_close();
  // Thread safe. Stops (true) or resumes (false) reading from the socket; output still flows.
  // For flow control across connections: a proxy pauses one side while the other side's output
  // is above its high-water mark. Resuming hands input still buffered to on_message() again.
  void pause_reading(bool paused);
  // Thread safe. Runs on_message() again with the input it left in its buffer, even if no new
  // bytes arrive: for a handler that stopped early (e.g. to bound its own output) and can go on.
  void deliver_buffered_input();
  // Set before the connection is opened. By default the connection closes once the peer has
  // closed its side and all output is sent. With false it stays open for output after the
  // peer's FIN (half-close, e.g. a proxy) until shutdown() or force_close().
  void set_close_on_peer_close(bool close) noexcept { close_on_peer_close_ = close; }

  // Thread safe.
  [[nodiscard]] bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }
  // Thread safe. Bytes of queued output held in memory (file ranges queued by send_file are not
  // counted).
  [[nodiscard]] std::size_t output_bytes() const noexcept;
  // Thread safe. True when the queued output (plus `more` bytes about to be queued) is above the
  // high-water mark, or many files wait to be sent. A handler that answers several requests in
  // one on_message() stops when this is true and leaves the rest in the input: on_message() runs
  // again with it once the output has drained, so a connection holds about the mark plus one
  // answer however many requests the peer pipelines.
  [[nodiscard]] bool output_full(std::size_t more = 0) const noexcept;
  // Set before the connection is opened (e.g. in the constructor) or from its own hooks.
  void set_high_water_mark(std::size_t bytes) noexcept { high_water_mark_ = bytes; }
  [[nodiscard]] std::size_t high_water_mark() const noexcept { return high_water_mark_; }
  // Whether the connection speaks TLS (set at open()).
  [[nodiscard]] bool is_tls() const noexcept { return tls_ != nullptr; }
  // The ALPN protocol the TLS handshake chose (empty: none, or plaintext). Not thread safe: from
  // the connection's own hooks, on_connect() on.
  [[nodiscard]] std::string tls_alpn() const;
  // Whether the TLS handshake resumed an earlier session (a server's ticket or session id; for
  // a connect, the session its TlsContext kept from the last connection to that server) instead
  // of a full one. Same rules as tls_alpn().
  [[nodiscard]] bool tls_resumed() const noexcept;
  // From the connection's own hooks. The subject of the TLS client certificate, verified against
  // TlsOptions::client_ca_file ("CN=alice,O=Example"); empty without TLS, without a client
  // certificate, or before on_connect().
  [[nodiscard]] std::string peer_certificate_subject() const;
  // Valid once opened.
  [[nodiscard]] const InetAddress& local_address() const noexcept { return local_; }
  [[nodiscard]] const InetAddress& peer_address() const noexcept { return peer_; }

  // EventHandler: the socket.
  [[nodiscard]] int handle() const noexcept final { return socket_.fd(); }

 private:
  friend class Acceptor;
  friend class ConnectRequest;  // a Connector's connection, once established

  // Takes over a connected non-blocking socket and registers with `handle_set`; on_connect()
  // then runs on a ThreadSet thread before any other hook. Called by Acceptor (or a ConnectRequest).
  // Throws std::logic_error if no std::shared_ptr owns the connection.
  void open(Socket socket, HandleSet& handle_set, const ConnectionOptions& options = {});

  // EventHandler: the connection's state machine. Final and private: the framework calls them
  // through EventHandler, and a handler overrides the on_* hooks below instead, so it cannot
  // bypass the reading, writing and closing they do.
  void handle_event(std::uint32_t events) final;
  // Server stop: answers the input already read (over more rounds if the high-water mark holds
  // requests back), then runs on_drain() and writes what that queued (and half-closes if it
  // asked to).
  void handle_drain() final;
  void handle_close() final;
  [[nodiscard]] std::uint32_t interest() const noexcept final;
  void handle_exception(std::string_view what) final;

 protected:
  // Runs first, once; over TLS, once the handshake is complete.
  virtual void on_connect() {}
  // New bytes arrived; consume what you can from `input` and leave the rest for the next call.
  virtual void on_message(Buffer& input) = 0;
  // The peer closed its side (read returned EOF); all its bytes were passed to on_message().
  virtual void on_peer_closed() {}
  // The connection is closed (the socket is gone); no hook runs after this one. Not run for a
  // TLS connection whose handshake failed: the handler never saw it (no on_connect() either).
  virtual void on_close() {}
  // All queued output has been written to the socket.
  virtual void on_write_complete() {}
  // Pending output crossed the high-water mark; reading (and on_message) is paused until it
  // drains below half of it.
  virtual void on_high_water_mark(std::size_t pending_bytes) { (void)pending_bytes; }
  // The server is stopping (once, after every request already read was answered, including
  // those the high-water mark held back until the peer read on): finish, or say
  // goodbye with a last send(), then shutdown(); what it queues is written before the FIN. The
  // default only calls shutdown(). A connection still open after ServerOptions::drain_timeout is
  // closed.
  virtual void on_drain() { shutdown(); }

  // Connection timers. Each timer runs its own callback like a hook: on a ThreadSet thread,
  // never concurrently with another hook or callback of this connection, never after on_close()
  // (closing cancels every timer), so it may capture `this` and use the connection's state.
  // Precision is the timer wheel's tick (ServerOptions::timer_tick, 10 ms by default): a timer
  // never fires early and may fire up to one tick late (more if every thread is busy).
  // Thread safe; an invalid id if the connection has no timer service (not opened by a Server)
  // or is closed. No allocation per firing, only the callback's own at start.
  //
  // Fires once, `delay` from now.
  TimerId start_timer(std::chrono::steady_clock::duration delay, std::function<void()> callback);
  // Fires every `interval` (> 0, else std::invalid_argument) until cancelled or closed. A
  // firing due while the previous one has not run yet is skipped, not queued twice.
  TimerId start_periodic(std::chrono::steady_clock::duration interval,
                         std::function<void()> callback);
  // True if the timer was pending and its callback will not run (again); false if it ended, a
  // one-shot's callback has started, or the id is not one of this connection's. A callback may
  // cancel its own periodic timer.
  bool cancel_timer(TimerId id) { return timers_.cancel(id); }
  [[nodiscard]] TimerService* timer_service() const noexcept { return options_.timers; }

 private:
  // Largest number of reads in one processing round before other work gets a turn.
  static constexpr int kMaxReadsPerRound = 16;
  // Files queued by send_file() above which output_full() is true: each holds a descriptor.
  static constexpr std::size_t kMaxQueuedFiles = 64;
  // An idle connection holds no buffer: a connection's empty input and output give their storage
  // back to the running thread (which lends it to the next connection it runs) or free it, so a
  // small message allocates nothing. Storage above kSpareLimit is freed rather than kept.
  static constexpr std::size_t kSpareLimit = 64 * 1024;
  static void borrow_storage(Buffer& buffer, Buffer& spare);
  static void give_back_storage(Buffer& buffer, Buffer& spare) noexcept;

  // Reads and delivers what the socket holds.
  void read_input();
  // The same through TLS: decrypts until OpenSSL wants more from the socket.
  void read_tls_input();
  // Runs the TLS handshake as far as the socket allows; true once it is complete. Closes (with
  // a log line) on failure, on the handshake timeout, or when the server stops meanwhile.
  bool advance_handshake(std::uint32_t events);
  // The handshake failed or was cut short: count it, log it (INFO for an accepted peer, WARN for
  // our own connect), tell options_.on_handshake, close.
  void abandon_handshake(int error, std::string_view why);
  // Bytes of the peer not yet handed to on_message(), here, in OpenSSL or in the socket.
  [[nodiscard]] bool holds_unread_input() const noexcept;
  // Sends our end of the stream (TLS: close_notify, then the FIN). False while close_notify
  // waits for room in the socket.
  bool shut_write();
  // Runs on_message() on the buffered input, then pauses reading if the output went over the mark.
  void deliver_input();
  // Writes the output and runs on_write_complete() for as long as it refills the output. True
  // when everything is written and nothing more was queued; false while output is owed (the
  // socket is full, or the round limit left the rest for the next run).
  bool flush_output();
  // Writes what the socket takes. True when that emptied the output (it held something).
  bool write_output();
  void apply_backpressure();
  // Moves what other threads sent into the output (owner only).
  void take_inbox();
  // The owner is about to queue output: false once closed; otherwise what other threads sent
  // before is moved into the output first, so bytes keep the order of the sends.
  bool prepare_owner_send();
  // Files queued by send_file(), in the output and the inbox.
  [[nodiscard]] std::size_t queued_files() const noexcept;
  // Output sent by other threads, moved into output_ by the owner. Created by the first send
  // from another thread: most connections never get one, and an idle connection stays small.
  struct Inbox {
    std::mutex mutex;
    OutputQueue queue;  // guarded by mutex
    std::atomic<std::size_t> bytes{0};
    std::atomic<std::size_t> files{0};
  };
  // The inbox, created if there is none yet.
  Inbox& inbox();
  // Queues what `append` puts into the inbox's queue (`bytes` of it held in memory) and wakes the
  // owner if the inbox was empty; false, with nothing queued, if the connection closed or the
  // output would pass `max_pending`.
  template <typename Append>
  bool send_through_inbox(std::size_t bytes, std::size_t max_pending, Append append);
  // The owner's queue changed: publish its size for output_bytes() and output_full().
  void publish_output_size() noexcept;
  // Drops what is queued for the peer, from the owner's output and the inbox.
  void discard_output() noexcept;
  void close_now();
  // Closes after the drain deadline or a force_close(), saying what was still owed.
  void close_with_report(std::string_view why);
  // Traffic: postpone the idle timeout (at most once per timer tick: touching costs a lock).
  void note_activity();
  // The idle timer fired: close if the connection really was silent for the whole timeout.
  void check_idle();
  void start_idle_timer(std::chrono::steady_clock::duration delay);
  // Set by the idle timer's callback before it notifies kTimer.
  std::atomic<bool> idle_timer_fired_{false};
  // The handler's own timers (start_timer, start_periodic).
  ConnectionTimers timers_{*this};

  Socket socket_;
  // TLS, when the listener serves it: the socket is read and written through it.
  std::unique_ptr<TlsSession> tls_;
  InetAddress local_;
  InetAddress peer_;
  std::size_t high_water_mark_ = kDefaultHighWaterMark;
  std::atomic<bool> connected_{false};
  std::atomic<bool> shutdown_requested_{false};
  std::atomic<bool> close_when_shut_{false};  // close_when_sent(): no wait for the peer's close
  std::atomic<bool> reading_held_{false};  // pause_reading()
  // on_message() should see the buffered input again even without new bytes.
  std::atomic<bool> redeliver_input_{false};
  std::atomic<bool> draining_{false};  // the server is stopping (handle_drain)
  bool close_on_peer_close_ = true;

  // Owned by the processing thread.
  Buffer input_ = Buffer::unallocated();
  bool started_ = false;
  bool closed_ = false;
  bool peer_closed_ = false;     // read returned EOF
  bool write_shut_ = false;      // our FIN is sent
  bool reading_paused_ = false;  // output above the high-water mark
  bool want_write_ = false;      // output left after EAGAIN: watch EPOLLOUT
  bool hangup_reported_ = false; // an event said the peer closed: read to EOF
  bool drain_hook_due_ = false;  // handle_drain() ran; on_drain() waits for the answers owed
  // What the transport waits for. Plaintext: readable to read, writable to write. TLS may turn
  // them around (a read that must write first, a write that must read first), so interest()
  // and handle_event() use these instead of constants.
  std::uint32_t read_events_ = EPOLLIN | EPOLLRDHUP;  // watched while reading
  std::uint32_t write_event_ = EPOLLOUT;              // watched while output is owed
  // Events that make handle_event() read.
  std::uint32_t input_events_ = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;

  // Idle timeout; written at open(), then used by the processing thread only.
  ConnectionOptions options_;
  TimerId idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point last_touch_;

  // The output, owned by the running thread (no lock).
  OutputQueue output_;
  // Output sent by other threads, moved into output_ by the owner.
  std::atomic<Inbox*> inbox_{nullptr};  // owned: deleted with the connection
  std::atomic<bool> inbox_pending_{false};  // the inbox holds something
  std::atomic<bool> output_closed_{false};  // closed: sends from other threads are dropped
  // Sizes of output_, readable from any thread (output_bytes, output_full).
  std::atomic<std::size_t> output_size_{0};
  std::atomic<std::size_t> output_files_{0};
};

}  // namespace lf
