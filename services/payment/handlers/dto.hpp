// The wire format of payment-service: the payment and refund documents (API.md), and the
// webhook's signature header.
#pragma once

#include "domain/payment.hpp"

#include <emporium/http/message.hpp>
#include <emporium/json/json.hpp>

#include <vector>

namespace emporium::payment::dto {

// {"_id","orderId","userId","amount","currency","status","paymentMethod":"stripe",
//  "paymentMethodId","providerPaymentId","failureReason","failureCode","clientSecret",
//  "paymentDate","refunded","refunds":[…],"createdAt","updatedAt","__v"}; amounts in minor units.
Json payment_json(const domain::Payment& payment, const std::vector<domain::Refund>& refunds);
// {"_id","paymentId","amount","status","providerRefundId","reason","createdAt"}
Json refund_json(const domain::Refund& refund);

}  // namespace emporium::payment::dto
