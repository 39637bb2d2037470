// notification-service wiring: the channels (SMTP, Twilio), the use cases and their delivery
// worker, the event consumer and the routes.
#pragma once

#include "config.hpp"

#include <emporium/app/app.hpp>

namespace emporium::notification {

db::MigrationSet migrations();
void register_notification_service(App& app, const NotificationConfig& config);

}  // namespace emporium::notification
