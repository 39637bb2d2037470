// product-service wiring: the one place that knows every handler. Creates the catalog, registers
// the catalog and reservation routes, and starts the reservation sweeper.
#pragma once

#include "config.hpp"

#include <emporium/app/app.hpp>

namespace emporium::product {

// The schema of both backends, generated from migrations/ by cmake/EmbedMigrations.cmake.
db::MigrationSet migrations();

// Call after app.open_database().
void register_product_service(App& app, const ProductConfig& config);

}  // namespace emporium::product
