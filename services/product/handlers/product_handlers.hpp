// The catalog routes of /api/products: create, list, categories, read, update, stock, delete.
#pragma once

#include "catalog.hpp"

#include <emporium/app/app.hpp>

#include <memory>

namespace emporium::product {

void register_product_handlers(App& app, const std::shared_ptr<Catalog>& catalog);

}  // namespace emporium::product
