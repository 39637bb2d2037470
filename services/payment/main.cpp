// payment-service: payments behind /api/payments (port 5004).
#include "config.hpp"
#include "payment_service.hpp"

#include <emporium/app/app.hpp>
#include <emporium/config/env.hpp>

int main() {
  return emporium::run_main([] {
    const auto env = emporium::Env::load();
    const auto config = emporium::payment::PaymentConfig::from_env(env);
    emporium::App app(config.common);
    app.open_database(emporium::payment::migrations());
    emporium::payment::register_payment_service(app, config);
    return app.run();
  });
}
