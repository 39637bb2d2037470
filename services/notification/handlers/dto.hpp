// The wire format of notification-service (API.md notification section).
#pragma once

#include "domain/notification.hpp"

#include <emporium/json/json.hpp>

namespace emporium::notification::dto {

// {"_id","channel","to","subject","text","html" (email) | "message" (sms),"status","attempts",
//  "lastError","providerId","eventId","eventType","template","userId","createdAt","updatedAt",
//  "sentAt"}
Json notification_json(const domain::Notification& notification);

}  // namespace emporium::notification::dto
