// The simulated provider (DESIGN §12), used when STRIPE_SECRET_KEY is unset (the local default):
// in-process, no network, Stripe's test payment methods with Stripe's codes —
//   pm_card_visa, pm_card_mastercard (and any pm_card_* not listed below) succeed;
//   pm_card_chargeDeclined → card_declined / generic_decline;
//   pm_card_chargeDeclinedInsufficientFunds → card_declined / insufficient_funds;
//   pm_card_chargeDeclinedExpiredCard → expired_card / expired_card;
//   pm_card_chargeDeclinedIncorrectCvc → incorrect_cvc / incorrect_cvc;
//   pm_card_authenticationRequired → requires_action with a client secret.
// Anything not starting with `pm_` is refused (Invalid, resource_missing). Charges and refunds are
// remembered per idempotency key for the life of the process, like Stripe's replay; being
// in-process, each instance has its own memory, so a refund of a charge another instance made is
// accepted and bounded by payment-service's own bookkeeping.
#pragma once

#include "provider/provider.hpp"

#include <map>
#include <mutex>
#include <string>

namespace emporium::payment::provider {

class SimulatedProvider : public Provider {
 public:
  ChargeResult charge(const ChargeRequest& request) override;
  RefundResult refund(const std::string& provider_payment_id, std::int64_t amount,
                      const std::string& idempotency_key) override;
  const char* name() const override { return "simulated"; }

 private:
  std::mutex mutex_;
  std::map<std::string, ChargeResult> charges_;   // by idempotency key
  std::map<std::string, std::int64_t> charged_;   // amount by PaymentIntent id
  std::map<std::string, std::int64_t> refunded_;  // by PaymentIntent id
  std::map<std::string, RefundResult> refunds_;   // by idempotency key
};

}  // namespace emporium::payment::provider
