// Routes of notification-service (API.md): POST /email and /sms (admin, or an internal caller),
// GET /:id and GET / (admin), and the events' dead letters (admin).
#pragma once

#include "notifications.hpp"

#include <emporium/app/app.hpp>

#include <memory>

namespace emporium::notification {

void register_notification_handlers(App& app, const std::shared_ptr<Notifications>& notifications);

}  // namespace emporium::notification
