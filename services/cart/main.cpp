// shopping-cart-service: carts behind /api/cart (port 5002).
#include "cart_service.hpp"
#include "config.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>

int main() {
  return emporium::run_main([] {
    const auto env = emporium::Env::load();
    const auto config = emporium::cart::CartConfig::from_env(env);
    emporium::App app(config.common);
    app.open_database(emporium::cart::migrations());
    emporium::cart::register_cart_service(app, config);
    return app.run();
  });
}
