// The /api/orders routes. Each is thin: ownership and path checks, the body's fields, one Orders
// call, the order document back.
#pragma once

#include "orders.hpp"

#include <emporium/app/app.hpp>
#include <emporium/idempotency/idempotency.hpp>
#include <emporium/money/currency.hpp>

#include <memory>

namespace emporium::order {

void register_order_handlers(App& app, const std::shared_ptr<Orders>& orders,
                             const std::shared_ptr<idempotency::Idempotency>& idempotency,
                             const Currency& currency);

}  // namespace emporium::order
