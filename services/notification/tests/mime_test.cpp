// The message bytes an SMTP server receives: headers (RFC 5322 dates, RFC 2047 words, folding,
// Message-ID), the multipart/alternative layout, quoted-printable bodies, and refusal of header
// injection. Decoders here are the test's own, so the encoders are checked against a reading of
// the RFCs rather than against themselves.
#include "domain/mime.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace emporium::notification::domain {
namespace {

std::vector<std::string> lines_of(const std::string& message) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < message.size()) {
    const std::size_t crlf = message.find("\r\n", start);
    if (crlf == std::string::npos) {
      lines.push_back(message.substr(start));
      break;
    }
    lines.push_back(message.substr(start, crlf - start));
    start = crlf + 2;
  }
  return lines;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // RFC 2045 encoders must emit upper case
}

// RFC 2045 §6.7 decoding: soft breaks removed, =XX decoded, hard breaks kept as CRLF.
std::string qp_decode(const std::string& encoded) {
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '=') {
      out += encoded[i];
      continue;
    }
    if (encoded.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
      continue;
    }
    const int hi = hex_value(encoded.at(i + 1));
    const int lo = hex_value(encoded.at(i + 2));
    EXPECT_GE(hi, 0) << encoded;
    EXPECT_GE(lo, 0) << encoded;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string base64_decode(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto v = kAlphabet.find(c);
    EXPECT_NE(v, std::string::npos) << text;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// The value of a header as a reader sees it: unfolded, encoded words decoded (adjacent words
// joined without the folding whitespace between them).
std::string header_value(const std::string& message, const std::string& name) {
  const std::string head = message.substr(0, message.find("\r\n\r\n"));
  const std::string key = "\r\n" + name + ": ";
  std::size_t at = ("\r\n" + head).find(key);
  if (at == std::string::npos) return "<absent>";
  std::string raw;
  std::size_t i = at + key.size() - 2;
  while (i < head.size()) {
    const std::size_t crlf = head.find("\r\n", i);
    raw += head.substr(i, crlf == std::string::npos ? std::string::npos : crlf - i);
    if (crlf == std::string::npos || crlf + 2 >= head.size() || head[crlf + 2] != ' ') break;
    i = crlf + 2;  // the folding space stays part of the value
  }
  std::string out;
  std::size_t pos = 0;
  bool last_was_word = false;
  while (pos < raw.size()) {
    const std::size_t word = raw.find("=?UTF-8?B?", pos);
    std::string between =
        raw.substr(pos, word == std::string::npos ? std::string::npos : word - pos);
    if (!(last_was_word && word != std::string::npos && between == " ")) out += between;
    if (word == std::string::npos) break;
    const std::size_t end = raw.find("?=", word + 10);
    out += base64_decode(raw.substr(word + 10, end - word - 10));
    pos = end + 2;
    last_was_word = true;
  }
  return out;
}

MailMessage sample() {
  MailMessage m;
  m.from_address = "shop@mail.example.com";
  m.from_name = "Emporium";
  m.to = "ada@example.org";
  m.subject = "Your order";
  m.text = "Hello Ada,\nThanks.\n";
  m.html = "<p>Hello Ada,</p>";
  m.message_id = "665f1c2e8a1b2c3d4e5f6a7b";
  m.date_ms = 1700000000000;
  return m;
}

TEST(MimeTest, HeadersOfAMultipartMessage) {
  const std::string message = build_mime(sample());
  EXPECT_EQ(header_value(message, "Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(header_value(message, "From"), "\"Emporium\" <shop@mail.example.com>");
  EXPECT_EQ(header_value(message, "To"), "ada@example.org");
  EXPECT_EQ(header_value(message, "Subject"), "Your order");
  EXPECT_EQ(header_value(message, "Message-ID"), "<665f1c2e8a1b2c3d4e5f6a7b@mail.example.com>");
  EXPECT_EQ(header_value(message, "MIME-Version"), "1.0");
  EXPECT_EQ(header_value(message, "Content-Type").rfind("multipart/alternative; boundary=\"", 0),
            0u);
}

TEST(MimeTest, EveryLineEndsInCrlfAndFitsTheLimits) {
  MailMessage m = sample();
  m.subject =
      "Commande confirm\xC3\xA9"
      "e \xE2\x80\x94 " +
      std::string(120, 'x') + " \xF0\x9F\x93\xA6";
  m.text = std::string(300, 'a') + "\n" + std::string(200, '\xC3') + "\n";
  m.html = "<p>" + std::string(500, 'b') + "</p>";
  const std::string message = build_mime(m);
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\n') {
      ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
    }
    if (message[i] == '\r') {
      ASSERT_EQ(message.at(i + 1), '\n') << "bare CR at " << i;
    }
  }
  for (const auto& line : lines_of(message)) {
    EXPECT_LE(line.size(), 78u) << line;
    for (char c : line) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << "non-ASCII byte in: " << line;
  }
}

