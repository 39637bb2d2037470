#include "domain/validation.hpp"

namespace emporium::user::domain {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (char c : text) {
    // Count every byte that is not a continuation byte (10xxxxxx).
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++count;
  }
  return count;
}

std::string trim_name(std::string_view name) {
  std::size_t begin = 0;
  std::size_t end = name.size();
  while (begin < end && is_space(name[begin])) ++begin;
  while (end > begin && is_space(name[end - 1])) --end;
  return std::string(name.substr(begin, end - begin));
}

std::optional<std::string> check_name(std::string_view name) {
  const std::size_t length = utf8_length(name);
  if (length < kMinNameChars) return "name must not be empty";
  if (length > kMaxNameChars) return "name must be at most 100 characters";
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return "name must not contain control characters";
  }
  return std::nullopt;
}

std::optional<std::string> check_password(std::string_view password) {
  if (password.size() < kMinPasswordBytes) return "password must be at least 8 characters";
  if (password.size() > kMaxPasswordBytes) return "password must be at most 1024 bytes";
  return std::nullopt;
}

bool is_valid_role(std::string_view role) {
  return role == kRoleCustomer || role == kRoleAdmin;
}

std::optional<std::string> check_role(std::string_view role) {
  if (!is_valid_role(role)) return "role must be one of: customer, admin";
  return std::nullopt;
}

}  // namespace emporium::user::domain
