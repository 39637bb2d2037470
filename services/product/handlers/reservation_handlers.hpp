// The internal stock routes (X-Internal-Token only; the gateway refuses them from outside):
// reservations for order-service and the seed's PUT /:id/deduct.
#pragma once

#include "catalog.hpp"

#include <emporium/app/app.hpp>

#include <memory>

namespace emporium::product {

// Counter of reservation outcomes, labelled `result`.
inline constexpr const char* kReservationsMetric = "product_reservations_total";

void register_reservation_handlers(App& app, const std::shared_ptr<Catalog>& catalog);

}  // namespace emporium::product
