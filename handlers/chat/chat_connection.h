// Public. ChatConnection: one member of a line-based broadcast room (ChatRoom). Each line a
// member sends ('\n'-terminated, "\r\n" accepted) reaches every other member as "NAME: line".
// A member starts as "user<N>"; "/nick NAME" renames it. Joins, leaves and renames are announced
// as "*** ... ***" lines. Wiring:
//
//   auto room = std::make_shared<lf::ChatRoom>();
//   server.listen<lf::ChatConnection>(address, lf::ListenOptions{}, room);
//
// Slow receivers do not stall the others: sending to a member only queues bytes, and a member
// whose pending output would pass ChatOptions::max_pending_output loses messages instead; it is
// then told "*** N messages dropped ***" with the next message that fits or once its output has
// drained completely, whichever comes first. Lines longer than ChatOptions::max_line are refused
// with a notice to their sender.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "chat/chat_room.h"
#include "lf/buffer.h"
#include "lf/stream_connection.h"

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

  // Thread safe. Queues `line` for this member unless its output is full (then counts a drop).
  void deliver(std::string_view line);
  // With delivery_mutex_ held: tells the member what it missed, if anything.
  void send_dropped_notice();
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

  // Lock order: delivery_mutex_, then ChatRoom::mutex_ or the connection's inbox lock (inside
  // send() from another thread); nothing takes delivery_mutex_ while holding either.
  std::mutex delivery_mutex_;
  std::uint64_t dropped_ = 0;  // guarded by delivery_mutex_: messages missed since the last notice
};

}  // namespace lf
