#include "lf/handlers/chat/chat_connection.h"

#include <fmt/core.h>

#include <utility>

#include "lf/log/log.h"

namespace lf {

namespace {
// Trims spaces and tabs at both ends.
std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}
}  // namespace

void ChatConnection::on_connect() {
  // The welcome is queued before the room lists this member, so it is the first line the member
  // gets: no broadcast can reach it earlier.
  name_ = room_->take_name();
  joined_ = true;
  send(fmt::format("*** you are {} ({} in the room); /nick NAME changes your name ***\n", name_,
                   room_->size() + 1));
  room_->admit(std::static_pointer_cast<ChatConnection>(shared_from_this()));
  LF_LOG_DEBUG("chat: {} joined from {}", name_, peer_address().to_string());
  room_->broadcast(fmt::format("*** {} joined ***\n", name_), this);
}

void ChatConnection::on_close() {
  if (!joined_) return;
  joined_ = false;
  room_->leave(*this, name_);
  LF_LOG_DEBUG("chat: {} left", name_);
  room_->broadcast(fmt::format("*** {} left ***\n", name_), this);
}

void ChatConnection::deliver(std::string_view line) {
  const std::size_t bound = room_->options().max_pending_output;
  // What this member missed is announced in front of the next line that fits, in one piece.
  const std::uint64_t missed = take_dropped();
  const bool queued =
      missed == 0 ? try_send(line, bound) : try_send(dropped_notice(missed).append(line), bound);
  if (queued) return;
  if (missed != 0) dropped_.fetch_add(missed, std::memory_order_relaxed);
  if (!connected()) return;  // gone: nothing was missed
  dropped_.fetch_add(1, std::memory_order_relaxed);
  room_->count_dropped();
}

void ChatConnection::on_write_complete() {
  // Everything queued has reached the socket: a member that lost messages hears about it now
  // even if nobody says anything more.
  const std::uint64_t missed = take_dropped();
  if (missed != 0 && !try_send(dropped_notice(missed), room_->options().max_pending_output)) {
    dropped_.fetch_add(missed, std::memory_order_relaxed);
  }
}

std::uint64_t ChatConnection::take_dropped() noexcept {
  // A plain load first: the exchange (a write to a shared line) only when something was missed.
  if (dropped_.load(std::memory_order_relaxed) == 0) return 0;
  return dropped_.exchange(0, std::memory_order_relaxed);
}

std::string ChatConnection::dropped_notice(std::uint64_t missed) {
  return fmt::format("*** {} messages dropped ***\n", missed);
}

void ChatConnection::notice(std::string_view text) { deliver(fmt::format("*** {} ***\n", text)); }

void ChatConnection::on_message(Buffer& input) {
  const std::size_t max_line = room_->options().max_line;
  // A member whose own output (notices) is over the mark gets its next lines handled later.
  while (!output_full()) {
    const char* eol = input.find_eol();
    if (discarding_) {
      if (eol == nullptr) {
        input.retrieve_all();
        return;
      }
      input.retrieve_until(eol + 1);
      discarding_ = false;
      continue;
    }
    if (eol == nullptr) {
      // A partial line may hold max_line bytes and the '\r' of its "\r\n".
      if (input.readable_bytes() > max_line + 1) {
        notice(fmt::format("line too long (over {} bytes), not sent", max_line));
        input.retrieve_all();
        discarding_ = true;
      }
      return;
    }
    std::string_view line(input.peek(), static_cast<std::size_t>(eol - input.peek()));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line) {
      notice(fmt::format("line too long (over {} bytes), not sent", max_line));
    } else {
      handle_line(line);
    }
    input.retrieve_until(eol + 1);
  }
}

void ChatConnection::handle_line(std::string_view line) {
  if (line.empty()) return;
  if (line.front() == '/') {
    handle_command(line);
    return;
  }
  std::string message;
  message.reserve(name_.size() + 2 + line.size() + 1);
  message.append(name_).append(": ").append(line).push_back('\n');
  room_->broadcast(message, this);
}

void ChatConnection::handle_command(std::string_view line) {
  const std::string_view command = line.substr(0, line.find_first_of(" \t"));
  const std::string_view argument = trim(line.substr(command.size()));
  if (command == "/nick") {
    rename(argument);
  } else {
    notice(fmt::format("unknown command {}; try /nick NAME", command));
  }
}

void ChatConnection::rename(std::string_view name) {
  if (!ChatRoom::valid_name(name)) {
    notice(fmt::format("usage: /nick NAME (1 to {} letters, digits, '_' or '-')",
                       ChatRoom::kMaxNameLength));
    return;
  }
  if (name == name_) {
    notice(fmt::format("you are already {}", name_));
    return;
  }
  std::string new_name(name);
  if (!room_->rename(name_, new_name)) {
    notice(fmt::format("{} is taken", new_name));
    return;
  }
  std::string old_name = std::exchange(name_, std::move(new_name));
  room_->broadcast(fmt::format("*** {} is now {} ***\n", old_name, name_), nullptr);
}

}  // namespace lf
