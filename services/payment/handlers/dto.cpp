#include "handlers/dto.hpp"

#include <emporium/util/time.hpp>

namespace emporium::payment::dto {
namespace {

Json optional_text(const std::optional<std::string>& value) {
  return value ? Json(*value) : Json(nullptr);
}

}  // namespace

Json refund_json(const domain::Refund& refund) {
  return Json{{"_id", refund.id},
              {"paymentId", refund.payment_id},
              {"amount", refund.amount},
              {"status", refund.status},
              {"providerRefundId", optional_text(refund.provider_refund_id)},
              {"reason", optional_text(refund.reason)},
              {"createdAt", iso8601(refund.created_at_ms)}};
}

Json payment_json(const domain::Payment& p, const std::vector<domain::Refund>& refunds) {
  Json refund_list = Json::array();
  for (const auto& r : refunds) refund_list.push_back(refund_json(r));
  Json out = Json::object();
  out["_id"] = p.id;
  out["orderId"] = p.order_id;
  out["userId"] = p.user_id;
  out["amount"] = p.amount;
  out["currency"] = p.currency;
  out["status"] = std::string(domain::status_name(p.status));
  out["paymentMethod"] = "stripe";
  out["paymentMethodId"] = p.payment_method;
  out["providerPaymentId"] = optional_text(p.provider_payment_id);
  out["failureCode"] = p.status == domain::Status::Failed ? optional_text(p.failure_code) : nullptr;
  out["failureReason"] =
      p.status == domain::Status::Failed ? optional_text(p.failure_reason) : nullptr;
  out["clientSecret"] =
      p.status == domain::Status::RequiresAction ? optional_text(p.client_secret) : nullptr;
  out["paymentDate"] = p.paid_at_ms ? Json(iso8601(*p.paid_at_ms)) : Json(nullptr);
  out["refunded"] = p.refunded;
  out["refunds"] = std::move(refund_list);
  out["createdAt"] = iso8601(p.created_at_ms);
  out["updatedAt"] = iso8601(p.updated_at_ms);
  out["__v"] = p.version;
  return out;
}

}  // namespace emporium::payment::dto