TEST(MimeTest, NonAsciiSubjectAndNameAreEncodedWordsThatDecodeBack) {
  MailMessage m = sample();
  m.subject = "\xC2\xA1Gracias! Pedido n\xC2\xBA 42 \xE2\x80\x94 " + std::string(90, 'z') +
              " \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  m.from_name = "Caf\xC3\xA9 M\xC3\xBCller";
  const std::string message = build_mime(m);
  EXPECT_NE(message.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_EQ(header_value(message, "Subject"), m.subject);
  EXPECT_EQ(header_value(message, "From"), "Caf\xC3\xA9 M\xC3\xBCller <shop@mail.example.com>");
}

TEST(MimeTest, EncodedWordsNeverSplitACharacter) {
  // Each word must decode to whole UTF-8 characters (RFC 2047 §5: words are decoded separately).
  std::string euro;
  for (int i = 0; i < 40; ++i) euro += "\xE2\x82\xAC";  // three bytes each
  const std::string header = encode_header("Subject", euro);
  std::size_t pos = 0;
  int words = 0;
  while ((pos = header.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const std::size_t end = header.find("?=", pos + 10);
    EXPECT_EQ(base64_decode(header.substr(pos + 10, end - pos - 10)).size() % 3, 0u);
    pos = end;
    ++words;
  }
  EXPECT_GT(words, 1);
}

TEST(MimeTest, LongAsciiSubjectIsFoldedAtSpaces) {
  std::string subject;
  for (int i = 0; i < 30; ++i) subject += "word" + std::to_string(i) + " ";
  subject += "end";
  const std::string header = encode_header("Subject", subject);
  EXPECT_EQ(header.find("=?"), std::string::npos);
  for (const auto& line : lines_of(header)) EXPECT_LE(line.size(), 78u);
  std::string unfolded = header;
  for (std::size_t p; (p = unfolded.find("\r\n")) != std::string::npos;) unfolded.erase(p, 2);
  EXPECT_EQ(unfolded, "Subject: " + subject);
}

TEST(MimeTest, TextThatLooksLikeAnEncodedWordIsEncoded) {
  EXPECT_NE(encode_header("Subject", "=?UTF-8?B?SGk=?=").find("=?UTF-8?B?PT9"), std::string::npos);
}

TEST(MimeTest, QuotedDisplayNameEscapesQuotes) {
  MailMessage m = sample();
  m.from_name = "Bob \"The\" Shop\\";
  EXPECT_EQ(header_value(build_mime(m), "From"),
            "\"Bob \\\"The\\\" Shop\\\\\" <shop@mail.example.com>");
  m.from_name.clear();
  EXPECT_EQ(header_value(build_mime(m), "From"), "shop@mail.example.com");
}

TEST(MimeTest, MultipartHoldsTextThenHtml) {
  MailMessage m = sample();
  m.boundary = "BOUNDARY42";
  const std::string message = build_mime(m);
  const std::string body = message.substr(message.find("\r\n\r\n") + 4);
  EXPECT_EQ(body,
            "--BOUNDARY42\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n"
            "Hello Ada,\r\nThanks.\r\n"
            "\r\n"
            "--BOUNDARY42\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n"
            "<p>Hello Ada,</p>\r\n"
            "--BOUNDARY42--\r\n");
}

TEST(MimeTest, RandomBoundaryIsFreshAndNotInTheBodies) {
  const std::string a = build_mime(sample());
  const std::string b = build_mime(sample());
  const auto boundary_of = [](const std::string& message) {
    const std::string key = "boundary=\"";
    const std::size_t at = message.find(key) + key.size();
    return message.substr(at, message.find('"', at) - at);
  };
  EXPECT_NE(boundary_of(a), boundary_of(b));
  EXPECT_GE(boundary_of(a).size(), 20u);
}

TEST(MimeTest, TextOnlyMessageIsOneTextPart) {
  MailMessage m = sample();
  m.html.clear();
  const std::string message = build_mime(m);
  EXPECT_EQ(header_value(message, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(header_value(message, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(message.find("multipart"), std::string::npos);
  EXPECT_EQ(qp_decode(message.substr(message.find("\r\n\r\n") + 4)), "Hello Ada,\r\nThanks.\r\n");
  m.text = "no final line break";
  const std::string unterminated = build_mime(m);
  EXPECT_EQ(unterminated.substr(unterminated.size() - 21), "no final line break\r\n");
}

TEST(MimeTest, QuotedPrintableRoundTrips) {
  const std::vector<std::string> samples = {
      "plain",
      std::string(500, 'x'),
      "a=b; 100% sure",
      "trailing spaces   \nand tab\t\nend",
      "Gr\xC3\xBC\xC3\x9F"
      "e \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC",
      std::string(100, '\xE2'),
      ".\n.leading dot\n..two dots\n",
      "=" + std::string(80, '=') + "\n",
  };
  for (const auto& text : samples) {
    const std::string encoded = quoted_printable(text);
    for (const auto& line : lines_of(encoded)) {
      EXPECT_LE(line.size(), 76u) << line;
      EXPECT_TRUE(line.empty() || (line.back() != ' ' && line.back() != '\t')) << line;
    }
    std::string expected;
    for (char c : text) {
      if (c == '\n')
        expected += "\r\n";
      else
        expected += c;
    }
    EXPECT_EQ(qp_decode(encoded), expected) << text;
  }
}

TEST(MimeTest, LineBreaksOfAnyKindBecomeCrlf) {
  EXPECT_EQ(quoted_printable("a\r\nb\nc\rd"), "a\r\nb\r\nc\r\nd");
}

TEST(MimeTest, DatesAreRfc5322InUtc) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1709251199999), "Thu, 29 Feb 2024 23:59:59 +0000");
}

TEST(MimeTest, Base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64("\xFF\xFE"), "//4=");
}

TEST(MimeTest, HeaderInjectionIsRefused) {
  for (auto edit : std::vector<void (*)(MailMessage&)>{
           [](MailMessage& m) { m.to = "ada@example.org\r\nBcc: eve@example.com"; },
           [](MailMessage& m) { m.to = "ada@example.org\n"; },
           [](MailMessage& m) { m.subject = "Hi\r\nBcc: eve@example.com"; },
           [](MailMessage& m) { m.subject = "Hi\rthere"; },
           [](MailMessage& m) { m.from_name = "Shop\nBcc: eve@example.com"; },
           [](MailMessage& m) { m.from_address = "shop@example.com\r\n"; },
           [](MailMessage& m) { m.subject = std::string("nul\0here", 8); },
           [](MailMessage& m) { m.message_id = "abc>\r\nX: y"; },
           [](MailMessage& m) { m.message_id = "has space"; },
           [](MailMessage& m) { m.to.clear(); },
       }) {
    MailMessage m = sample();
    edit(m);
    EXPECT_THROW(build_mime(m), std::invalid_argument) << m.to << " / " << m.subject;
  }
}

TEST(MimeTest, ABoundaryFoundInABodyIsRefused) {
  MailMessage m = sample();
  m.boundary = "Thanks";
  EXPECT_THROW(build_mime(m), std::invalid_argument);
}

TEST(MimeTest, MissingMessageIdIsRandom) {
  MailMessage m = sample();
  m.message_id.clear();
  const std::string a = header_value(build_mime(m), "Message-ID");
  const std::string b = header_value(build_mime(m), "Message-ID");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(a.size() - 18), "@mail.example.com>");
}

}  // namespace
}  // namespace emporium::notification::domain
