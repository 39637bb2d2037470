#include "handlers/dto.hpp"

#include <emporium/util/time.hpp>

namespace emporium::notification::dto {

namespace {
template <class T>
Json or_null(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}
}  // namespace

Json notification_json(const domain::Notification& n) {
  Json out = Json::object();
  out["_id"] = n.id;
  out["channel"] = std::string(domain::channel_name(n.channel));
  out["to"] = n.recipient;
  if (n.channel == domain::Channel::Email) {
    out["subject"] = or_null(n.subject);
    out["text"] = n.text;
    out["html"] = or_null(n.html);
  } else {
    out["message"] = n.text;
  }
  out["status"] = std::string(domain::status_name(n.status));
  out["attempts"] = n.attempts;
  out["lastError"] = or_null(n.last_error);
  out["providerId"] = or_null(n.provider_id);
  out["eventId"] = or_null(n.event_id);
  out["eventType"] = or_null(n.event_type);
  out["template"] = or_null(n.template_name);
  out["userId"] = or_null(n.user_id);
  out["createdAt"] = iso8601(n.created_at_ms);
  out["updatedAt"] = iso8601(n.updated_at_ms);
  out["sentAt"] = n.sent_at_ms ? Json(iso8601(*n.sent_at_ms)) : Json(nullptr);
  return out;
}

}  // namespace emporium::notification::dto
