// Public. ChatConnection: one member of a line-based broadcast room (ChatRoom). Each line a
// member sends ('\n'-terminated, "\r\n" accepted) reaches every other member as "NAME: line".
// A member starts as "user<N>"; "/nick NAME" renames it. Joins, leaves and renames are announced
// as "*** ... ***" lines. Wiring:
//
//   auto room = std::make_shared<lf::ChatRoom>();
//   server.listen<lf::ChatConnection>(address, lf::ListenOptions{}, room);
//
// Slow receivers do not stall the others and cannot make the server buffer without bound: every
// line for a member is queued with try_send(line, ChatOptions::max_pending_output), so a member
// that does not read loses the lines that would take its pending output past that bound (it is
// not disconnected). It is then told "*** N messages dropped ***" in front of the next line that
// fits or once its output has drained completely, whichever comes first. Lines longer than
// ChatOptions::max_line are refused with a notice to their sender.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lf/handlers/chat/chat_room.h"
#include "lf/net/buffer.h"
#include "lf/net/stream_connection.h"

namespace lf {

class ChatConnection : public StreamConnection {
 public:
  explicit ChatConnection(std::shared_ptr<ChatRoom> room) : room_(std::move(room)) {}

 protected:
  void on_connect() override;
  void on_message(Buffer& input) override;
  void on_write_complete() override;
  void on_close() override;

 private:
  friend class ChatRoom;

  // Thread safe. Queues `line` for this member unless that would take its pending output past
  // ChatOptions::max_pending_output (then counts a drop).
  void deliver(std::string_view line);
  // Thread safe. The count of messages missed since the last notice, reset to 0.
  std::uint64_t take_dropped() noexcept;
  static std::string dropped_notice(std::uint64_t missed);
  // A "*** text ***" line for this member only.
  void notice(std::string_view text);
  void handle_line(std::string_view line);
  void handle_command(std::string_view line);
  void rename(std::string_view name);

  const std::shared_ptr<ChatRoom> room_;

  // Processing thread only.
  std::string name_;
  bool joined_ = false;
  bool discarding_ = false;  // dropping the rest of a line that was too long

  // Messages missed since the last notice; added to by any thread that failed to deliver.
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace lf
