#include "lf/handlers/http/http_etag.h"

#include <cstdio>

#include "lf/handlers/http/http_list.h"

namespace lf {
namespace {

struct EntityTag {
  bool weak = false;
  std::string_view opaque;  // with its quotes
};

// etagc = %x21 / %x23-7E / obs-text
bool is_etagc(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7f);
}

// Reads one entity-tag at the start of `text`, advancing it; false if there is none.
bool read_entity_tag(std::string_view& text, EntityTag& tag) noexcept {
  std::string_view rest = text;
  tag.weak = rest.starts_with("W/");
  if (tag.weak) rest.remove_prefix(2);
  if (!rest.starts_with('"')) return false;
  std::size_t end = 1;
  while (end < rest.size() && is_etagc(rest[end])) ++end;
  if (end == rest.size() || rest[end] != '"') return false;
  tag.opaque = rest.substr(0, end + 1);
  text = rest.substr(end + 1);
  return true;
}

bool same_tag(const EntityTag& a, const EntityTag& b, EtagComparison comparison) noexcept {
  if (comparison == EtagComparison::kStrong && (a.weak || b.weak)) return false;
  return a.opaque == b.opaque;
}

bool parse_whole(std::string_view text, EntityTag& tag) noexcept {
  return read_entity_tag(text, tag) && text.empty();
}

}  // namespace

std::string weak_etag(std::time_t mtime, std::uint64_t size) {
  char text[64];
  const int length = std::snprintf(text, sizeof(text), "W/\"%llx-%llx\"",
                                   static_cast<unsigned long long>(mtime),
                                   static_cast<unsigned long long>(size));
  return std::string(text, static_cast<std::size_t>(length));
}

bool etag_matches(std::string_view tag, std::string_view etag,
                  EtagComparison comparison) noexcept {
  EntityTag ours;
  EntityTag theirs;
  return parse_whole(etag, ours) && parse_whole(trim_ows(tag), theirs) &&
         same_tag(theirs, ours, comparison);
}

bool etag_list_matches(std::string_view list, std::string_view etag,
                       EtagComparison comparison) noexcept {
  list = trim_ows(list);
  if (list == "*") return true;  // any current representation: the caller has one
  EntityTag ours;
  if (!parse_whole(etag, ours)) return false;
  // 1#entity-tag: elements separated by commas and white space (empty ones allowed); a comma
  // may sit inside an opaque tag, so the list is read tag by tag, not split.
  while (true) {
    while (!list.empty() && (list.front() == ',' || list.front() == ' ' || list.front() == '\t')) {
      list.remove_prefix(1);
    }
    EntityTag theirs;
    if (list.empty() || !read_entity_tag(list, theirs)) return false;
    if (same_tag(theirs, ours, comparison)) return true;
    list = trim_ows(list);
    if (!list.empty() && list.front() != ',') return false;
  }
}

}  // namespace lf
