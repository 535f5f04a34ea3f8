// Public. ChatRoom: the state one chat room shares between its connections (members and their
// names) and the broadcast. Create one with std::make_shared and give it to every
// ChatConnection: server.listen<ChatConnection>(address, options, room). Thread safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lf {

class ChatConnection;

struct ChatOptions {
  // The most output a member may have pending (not yet taken by its socket): a line that would
  // pass it is dropped for that member (StreamConnection::try_send), who is later told how many
  // it missed. So a member that stops reading costs the server at most this much.
  std::size_t max_pending_output = 1024 * 1024;
  // Longer lines (without the line ending) are refused with a notice to their sender.
  std::size_t max_line = 4 * 1024;
};

class ChatRoom {
 public:
  static constexpr std::size_t kMaxNameLength = 32;

  explicit ChatRoom(ChatOptions options = {}) : options_(options) {}

  [[nodiscard]] const ChatOptions& options() const noexcept { return options_; }
  // Members now in the room.
  [[nodiscard]] std::size_t size() const;
  // Their names, sorted.
  [[nodiscard]] std::vector<std::string> names() const;
  // Messages dropped so far because a member's output was full (all members together).
  [[nodiscard]] std::uint64_t dropped_messages() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

  // 1 to kMaxNameLength letters, digits, '_' or '-'.
  [[nodiscard]] static bool valid_name(std::string_view name) noexcept;

 private:
  friend class ChatConnection;
  using Members = std::vector<std::shared_ptr<ChatConnection>>;

  // Joining is two steps, so that a member can queue its welcome in between: take_name() reserves
  // a free name "user<N>", admit() lists the member (broadcasts reach it from then on).
  std::string take_name();
  void admit(const std::shared_ptr<ChatConnection>& member);
  // Removes `member` and frees `name`.
  void leave(const ChatConnection& member, const std::string& name);
  // Takes `name` for a member now called `old_name`; false if another member has it.
  bool rename(const std::string& old_name, const std::string& name);
  // Delivers `line` (one complete line, '\n' included) to every member except `except`.
  void broadcast(std::string_view line, const ChatConnection* except) const;
  void count_dropped() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }

  const ChatOptions options_;
  mutable std::mutex mutex_;
  // Copy on write: admit and leave replace the vector, broadcast copies only this pointer under
  // the lock and sends to the snapshot after releasing it (see broadcast()).
  std::shared_ptr<const Members> members_ = std::make_shared<const Members>();  // guarded
  std::set<std::string, std::less<>> names_;                                    // guarded
  std::uint64_t next_id_ = 1;                                                   // guarded
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace lf
