// A payment and its life (DESIGN §12), pure: statuses, what a provider's answer makes of a
// payment, refund bounds, and the Stripe webhook signature check. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::payment::domain {

// processing: created, the provider asked (or about to be); its outcome may be unknown.
// requires_action: the customer must authenticate (3-D Secure); a webhook finishes it.
// succeeded / failed: final for the charge; refunds do not change the status (`refunded` sums
// them), except that a payment refunded in full reads `refunded`.
enum class Status { Processing, RequiresAction, Succeeded, Failed, Refunded };

std::string_view status_name(Status status);
std::optional<Status> parse_status(std::string_view text);
// Processing and RequiresAction: at most one such payment per order (a unique index).
bool is_open(Status status);
// Whether a provider outcome may still change a payment in `status`: an open payment takes
// succeeded or failed; a final one keeps what it has (a late or repeated event changes nothing).
bool accepts_outcome(Status status);

struct Payment {
  std::string id;
  std::string order_id;
  std::string user_id;
  std::int64_t amount = 0;  // minor units
  std::string currency;
  Status status = Status::Processing;
  std::string payment_method;                      // the client's paymentMethodId (pm_card_visa)
  std::optional<std::string> provider_payment_id;  // pi_…
  std::optional<std::string> client_secret;        // requires_action only
  std::optional<std::string> failure_code;         // card_declined, expired_card, …
  std::optional<std::string> failure_reason;       // decline_code or message
  std::int64_t refunded = 0;                       // minor units refunded so far
  bool order_settled = false;  // order-service acknowledged Paid (or refused: then refunded)
  std::optional<std::int64_t> paid_at_ms;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t version = 0;
  // {"order", "customer"} as order-service answered when the payment was made (JSON text): what
  // the payment's events carry.
  std::optional<std::string> order_snapshot;
};

struct Refund {
  std::string id;
  std::string payment_id;
  std::int64_t amount = 0;
  std::string status;  // pending, succeeded, failed
  std::optional<std::string> provider_refund_id;
  std::optional<std::string> reason;
  std::int64_t created_at_ms = 0;
};

// The largest refund `payment` can still take: its amount minus what was refunded.
std::int64_t refundable(const Payment& payment);

// Stripe's webhook signature (DESIGN §12): `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=…]`,
// each v1 an HMAC-SHA256 of "<t>.<raw body>" under the endpoint secret. Valid when any v1 matches
// (constant-time) and |now - t| ≤ tolerance_s.
enum class SignatureCheck { Valid, Malformed, NoMatch, Expired };
SignatureCheck verify_stripe_signature(std::string_view header, std::string_view body,
                                       std::string_view secret, std::int64_t now_s,
                                       std::int64_t tolerance_s = 300);
// The header a sender would put on `body` at `t` (tests and the simulated provider).
std::string stripe_signature(std::string_view body, std::string_view secret, std::int64_t t);

}  // namespace emporium::payment::domain
