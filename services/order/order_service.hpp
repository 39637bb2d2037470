// order-service wiring: the one place that knows every handler. Creates the clients of
// product-service and shopping-cart-service, the use cases, the idempotency keys and the task
// worker, and registers the routes.
#pragma once

#include "config.hpp"

#include <emporium/app/app.hpp>

namespace emporium::order {

// The schema of both backends, generated from migrations/ by cmake/EmbedMigrations.cmake.
db::MigrationSet migrations();

// Call after app.open_database().
void register_order_service(App& app, const OrderConfig& config);

}  // namespace emporium::order
