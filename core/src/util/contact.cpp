#include "emporium/util/contact.hpp"

namespace emporium {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
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

}  // namespace emporium
