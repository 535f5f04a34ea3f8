#include "lf/handlers/chat/chat_room.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "lf/handlers/chat/chat_connection.h"

namespace lf {

std::size_t ChatRoom::size() const {
  std::lock_guard lock(mutex_);
  return members_->size();
}

std::vector<std::string> ChatRoom::names() const {
  std::lock_guard lock(mutex_);
  return {names_.begin(), names_.end()};
}

bool ChatRoom::valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string ChatRoom::take_name() {
  std::lock_guard lock(mutex_);
  std::string name;
  do {
    name = "user" + std::to_string(next_id_++);
  } while (names_.contains(name));  // someone took it with /nick
  names_.insert(name);
  return name;
}

void ChatRoom::admit(const std::shared_ptr<ChatConnection>& member) {
  std::lock_guard lock(mutex_);
  auto members = std::make_shared<Members>(*members_);
  members->push_back(member);
  members_ = std::move(members);
}

void ChatRoom::leave(const ChatConnection& member, const std::string& name) {
  std::lock_guard lock(mutex_);
  names_.erase(name);
  auto members = std::make_shared<Members>();
  members->reserve(members_->size());
  std::copy_if(members_->begin(), members_->end(), std::back_inserter(*members),
               [&member](const auto& m) { return m.get() != &member; });
  members_ = std::move(members);
}

bool ChatRoom::rename(const std::string& old_name, const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!names_.insert(name).second) return false;
  names_.erase(old_name);
  return true;
}

void ChatRoom::broadcast(std::string_view line, const ChatConnection* except) const {
  // deliver() is not called under mutex_. Its try_send() takes the member's inbox lock and may
  // wake a ThreadSet thread (the HandleSet's post-queue lock). Under the room lock, every
  // broadcast, join and leave of the room would queue behind one sender's whole loop, and the lock
  // order room -> connection inbox -> HandleSet would deadlock the day any of those paths calls
  // into the room. So the lock is held only to copy the snapshot pointer; a member that leaves
  // during the loop may still be offered the line, and try_send() drops it once the connection is
  // closed.
  std::shared_ptr<const Members> members;
  {
    std::lock_guard lock(mutex_);
    members = members_;
  }
  for (const auto& member : *members) {
    if (member.get() != except) member->deliver(line);
  }
}

}  // namespace lf
