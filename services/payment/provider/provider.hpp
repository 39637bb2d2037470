// The payment provider as payment-service uses it: create-and-confirm a charge, refund one. Two
// implementations: Stripe over its REST wire protocol (stripe_provider.hpp) and the in-process
// simulated provider used when STRIPE_SECRET_KEY is unset (simulated_provider.hpp).
//
// Both de-duplicate by the idempotency key the caller passes (derived from the payment or refund
// id), so a call repeated after a crash or a lost answer has at most one effect. A call the
// provider did not answer throws http::ProviderError (502/504; 503 while its breaker is open).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace emporium::payment::provider {

struct ChargeRequest {
  std::string payment_id;
  std::string order_id;
  std::int64_t amount = 0;  // minor units
  std::string currency;
  std::string payment_method;
  std::string idempotency_key;
};

struct ChargeResult {
  enum class Kind { Succeeded, RequiresAction, Declined, Invalid };
  Kind kind = Kind::Declined;
  std::optional<std::string> provider_payment_id;  // pi_…
  std::optional<std::string> client_secret;        // RequiresAction
  std::string failure_code;                        // Declined/Invalid: card_declined, …
  std::string failure_reason;                      // decline_code, or the provider's message
};

struct RefundResult {
  bool succeeded = false;
  std::optional<std::string> provider_refund_id;
  std::string failure_reason;  // when refused (already refunded, amount too large, …)
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual ChargeResult charge(const ChargeRequest& request) = 0;
  virtual RefundResult refund(const std::string& provider_payment_id, std::int64_t amount,
                              const std::string& idempotency_key) = 0;
  virtual const char* name() const = 0;  // "stripe", "simulated"
};

}  // namespace emporium::payment::provider
