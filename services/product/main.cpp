// product-service: catalog and stock behind /api/products (port 5001).
#include "config.hpp"
#include "product_service.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>

int main() {
  return emporium::run_main([] {
    const auto env = emporium::Env::load();
    const auto config = emporium::product::ProductConfig::from_env(env);
    emporium::App app(config.common);
    app.open_database(emporium::product::migrations());
    emporium::product::register_product_service(app, config);
    return app.run();
  });
}
