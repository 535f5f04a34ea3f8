#include "lf/handlers/kv/kv_hash.h"

namespace lf {

const std::string* KvHash::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &fields_[it->second].second;
}

std::string* KvHash::find(std::string_view name) {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &fields_[it->second].second;
}

bool KvHash::set(std::string_view name, std::string_view value) {
  const auto [it, added] = index_.try_emplace(std::string(name), fields_.size());
  if (added) {
    fields_.emplace_back(std::string(name), std::string(value));
  } else {
    fields_[it->second].second.assign(value);
  }
  return added;
}

bool KvHash::erase(std::string_view name) {
  const auto it = index_.find(name);
  if (it == index_.end()) return false;
  const std::size_t slot = it->second;
  index_.erase(it);
  fields_.erase(fields_.begin() + static_cast<std::ptrdiff_t>(slot));
  // The fields after the gap moved down by one.
  for (std::size_t i = slot; i < fields_.size(); ++i) index_.find(fields_[i].first)->second = i;
  return true;
}

}  // namespace lf
