#include "domain/validation.hpp"

namespace emporium::user::domain {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// RFC 5322 `atext`.
bool is_atext(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~': return true;
    default: return false;
  }
}

bool valid_local_part(std::string_view local) {
  if (local.empty() || local.size() > 64) return false;
  if (local.front() == '.' || local.back() == '.') return false;
  char prev = 0;
  for (char c : local) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
  }
  return true;
}

bool valid_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  std::size_t labels = 0;
  std::string_view last;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_label(label)) return false;
    ++labels;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels < 2) return false;
  for (char c : last) {
    if (!is_digit(c)) return true;
  }
  return false;  // a numeric top-level label is an IP address, not a mail domain
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

bool is_valid_email(std::string_view email) {
  if (email.empty() || email.size() > kMaxEmailBytes) return false;
  const std::size_t at = email.rfind('@');
  if (at == std::string_view::npos) return false;
  return valid_local_part(email.substr(0, at)) && valid_domain(email.substr(at + 1));
}

std::optional<std::string> check_email(std::string_view email) {
  if (email.empty()) return "email is required";
  if (email.size() > kMaxEmailBytes) return "email must be at most 254 characters";
  if (!is_valid_email(email)) return "email must be a valid address";
  return std::nullopt;
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

bool is_valid_phone(std::string_view phone) {
  if (phone.size() < 3 || phone.size() > 16) return false;  // '+', then 2..15 digits
  if (phone[0] != '+' || phone[1] < '1' || phone[1] > '9') return false;
  for (std::size_t i = 2; i < phone.size(); ++i) {
    if (!is_digit(phone[i])) return false;
  }
  return true;
}

std::optional<std::string> check_phone(std::string_view phone) {
  if (!is_valid_phone(phone)) {
    return "phone must be an E.164 number: '+', country code and number, 2 to 15 digits";
  }
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
