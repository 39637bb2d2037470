// payment-service wiring: the one place that knows every handler. Chooses the provider (Stripe
// with STRIPE_SECRET_KEY, else the simulated one), creates the order-service client, the use
// cases, the idempotency keys and the task worker, and registers the routes.
#pragma once

#include "config.hpp"

#include <emporium/app/app.hpp>

namespace emporium::payment {

db::MigrationSet migrations();
void register_payment_service(App& app, const PaymentConfig& config);

}  // namespace emporium::payment
