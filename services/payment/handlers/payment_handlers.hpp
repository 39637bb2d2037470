// The /api/payments routes. Each is thin: ownership and path checks, the body's fields, one
// Payments call, the document back.
#pragma once

#include "config.hpp"
#include "payments.hpp"

#include <emporium/app/app.hpp>
#include <emporium/idempotency/idempotency.hpp>

#include <memory>

namespace emporium::payment {

void register_payment_handlers(App& app, const std::shared_ptr<Payments>& payments,
                               const std::shared_ptr<idempotency::Idempotency>& idempotency,
                               const PaymentConfig& config);

}  // namespace emporium::payment
