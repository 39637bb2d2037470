// The order's pure rules: the transition table of DESIGN §12 (every pair of statuses), names,
// and the checked total.
#include "domain/order.hpp"

#include <emporium/money/arithmetic.hpp>

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace emporium::order::domain {
namespace {

constexpr Status kAll[] = {Status::Pending,   Status::Paid,      Status::Shipped,
                           Status::Delivered, Status::Cancelled, Status::PaymentFailed,
                           Status::Expired};

TEST(OrderStatus, TheTableAllowsExactlyTheDesignedTransitions) {
  const std::set<std::pair<Status, Status>> allowed = {
      {Status::Pending, Status::Paid},          {Status::Pending, Status::Cancelled},
      {Status::Pending, Status::PaymentFailed}, {Status::Pending, Status::Expired},
      {Status::PaymentFailed, Status::Pending}, {Status::PaymentFailed, Status::Cancelled},
      {Status::PaymentFailed, Status::Expired}, {Status::Paid, Status::Shipped},
      {Status::Paid, Status::Cancelled},        {Status::Shipped, Status::Delivered},
  };
  for (Status from : kAll) {
    for (Status to : kAll) {
      EXPECT_EQ(can_transition(from, to), allowed.count({from, to}) == 1)
          << status_name(from) << " -> " << status_name(to);
    }
  }
}

TEST(OrderStatus, FinalStatusesAndUnpaidOnes) {
  for (Status s : kAll) {
    const bool final = s == Status::Delivered || s == Status::Cancelled || s == Status::Expired;
    EXPECT_EQ(is_final(s), final) << status_name(s);
    EXPECT_EQ(is_unpaid(s), s == Status::Pending || s == Status::PaymentFailed) << status_name(s);
  }
}

TEST(OrderStatus, NamesRoundTripAndUnknownNamesAreRefused) {
  for (Status s : kAll) EXPECT_EQ(parse_status(status_name(s)), s);
  EXPECT_FALSE(parse_status("pending"));
  EXPECT_FALSE(parse_status(""));
  EXPECT_EQ(status_list(), "Pending, Paid, Shipped, Delivered, Cancelled, PaymentFailed, Expired");
}

TEST(OrderStatus, ARefusedTransitionIs409NamingBothStates) {
  const HttpError e = transition_refused(Status::Delivered, Status::Pending);
  EXPECT_EQ(e.status(), 409);
  EXPECT_EQ(e.code(), "transition_not_allowed");
  EXPECT_NE(e.detail().find("Delivered"), std::string::npos);
  EXPECT_NE(e.detail().find("Pending"), std::string::npos);
  EXPECT_EQ(e.extra()["from"], "Delivered");
  EXPECT_EQ(e.extra()["to"], "Pending");
}

TEST(OrderTotal, SumsPriceTimesQuantityExactly) {
  EXPECT_EQ(total_of({}), 0);
  EXPECT_EQ(total_of({{"a", "A", 1999, 3}, {"b", "B", 1, 1000}}), 1999 * 3 + 1000);
  EXPECT_THROW(total_of({{"a", "A", INT64_MAX / 2, 3}}), MoneyOverflow);
}

}  // namespace
}  // namespace emporium::order::domain
