#include "domain/mime.hpp"

#include <emporium/util/crypto.hpp>

#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <vector>

namespace emporium::notification::domain {
namespace {

constexpr std::size_t kMaxHeaderLine = 78;  // RFC 5322 §2.1.1 "SHOULD"
constexpr std::size_t kMaxQpLine = 76;      // RFC 2045 §6.7 rule 5, the soft-break '=' included
// Bytes of text per encoded word: base64 of 39 bytes is 52 characters, so "=?UTF-8?B?…?=" is 64
// and "Subject: " plus one word stays under 78.
constexpr std::size_t kEncodedWordBytes = 39;

constexpr char kHex[] = "0123456789ABCDEF";

std::string hex_lower(std::string_view bytes) {
  static constexpr char kLower[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kLower[b >> 4];
    out += kLower[b & 0x0F];
  }
  return out;
}

void reject_line_breaks(std::string_view field, std::string_view value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    throw std::invalid_argument("mail header " + std::string(field) +
                                " holds a line break or NUL (header injection)");
  }
}

bool printable_ascii(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7E) return false;  // char is signed: bytes ≥ 0x80 are negative
  }
  return true;
}

// Whether `text` can go into a header as it is: printable ASCII that a reader would not take for
// an encoded word.
bool plain_header_text(std::string_view text) {
  return printable_ascii(text) && text.find("=?") == std::string_view::npos;
}

std::size_t last_line_length(const std::string& text) {
  const std::size_t crlf = text.rfind("\r\n");
  return crlf == std::string::npos ? text.size() : text.size() - crlf - 2;
}

// Length of the longest prefix of `text` of at most `max` bytes that ends on a UTF-8 character
// boundary (at least one character, so malformed input still makes progress).
std::size_t utf8_cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text.size();
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) --cut;
  return cut == 0 ? max : cut;
}

// `prefix` (e.g. "Subject: ") followed by `value` as encoded words, one per folded line.
std::string encoded_words(std::string prefix, std::string_view value) {
  std::string out = std::move(prefix);
  bool first = true;
  do {
    const std::size_t n = utf8_cut(value, kEncodedWordBytes);
    if (!first) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(value.substr(0, n)) + "?=";
    value.remove_prefix(n);
    first = false;
  } while (!value.empty());
  return out;
}

// `prefix` followed by printable ASCII `value`, folded before a space where a line would pass 78.
std::string folded_ascii(std::string prefix, std::string_view value) {
  std::string out = std::move(prefix);
  std::size_t line = out.size();
  bool line_has_word = false;
  std::size_t start = 0;
  bool first = true;
  while (start <= value.size()) {
    const std::size_t space = value.find(' ', start);
    const std::string_view word = value.substr(
        start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (!first) {
      if (!word.empty() && line + 1 + word.size() > kMaxHeaderLine && line_has_word) {
        out += "\r\n";
        line = 0;
      }
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    line_has_word = line_has_word || !word.empty();
    first = false;
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return out;
}

std::string quoted_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string from_header(std::string_view name, std::string_view address) {
  if (name.empty()) return "From: " + std::string(address);
  std::string out =
      plain_header_text(name) ? "From: " + quoted_string(name) : encoded_words("From: ", name);
  const std::string angle = "<" + std::string(address) + ">";
  if (last_line_length(out) + 1 + angle.size() > kMaxHeaderLine) out += "\r\n";
  return out + " " + angle;
}

bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

void check_message_id(std::string_view id) {
  bool ok = !id.empty() && id.front() != '.' && id.back() != '.';
  for (char c : id) ok = ok && (is_atext(c) || c == '.');
  if (!ok) throw std::invalid_argument("message_id must be dot-atom text");
}

std::string domain_of(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 == address.size()) return "localhost";
  return std::string(address.substr(at + 1));
}

std::string part_headers(std::string_view type) {
  return "Content-Type: " + std::string(type) +
         "; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n";
}

}  // namespace

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                       static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string quoted_printable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::size_t line = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
      line = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    const auto b = static_cast<unsigned char>(c);
    const bool literal =
        (b >= 33 && b <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    const std::size_t width = literal ? 1 : 3;
    // Keep room for the soft break's '=' unless this is the line's last character.
    const std::size_t limit = at_line_end ? kMaxQpLine : kMaxQpLine - 1;
    if (line + width > limit) {
      out += "=\r\n";
      line = 0;
    }
    if (literal) {
      out += c;
    } else {
      out += '=';
      out += kHex[b >> 4];
      out += kHex[b & 0x0F];
    }
    line += width;
  }
  return out;
}

std::string rfc5322_date(std::int64_t epoch_ms) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buffer;
}

std::string encode_header(std::string_view name, std::string_view value) {
  std::string prefix = std::string(name) + ": ";
  if (plain_header_text(value)) return folded_ascii(std::move(prefix), value);
  return encoded_words(std::move(prefix), value);
}

std::string build_mime(const MailMessage& m) {
  reject_line_breaks("From", m.from_address);
  reject_line_breaks("From (name)", m.from_name);
  reject_line_breaks("To", m.to);
  reject_line_breaks("Subject", m.subject);
  if (m.from_address.empty()) throw std::invalid_argument("mail needs a From address");
  if (m.to.empty()) throw std::invalid_argument("mail needs a To address");
  const std::string id = m.message_id.empty() ? hex_lower(random_bytes(16)) : m.message_id;
  check_message_id(id);

  const bool multipart = !m.html.empty();
  const std::string text = quoted_printable(m.text);
  const std::string html = multipart ? quoted_printable(m.html) : std::string();
  std::string boundary = m.boundary;
  if (boundary.empty()) {
    // "=_" never occurs in quoted-printable output ('=' is followed by hex digits or a line
    // break), so this cannot collide with a body; the check below is belt and braces.
    boundary = "=_emporium_" + hex_lower(random_bytes(12));
  }
  reject_line_breaks("boundary", boundary);
  if (text.find(boundary) != std::string::npos || html.find(boundary) != std::string::npos) {
    throw std::invalid_argument("the multipart boundary occurs in a body");
  }

  std::string out;
  out.reserve(text.size() + html.size() + 1024);
  out += "Date: " + rfc5322_date(m.date_ms) + "\r\n";
  out += from_header(m.from_name, m.from_address) + "\r\n";
  out += "To: " + m.to + "\r\n";
  out += encode_header("Subject", m.subject) + "\r\n";
  out += "Message-ID: <" + id + "@" + domain_of(m.from_address) + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  if (!multipart) {
    out += part_headers("text/plain");
    out += "\r\n" + text;
    // The body's own last line break, when it has one, ends the message; SMTP needs one there.
    if (text.size() < 2 || text.compare(text.size() - 2, 2, "\r\n") != 0) out += "\r\n";
    return out;
  }
  out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n";
  out += "\r\n";
  out += "--" + boundary + "\r\n" + part_headers("text/plain") + "\r\n" + text + "\r\n";
  out += "--" + boundary + "\r\n" + part_headers("text/html") + "\r\n" + html + "\r\n";
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace emporium::notification::domain
