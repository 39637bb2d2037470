// notification-service: emails and SMS behind /api/notification (port 5005).
#include "config.hpp"
#include "notification_service.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>

int main() {
  return emporium::run_main([] {
    const auto env = emporium::Env::load();
    const auto config = emporium::notification::NotificationConfig::from_env(env);
    emporium::App app(config.common);
    app.open_database(emporium::notification::migrations());
    emporium::notification::register_notification_service(app, config);
    return app.run();
  });
}
