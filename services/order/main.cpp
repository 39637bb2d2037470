// order-service: orders behind /api/orders (port 5003).
#include "config.hpp"
#include "order_service.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>

int main() {
  return emporium::run_main([] {
    const auto env = emporium::Env::load();
    const auto config = emporium::order::OrderConfig::from_env(env);
    emporium::App app(config.common);
    app.open_database(emporium::order::migrations());
    emporium::order::register_order_service(app, config);
    return app.run();
  });
}
