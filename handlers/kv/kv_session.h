// Public. KvSession: what a key-value server knows about one client (its id, CLIENT SETNAME
// name, whether to close after the reply, its MULTI queue and WATCHed keys). Owned by the connection and used from its hooks only:
// not thread safe. Sessions also count the connected clients for INFO (process wide).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lf {

class KvStore;

class KvSession {
 public:
  KvSession();
  ~KvSession();
  KvSession(const KvSession&) = delete;
  KvSession& operator=(const KvSession&) = delete;

  // Unique in the process, from 1 (CLIENT ID, HELLO).
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  // The owner reads its name without locking; other threads use info().
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void set_name(std::string name);

  // What CLIENT LIST shows about a client, read from any thread.
  struct Info {
    std::string name;
    std::string last_command;  // "get", "client|list"
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point last_active;
    int queued = -1;  // commands queued in MULTI, -1 outside a transaction
  };
  [[nodiscard]] Info info() const;
  // Called before each command runs.
  void note_command(std::string_view command);

  // The connection's memory as CLIENT LIST shows it (qbuf, qbuf-free, tot-mem), published by the
  // owning connection whenever it has handled input, read by any thread: a CLIENT LIST on
  // another connection must not touch this one's buffers. Pending output is not here: it drains
  // without the connection's hooks running, so CLIENT LIST asks the connection itself.
  struct Memory {
    std::size_t unprocessed_input = 0;  // bytes of input not yet run (a partial command)
    std::size_t input_free = 0;         // room left in the input buffer
    std::size_t held = 0;  // the connection object and its input and reply buffers
  };
  void publish_memory(const Memory& memory) noexcept;
  [[nodiscard]] Memory memory() const noexcept;

  // CLIENT KILL: from then on the client is gone from CLIENT LIST and other kills, although its
  // connection closes a moment later. Any thread.
  void mark_killed() const noexcept { killed_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool killed() const noexcept { return killed_.load(std::memory_order_relaxed); }

  // Work to do once the command's locks are released (CLIENT KILL closes connections there: a
  // closing connection's session unwatches its keys, which locks their shards).
  void defer(std::function<void()> work) { deferred_.push_back(std::move(work)); }
  void run_deferred();

  // CLIENT REPLY: ON, OFF (no replies) or SKIP (no reply to the next command).
  enum class ReplyMode { kOn, kOff, kSkipNext, kSkipThis };
  [[nodiscard]] ReplyMode reply_mode() const noexcept { return reply_mode_; }
  void set_reply_mode(ReplyMode mode) noexcept { reply_mode_ = mode; }

  // QUIT or a protocol error: send what is queued, then close; ignore the rest of the input.
  [[nodiscard]] bool closing() const noexcept { return closing_; }
  void close_after_reply() noexcept { closing_ = true; }

  // Sessions alive in this process.
  [[nodiscard]] static std::uint64_t connected() noexcept;
  // Sessions ever created in this process (INFO's total_connections_received).
  [[nodiscard]] static std::uint64_t created() noexcept;

  // MULTI: commands are queued (their arguments copied) until EXEC or DISCARD. A command refused
  // while queueing (unknown, wrong arity) fails the whole transaction, as in Redis.
  using QueuedCommand = std::vector<std::string>;
  [[nodiscard]] bool in_transaction() const noexcept { return in_transaction_; }
  void begin_transaction() noexcept { in_transaction_ = true; }
  void queue(std::span<const std::string_view> args);
  void fail_transaction() noexcept { transaction_failed_ = true; }
  [[nodiscard]] bool transaction_failed() const noexcept { return transaction_failed_; }
  [[nodiscard]] const std::vector<QueuedCommand>& queued() const noexcept { return queued_; }
  void end_transaction();

  // WATCH: keys whose change (by anyone) makes the next EXEC fail. `store` must outlive the
  // session (the connection owns both, the store longer).
  void watch(KvStore& store, std::string_view key);
  void unwatch_all();
  [[nodiscard]] const std::vector<std::string>& watched() const noexcept { return watched_; }
  [[nodiscard]] bool watched_key_changed() const noexcept {
    return watch_dirty_.load(std::memory_order_relaxed);
  }

 private:
  std::uint64_t id_;
  std::string name_;
  bool closing_ = false;
  bool in_transaction_ = false;
  bool transaction_failed_ = false;
  std::vector<QueuedCommand> queued_;
  KvStore* watch_store_ = nullptr;
  std::vector<std::string> watched_;
  std::atomic<bool> watch_dirty_{false};  // set by other connections' threads, under shard locks
  ReplyMode reply_mode_ = ReplyMode::kOn;
  mutable std::atomic<bool> killed_{false};
  std::vector<std::function<void()>> deferred_;
  mutable std::mutex info_mutex_;  // guards the copies in info_ other threads read
  Info info_;
  // Memory, one relaxed store each: a reader may see one batch's figure beside the previous
  // batch's, which CLIENT LIST (a snapshot of moving figures anyway) tolerates.
  std::atomic<std::size_t> unprocessed_input_{0};
  std::atomic<std::size_t> input_free_{0};
  std::atomic<std::size_t> held_{0};
};

}  // namespace lf
