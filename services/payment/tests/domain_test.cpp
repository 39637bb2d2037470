// Pure rules of payment-service: statuses, refund bounds, Stripe's webhook signature, and the
// simulated provider's test payment methods.
#include "domain/payment.hpp"
#include "provider/simulated_provider.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium::payment {
namespace {

using domain::SignatureCheck;
using domain::Status;

constexpr const char* kSecret = "whsec_test_secret";
constexpr std::int64_t kNow = 1'800'000'000;

TEST(PaymentStatus, OnlyOpenPaymentsTakeAnOutcome) {
  for (Status s : {Status::Processing, Status::RequiresAction, Status::Succeeded, Status::Failed,
                   Status::Refunded}) {
    EXPECT_EQ(domain::parse_status(domain::status_name(s)), s);
    const bool open = s == Status::Processing || s == Status::RequiresAction;
    EXPECT_EQ(domain::is_open(s), open);
    EXPECT_EQ(domain::accepts_outcome(s), open);
  }
  EXPECT_FALSE(domain::parse_status("paid"));
}

TEST(PaymentRefunds, RefundableIsWhatIsLeftOfASuccess) {
  domain::Payment p;
  p.amount = 1000;
  p.status = Status::Processing;
  EXPECT_EQ(domain::refundable(p), 0);
  p.status = Status::Succeeded;
  EXPECT_EQ(domain::refundable(p), 1000);
  p.refunded = 400;
  EXPECT_EQ(domain::refundable(p), 600);
  p.refunded = 1000;
  p.status = Status::Refunded;
  EXPECT_EQ(domain::refundable(p), 0);
}

TEST(StripeSignature, AValidSignatureWithinTheToleranceIsAccepted) {
  const std::string body = R"({"id":"evt_1","type":"payment_intent.succeeded"})";
  const std::string header = domain::stripe_signature(body, kSecret, kNow - 10);
  EXPECT_EQ(domain::verify_stripe_signature(header, body, kSecret, kNow), SignatureCheck::Valid);
  // Several v1 (a secret being rolled): any one matching is enough.
  const std::string good = domain::stripe_signature(body, kSecret, kNow);
  const std::string rolled = "t=" + std::to_string(kNow) + ",v1=" + std::string(64, 'a') + "," +
                             good.substr(good.find("v1="));
  EXPECT_EQ(domain::verify_stripe_signature(rolled, body, kSecret, kNow), SignatureCheck::Valid);
}

TEST(StripeSignature, ATamperedBodyAnOldTimestampOrAnotherSecretAreRefused) {
  const std::string body = R"({"id":"evt_1","amount":1000})";
  const std::string header = domain::stripe_signature(body, kSecret, kNow);
  std::string changed = body;
  changed[changed.size() - 2] = '1';  // one byte
  EXPECT_EQ(domain::verify_stripe_signature(header, changed, kSecret, kNow),
            SignatureCheck::NoMatch);
  EXPECT_EQ(domain::verify_stripe_signature(header, body, "whsec_other", kNow),
            SignatureCheck::NoMatch);
  EXPECT_EQ(domain::verify_stripe_signature(header, body, kSecret, kNow + 301),
            SignatureCheck::Expired);
  EXPECT_EQ(domain::verify_stripe_signature(header, body, kSecret, kNow - 301),
            SignatureCheck::Expired);
  EXPECT_EQ(domain::verify_stripe_signature(header, body, kSecret, kNow + 300),
            SignatureCheck::Valid);
  for (const char* bad : {"", "t=,v1=ab", "v1=abc", "t=123", "t=12x,v1=ab", "garbage"}) {
    EXPECT_EQ(domain::verify_stripe_signature(bad, body, kSecret, kNow), SignatureCheck::Malformed)
        << bad;
  }
}

provider::ChargeRequest charge(const std::string& pm, const std::string& key) {
  return {"pay1", "order1", 1999, "usd", pm, key};
}

TEST(SimulatedProvider, FollowsStripesTestPaymentMethods) {
  provider::SimulatedProvider sim;
  using Kind = provider::ChargeResult::Kind;
  EXPECT_EQ(sim.charge(charge("pm_card_visa", "k1")).kind, Kind::Succeeded);
  EXPECT_EQ(sim.charge(charge("pm_card_mastercard", "k2")).kind, Kind::Succeeded);
  const auto declined = sim.charge(charge("pm_card_chargeDeclined", "k3"));
  EXPECT_EQ(declined.kind, Kind::Declined);
  EXPECT_EQ(declined.failure_code, "card_declined");
  EXPECT_EQ(declined.failure_reason, "generic_decline");
  EXPECT_EQ(sim.charge(charge("pm_card_chargeDeclinedInsufficientFunds", "k4")).failure_reason,
            "insufficient_funds");
  EXPECT_EQ(sim.charge(charge("pm_card_chargeDeclinedExpiredCard", "k5")).failure_code,
            "expired_card");
  const auto action = sim.charge(charge("pm_card_authenticationRequired", "k6"));
  EXPECT_EQ(action.kind, Kind::RequiresAction);
  EXPECT_TRUE(action.client_secret);
  EXPECT_EQ(sim.charge(charge("card_visa", "k7")).kind, Kind::Invalid);
}

TEST(SimulatedProvider, ReplaysAKeyAndBoundsRefunds) {
  provider::SimulatedProvider sim;
  const auto first = sim.charge(charge("pm_card_visa", "same"));
  const auto again = sim.charge(charge("pm_card_chargeDeclined", "same"));  // replayed
  EXPECT_EQ(again.kind, provider::ChargeResult::Kind::Succeeded);
  EXPECT_EQ(again.provider_payment_id, first.provider_payment_id);
  const std::string pi = *first.provider_payment_id;
  EXPECT_TRUE(sim.refund(pi, 1000, "r1").succeeded);
  EXPECT_TRUE(sim.refund(pi, 1000, "r1").succeeded);   // the same refund, replayed
  EXPECT_FALSE(sim.refund(pi, 1000, "r2").succeeded);  // 999 left
  EXPECT_TRUE(sim.refund(pi, 999, "r3").succeeded);
  EXPECT_EQ(sim.refund(pi, 1, "r4").failure_reason, "charge_already_refunded");
}

TEST(SimulatedProvider, RefundsAChargeAnotherInstanceMade) {
  provider::SimulatedProvider other_instance;
  EXPECT_TRUE(other_instance.refund("pi_sim_0123456789abcdef01234567", 500, "r1").succeeded);
  EXPECT_EQ(other_instance.refund("pi_3Qreal", 500, "r2").failure_reason, "resource_missing");
  EXPECT_EQ(other_instance.refund("pi_sim_0123456789abcdef01234567", 0, "r3").failure_reason,
            "resource_missing");
}

}  // namespace
}  // namespace emporium::payment
