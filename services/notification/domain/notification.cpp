#include "domain/notification.hpp"

#include <algorithm>

namespace emporium::notification::domain {

std::string_view channel_name(Channel channel) {
  return channel == Channel::Email ? "email" : "sms";
}

std::string_view status_name(Status status) {
  switch (status) {
    case Status::Queued: return "queued";
    case Status::Sent: return "sent";
    case Status::Failed: return "failed";
  }
  return "queued";
}

std::optional<Channel> parse_channel(std::string_view text) {
  if (text == "email") return Channel::Email;
  if (text == "sms") return Channel::Sms;
  return std::nullopt;
}

std::optional<Status> parse_status(std::string_view text) {
  if (text == "queued") return Status::Queued;
  if (text == "sent") return Status::Sent;
  if (text == "failed") return Status::Failed;
  return std::nullopt;
}

bool has_control_char(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7F;
  });
}

}  // namespace emporium::notification::domain
