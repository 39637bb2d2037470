#include "emporium/http/etag.hpp"

#include <vector>

namespace emporium::http {
namespace {

struct Tag {
  bool weak = false;
  std::string_view value;  // with its quotes
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits `#entity-tag`; quoted values may not contain commas here (ours never do), and
// malformed members are simply ignored (they can never match).
std::vector<Tag> parse_tags(std::string_view header) {
  std::vector<Tag> tags;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    Tag tag;
    if (item.starts_with("W/")) {
      tag.weak = true;
      item.remove_prefix(2);
    }
    if (item.size() >= 2 && item.front() == '"' && item.back() == '"') {
      tag.value = item;
      tags.push_back(tag);
    }
  }
  return tags;
}

}  // namespace

std::string etag(std::string_view id, std::int64_t version) {
  return "\"" + std::string(id) + "-" + std::to_string(version) + "\"";
}

bool if_match_satisfied(std::string_view header, std::string_view current) {
  if (trim(header) == "*") return true;
  for (const Tag& tag : parse_tags(header)) {
    if (!tag.weak && tag.value == current) return true;
  }
  return false;
}

bool if_none_match_hits(std::string_view header, std::string_view current) {
  if (trim(header) == "*") return true;
  for (const Tag& tag : parse_tags(header)) {
    if (tag.value == current) return true;
  }
  return false;
}

}  // namespace emporium::http
