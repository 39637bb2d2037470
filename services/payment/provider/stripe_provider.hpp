// Stripe over its REST wire protocol (DESIGN §12), through the core's external HTTP policy:
// form-encoded bodies, `Authorization: Bearer sk_…`, a pinned `Stripe-Version`, an
// `Idempotency-Key` on every POST. Base URL from STRIPE_API_BASE (tests use a fake on loopback).
//
// What an answer means: 200 a PaymentIntent (`succeeded`, `requires_action` with its client
// secret; any other status is read as declined with that status); 402 a card error (declined,
// with Stripe's `code` and `decline_code`); another 4xx a request Stripe refused (Invalid, with
// its message; e.g. an unknown payment method). 409 (the key in use by a concurrent request) and
// 429: http::ProviderError 503, outcome unknown. 5xx and no answer: http::ProviderError.
#pragma once

#include "provider/provider.hpp"

#include <emporium/http/external_client.hpp>

#include <string>

namespace emporium::payment::provider {

inline constexpr const char* kStripeVersion = "2024-06-20";

class StripeProvider : public Provider {
 public:
  explicit StripeProvider(http::ExternalClient client);

  ChargeResult charge(const ChargeRequest& request) override;
  RefundResult refund(const std::string& provider_payment_id, std::int64_t amount,
                      const std::string& idempotency_key) override;
  const char* name() const override { return "stripe"; }

  const http::ExternalClient& client() const { return client_; }

 private:
  http::ExternalClient client_;
};

}  // namespace emporium::payment::provider
