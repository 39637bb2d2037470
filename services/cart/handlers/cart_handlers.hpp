// The /api/cart routes. Each is thin: ownership and path checks, the body's fields, one Carts call,
// the cart document back.
#pragma once

#include "carts.hpp"

#include <emporium/app/app.hpp>
#include <emporium/money/currency.hpp>

#include <memory>

namespace emporium::cart {

// Cart documents price in `currency`, the store's.
void register_cart_handlers(App& app, const std::shared_ptr<Carts>& carts,
                            const Currency& currency);

}  // namespace emporium::cart
