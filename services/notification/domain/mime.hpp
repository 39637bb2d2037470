// An email as the bytes an SMTP server receives after DATA (RFC 5322 headers, MIME body), built
// without I/O so tests can read every byte.
//
// - Headers are ASCII: a non-ASCII subject or sender name becomes RFC 2047 encoded words
//   (`=?UTF-8?B?…?=`), and header lines are folded to at most 78 characters where the header can be
//   folded (an address is never split).
// - Bodies are UTF-8 in quoted-printable, so long lines, non-ASCII text and a line holding only
//   "." are safe on any SMTP server. Line breaks in the input (LF, CRLF or CR) become CRLF.
// - A message with HTML is multipart/alternative (text/plain first, then text/html: clients show
//   the last part they can render); a text-only message is a single text/plain part.
// - Dot-stuffing (RFC 5321 §4.5.2) is NOT done here: libcurl's SMTP upload does it (see
//   provider/smtp_mailer.hpp), so doing it twice would show readers a doubled dot.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace emporium::notification::domain {

struct MailMessage {
  std::string from_address;  // bare address (no-reply@shop.example); its domain names Message-ID
  std::string from_name;     // display name (the store's); empty: the bare address alone
  std::string to;            // bare address
  std::string subject;
  std::string text;  // the text/plain part (UTF-8)
  std::string html;  // the text/html part (UTF-8); empty: a text-only message
  // The left part of Message-ID (<message_id@domain of from_address>): dot-atom characters only;
  // empty: a random one.
  std::string message_id;
  std::int64_t date_ms = 0;  // the Date header, milliseconds since the Unix epoch
  // The multipart boundary; empty: a random one. Either way it never occurs in the bodies.
  std::string boundary;
};

// The whole message, CRLF line endings. Throws std::invalid_argument when a header value holds
// CR, LF or NUL (header injection: callers validate addresses and subjects before), when an
// address is empty, or when message_id holds characters outside RFC 5322 dot-atom text.
std::string build_mime(const MailMessage& message);

// RFC 5322 date-time in UTC: "Tue, 24 Nov 2026 18:24:25 +0000".
std::string rfc5322_date(std::int64_t epoch_ms);

// A header's name and value as folded lines (each ≤ 78 characters where the value has places to
// fold), without the final CRLF. Printable ASCII is kept and folded at spaces; anything else
// (non-ASCII, or text that could be read as an encoded word) is RFC 2047 B-encoded in words cut
// at UTF-8 character boundaries.
std::string encode_header(std::string_view name, std::string_view value);

// RFC 2045 quoted-printable, lines ≤ 76 characters, CRLF hard breaks.
std::string quoted_printable(std::string_view text);

// Standard base64 (RFC 4648 §4, with padding).
std::string base64(std::string_view bytes);

}  // namespace emporium::notification::domain
