// A notification: one email or SMS to send, and the truth about it (API.md notification section).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emporium::notification::domain {

enum class Channel { Email, Sms };
enum class Status { Queued, Sent, Failed };

std::string_view channel_name(Channel channel);  // "email", "sms"
std::string_view status_name(Status status);     // "queued", "sent", "failed"
std::optional<Channel> parse_channel(std::string_view text);
std::optional<Status> parse_status(std::string_view text);

// Request limits (400 naming the field beyond them).
inline constexpr std::size_t kMaxSubjectBytes = 998;  // one RFC 5322 header line
inline constexpr std::size_t kMaxTextBytes = 100'000;
inline constexpr std::size_t kMaxHtmlBytes = 500'000;
inline constexpr std::size_t kMaxSmsBytes = 1600;  // Twilio's limit for one message body

struct Notification {
  std::string id;
  Channel channel = Channel::Email;
  std::string recipient;  // email address or E.164 number
  std::optional<std::string> subject;
  std::string text;  // the email's text part, or the SMS body
  std::optional<std::string> html;
  Status status = Status::Queued;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::optional<std::string> provider_id;  // Twilio's sid, the SMTP server's reply
  std::optional<std::string> event_id;     // set for notifications made from an event
  std::optional<std::string> event_type;
  std::optional<std::string> template_name;
  std::optional<std::string> user_id;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> sent_at_ms;
};

// A subject may not carry CR, LF, NUL or another control character but tab (header injection, a
// header the MIME builder refuses); text may.
bool has_control_char(std::string_view text);

}  // namespace emporium::notification::domain
