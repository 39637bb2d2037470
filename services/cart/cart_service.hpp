// shopping-cart-service wiring: the one place that knows every handler. Creates the product
// catalog client and the use cases, and registers the routes.
#pragma once

#include "catalog/product_catalog.hpp"
#include "config.hpp"

#include <emporium/app/app.hpp>

#include <memory>

namespace emporium::cart {

// The schema of both backends, generated from migrations/ by cmake/EmbedMigrations.cmake.
db::MigrationSet migrations();

// Call after app.open_database(). Calls product-service over HTTP as `config.products` says.
void register_cart_service(App& app, const CartConfig& config);
// The same with another catalog (tests use a fake).
void register_cart_service(App& app, const CartConfig& config,
                           std::shared_ptr<catalog::ProductCatalog> catalog);

}  // namespace emporium::cart
