// user-service: users, passwords and tokens behind /api/users (port 5000).
#include "config.hpp"
#include "user_service.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>

int main() {
  return emporium::run_main([] {
    const auto env = emporium::Env::load();
    const auto config = emporium::user::UserConfig::from_env(env);
    emporium::App app(config.common);
    app.open_database(emporium::user::migrations());
    emporium::user::register_user_service(app, config);
    return app.run();
  });
}
