#include "provider/simulated_provider.hpp"

#include <emporium/util/crypto.hpp>

namespace emporium::payment::provider {

ChargeResult SimulatedProvider::charge(const ChargeRequest& request) {
  std::lock_guard lock(mutex_);
  if (const auto it = charges_.find(request.idempotency_key); it != charges_.end()) {
    return it->second;
  }
  ChargeResult result;
  const std::string& pm = request.payment_method;
  const std::string pi = "pi_sim_" + sha256_hex(request.idempotency_key).substr(0, 24);
  if (pm.rfind("pm_", 0) != 0) {
    result.kind = ChargeResult::Kind::Invalid;
    result.failure_code = "resource_missing";
    result.failure_reason = "No such PaymentMethod: '" + pm + "'";
    return result;  // nothing created: not remembered, as Stripe does not store a 400
  }
  result.provider_payment_id = pi;
  if (pm == "pm_card_chargeDeclined") {
    result.kind = ChargeResult::Kind::Declined;
    result.failure_code = "card_declined";
    result.failure_reason = "generic_decline";
  } else if (pm == "pm_card_chargeDeclinedInsufficientFunds") {
    result.kind = ChargeResult::Kind::Declined;
    result.failure_code = "card_declined";
    result.failure_reason = "insufficient_funds";
  } else if (pm == "pm_card_chargeDeclinedExpiredCard") {
    result.kind = ChargeResult::Kind::Declined;
    result.failure_code = "expired_card";
    result.failure_reason = "expired_card";
  } else if (pm == "pm_card_chargeDeclinedIncorrectCvc") {
    result.kind = ChargeResult::Kind::Declined;
    result.failure_code = "incorrect_cvc";
    result.failure_reason = "incorrect_cvc";
  } else if (pm == "pm_card_authenticationRequired") {
    result.kind = ChargeResult::Kind::RequiresAction;
    result.client_secret = pi + "_secret_" + sha256_hex(pi).substr(0, 16);
  } else {
    result.kind = ChargeResult::Kind::Succeeded;
    charged_[pi] = request.amount;
  }
  charges_[request.idempotency_key] = result;
  return result;
}

RefundResult SimulatedProvider::refund(const std::string& provider_payment_id, std::int64_t amount,
                                       const std::string& idempotency_key) {
  std::lock_guard lock(mutex_);
  if (const auto it = refunds_.find(idempotency_key); it != refunds_.end()) return it->second;
  RefundResult result;
  if (provider_payment_id.rfind("pi_sim_", 0) != 0 || amount <= 0) {
    result.failure_reason = "resource_missing";
    return result;
  }
  // A charge another instance made is unknown here: payment-service's own bookkeeping (a CHECK
  // on the refunded sum) bounds its refunds; a charge made here is bounded here too.
  const auto charged = charged_.find(provider_payment_id);
  std::int64_t& refunded = refunded_[provider_payment_id];
  if (charged != charged_.end() && refunded + amount > charged->second) {
    result.failure_reason =
        refunded >= charged->second ? "charge_already_refunded" : "amount_too_large";
    return result;
  }
  refunded += amount;
  result.succeeded = true;
  result.provider_refund_id = "re_sim_" + sha256_hex(idempotency_key).substr(0, 24);
  refunds_[idempotency_key] = result;
  return result;
}

}  // namespace emporium::payment::provider
