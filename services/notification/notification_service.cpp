#include "notification_service.hpp"

#include "handlers/notification_handlers.hpp"
#include "notifications.hpp"

#include <memory>
#include <utility>

namespace emporium::notification {

namespace {

// The events notifications react to (docs/events.md).
constexpr const char* kEventTypes[] = {"user.registered",      "order.placed",
                                       "order.status_changed", "payment.succeeded",
                                       "payment.failed",       "payment.refunded"};

// Owned together and kept alive by the routes that capture them (past app.run()).
struct Components {
  Components(App& app, const NotificationConfig& config)
      : notifications(std::make_shared<Notifications>(app.db(), provider::make_mailer(config.smtp),
                                                      provider::make_sms_sender(config.twilio),
                                                      config, &app.log(), &app.metrics())),
        events(app, config.events) {}

  std::shared_ptr<Notifications> notifications;
  events::Events events;
};

}  // namespace

void register_notification_service(App& app, const NotificationConfig& config) {
  auto components = std::make_shared<Components>(app, config);
  auto& notifications = components->notifications;
  for (const char* type : kEventTypes) {
    components->events.on(type, [n = notifications.get()](db::Tx& tx, const events::Event& e) {
      n->on_event(tx, e);
    });
  }
  notifications->attach(app);
  components->events.attach(app);
  // The dead-letter routes capture the Events object; the handlers below keep `components` alive.
  components->events.mount_dead_letter_routes(app, "/api/notification/events");
  std::shared_ptr<Notifications> kept(components, notifications.get());
  register_notification_handlers(app, kept);
}

}  // namespace emporium::notification
