// Public. KvHash: the value of a Redis hash key. Fields keep their insertion order (a deletion
// closes the gap), as Redis's listpack encoding of small hashes reports them, so HGETALL, HKEYS
// and HSCAN list them as Redis does; an index makes lookups O(1). Not thread safe (the store's
// shard lock guards it).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lf {

class KvHash {
 public:
  using Field = std::pair<std::string, std::string>;  // name, value

  [[nodiscard]] const std::string* find(std::string_view name) const;
  [[nodiscard]] std::string* find(std::string_view name);
  // Adds or overwrites; true if the field is new.
  bool set(std::string_view name, std::string_view value);
  bool erase(std::string_view name);

  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
  [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
  [[nodiscard]] const std::vector<Field>& fields() const noexcept { return fields_; }

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };

  std::vector<Field> fields_;
  std::unordered_map<std::string, std::size_t, NameHash, std::equal_to<>> index_;  // name -> slot
};

}  // namespace lf
