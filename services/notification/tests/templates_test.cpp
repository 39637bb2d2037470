// What each event tells the customer: subjects, order lines and totals in the right currency,
// HTML that cannot be broken by a product name, SMS within 320 characters, no notification for
// the events that owe none, and a TemplateError naming the field when an event is malformed.
#include "domain/templates.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emporium::notification::domain {
namespace {

TemplateContext store() {
  TemplateContext ctx;
  ctx.store_name = "Emporium";
  return ctx;
}

Json customer() {
  return {
      {"userId", "u1"}, {"name", "Ada"}, {"email", "ada@example.org"}, {"phone", "+14155552671"}};
}

Json order() {
  return {{"_id", "665f1c2e8a1b2c3d4e5f6a7b"},
          {"userId", "u1"},
          {"items",
           {{{"productId", "p1"}, {"name", "Widget"}, {"price", 12.5}, {"quantity", 2}},
            {{"productId", "p2"}, {"name", "Gadget"}, {"price", 3}, {"quantity", 1}}}},
          {"totalAmount", 28},
          {"currency", "usd"},
          {"status", "Pending"},
          {"shippingAddress", "1 Main St, Springfield"},
          {"createdAt", "2026-01-01T00:00:00.000Z"}};
}

Json payment(Json extra = Json::object()) {
  Json data = {{"paymentId", "pay_1"},   {"orderId", "665f1c2e8a1b2c3d4e5f6a7b"},
               {"amount", 2800},         {"currency", "usd"},
               {"customer", customer()}, {"order", order()}};
  data.update(extra);
  return data;
}

Json status_change(const std::string& to) {
  return {{"order", order()}, {"customer", customer()}, {"from", "Paid"}, {"to", to}};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string error_of(std::string_view type, const Json& data) {
  try {
    render(type, data, store());
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "<no error>";
}

void expect_common(const Rendered& r) {
  EXPECT_FALSE(r.subject.empty());
  EXPECT_LE(r.sms.size(), kMaxSmsChars * 4);
  EXPECT_TRUE(contains(r.sms, "Emporium")) << r.sms;
  EXPECT_TRUE(contains(r.html, "<!DOCTYPE html>"));
  EXPECT_FALSE(contains(r.text, "<p"));
  EXPECT_EQ(r.subject.find_first_of("\r\n"), std::string::npos);
}

TEST(TemplatesTest, OrderPlacedListsLinesTotalAndAddress) {
  const auto r = render("order.placed", {{"order", order()}, {"customer", customer()}}, store());
  ASSERT_TRUE(r);
  expect_common(*r);
  EXPECT_EQ(r->subject, "Emporium: we received your order 665f1c2e8a1b2c3d4e5f6a7b");
  EXPECT_TRUE(contains(r->text, "Hi Ada,"));
  EXPECT_TRUE(contains(r->text, "Widget \xC3\x97 2 \xE2\x80\x94 12.50 USD each")) << r->text;
  EXPECT_TRUE(contains(r->text, "Gadget \xC3\x97 1 \xE2\x80\x94 3.00 USD each")) << r->text;
  EXPECT_TRUE(contains(r->text, "Total: 28.00 USD")) << r->text;
  EXPECT_TRUE(contains(r->text, "Shipping to: 1 Main St, Springfield")) << r->text;
  EXPECT_TRUE(contains(r->html, "28.00 USD"));
  EXPECT_EQ(r->sms, "Emporium: order 665f1c2e8a1b2c3d4e5f6a7b received, total 28.00 USD.");
}

TEST(TemplatesTest, AddressObjectsReadInPostalOrder) {
  Json o = order();
  o["shippingAddress"] = {
      {"country", "US"}, {"city", "Springfield"}, {"street", "1 Main St"}, {"postalCode", "12345"}};
  const auto r = render("order.placed", {{"order", o}, {"customer", customer()}}, store());
  EXPECT_TRUE(contains(r->text, "Shipping to: 1 Main St, Springfield, 12345, US")) << r->text;
  o["shippingAddress"] = nullptr;
  const auto none = render("order.placed", {{"order", o}, {"customer", customer()}}, store());
  EXPECT_FALSE(contains(none->text, "Shipping to"));
}

TEST(TemplatesTest, EveryValueIsEscapedInHtmlAndPlainInText) {
  Json o = order();
  o["items"][0]["name"] = "<script>alert('x')</script> & \"more\"";
  Json c = customer();
  c["name"] = "<b>Eve</b>";
  const auto r = render("order.placed", {{"order", o}, {"customer", c}}, store());
  ASSERT_TRUE(r);
  EXPECT_FALSE(contains(r->html, "<script>"));
  EXPECT_FALSE(contains(r->html, "<b>Eve"));
  EXPECT_TRUE(
      contains(r->html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"))
      << r->html;
  EXPECT_TRUE(contains(r->html, "Hi &lt;b&gt;Eve&lt;/b&gt;,"));
  EXPECT_TRUE(contains(r->text, "<script>alert('x')</script> & \"more\""));
  TemplateContext ctx = store();
  ctx.store_name = "Tom & Jerry's";
  const auto named = render("order.placed", {{"order", order()}, {"customer", customer()}}, ctx);
  EXPECT_TRUE(contains(named->html, "Tom &amp; Jerry&#39;s"));
  EXPECT_FALSE(contains(named->html, "Tom & Jerry"));
}

TEST(TemplatesTest, StatusChangesThatNotify) {
  const auto shipped = render("order.status_changed", status_change("Shipped"), store());
  ASSERT_TRUE(shipped);
  expect_common(*shipped);
  EXPECT_EQ(shipped->subject, "Emporium: your order 665f1c2e8a1b2c3d4e5f6a7b has shipped");
  EXPECT_TRUE(contains(shipped->sms, "665f1c2e8a1b2c3d4e5f6a7b"));

  const auto delivered = render("order.status_changed", status_change("Delivered"), store());
  ASSERT_TRUE(delivered);
  EXPECT_EQ(delivered->subject, "Emporium: your order 665f1c2e8a1b2c3d4e5f6a7b was delivered");

  const auto cancelled = render("order.status_changed", status_change("Cancelled"), store());
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->subject, "Emporium: your order 665f1c2e8a1b2c3d4e5f6a7b was cancelled");
  EXPECT_TRUE(contains(cancelled->text, "refund"));

  const auto expired = render("order.status_changed", status_change("Expired"), store());
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->subject, "Emporium: your order 665f1c2e8a1b2c3d4e5f6a7b expired");
  EXPECT_TRUE(contains(expired->text, "released")) << expired->text;
  EXPECT_TRUE(contains(expired->sms, "expired")) << expired->sms;
}

TEST(TemplatesTest, StatusChangesOwedByPaymentEventsNotifyNobody) {
  for (const char* to : {"Paid", "Pending", "PaymentFailed", "SomethingNew"}) {
    EXPECT_FALSE(render("order.status_changed", status_change(to), store())) << to;
  }
}

TEST(TemplatesTest, UnknownEventsNotifyNobody) {
  EXPECT_FALSE(render("order.paid", status_change("Paid"), store()));
  EXPECT_FALSE(render("product.updated", Json::object(), store()));
  EXPECT_FALSE(render("payment.created", payment(), store()));
}

TEST(TemplatesTest, PaymentReceiptInMinorUnits) {
  const auto r = render("payment.succeeded", payment(), store());
  ASSERT_TRUE(r);
  expect_common(*r);
  EXPECT_EQ(r->subject, "Emporium: payment received for order 665f1c2e8a1b2c3d4e5f6a7b");
  EXPECT_TRUE(contains(r->text, "Amount: 28.00 USD")) << r->text;
  EXPECT_TRUE(contains(r->text, "Payment: pay_1"));
  EXPECT_TRUE(contains(r->text, "Widget"));
  EXPECT_EQ(r->sms, "Emporium: payment of 28.00 USD received for order 665f1c2e8a1b2c3d4e5f6a7b.");
}

TEST(TemplatesTest, ZeroDecimalCurrencies) {
  Json o = order();
  o["currency"] = "jpy";
  o["items"] = {{{"productId", "p1"}, {"name", "Tea"}, {"price", 1999}, {"quantity", 1}}};
  o["totalAmount"] = 1999;
  const auto r = render("payment.succeeded",
                        payment({{"amount", 1999}, {"currency", "jpy"}, {"order", o}}), store());
  ASSERT_TRUE(r);
  EXPECT_TRUE(contains(r->text, "Amount: 1999 JPY")) << r->text;
  EXPECT_TRUE(contains(r->text, "Total: 1999 JPY")) << r->text;
}

TEST(TemplatesTest, PaymentFailedSaysWhyAndHowToRetry) {
  const auto r = render(
      "payment.failed",
      payment({{"failureCode", "card_declined"}, {"failureMessage", "Your card was declined."}}),
      store());
  ASSERT_TRUE(r);
  expect_common(*r);
  EXPECT_TRUE(contains(r->text, "did not go through: Your card was declined.")) << r->text;
  EXPECT_TRUE(contains(r->text, "pay again"));
  const auto code_only =
      render("payment.failed",
             payment({{"failureCode", "card_declined"}, {"failureMessage", nullptr}}), store());
  EXPECT_TRUE(contains(code_only->text, "card_declined"));
  const auto neither = render(
      "payment.failed", payment({{"failureCode", nullptr}, {"failureMessage", nullptr}}), store());
  EXPECT_TRUE(contains(neither->text, "the payment was declined"));
}

TEST(TemplatesTest, Refund) {
  const auto r = render("payment.refunded",
                        payment({{"refundId", "re_1"}, {"refundedAmount", 1250}}), store());
  ASSERT_TRUE(r);
  expect_common(*r);
  EXPECT_TRUE(contains(r->text, "We refunded 12.50 USD of your payment")) << r->text;
  EXPECT_TRUE(contains(r->text, "Refund: re_1"));
  EXPECT_EQ(error_of("payment.refunded", payment()), "data.refundId is missing");
}

TEST(TemplatesTest, Welcome) {
  const auto r =
      render("user.registered",
             {{"userId", "u1"}, {"name", "Ada"}, {"email", "ada@example.org"}, {"phone", nullptr}},
             store());
  ASSERT_TRUE(r);
  expect_common(*r);
  EXPECT_EQ(r->subject, "Welcome to Emporium");
  EXPECT_TRUE(contains(r->text, "ada@example.org"));
}

TEST(TemplatesTest, MalformedEventsNameTheField) {
  Json c = customer();
  c.erase("email");
  EXPECT_EQ(error_of("order.placed", {{"order", order()}, {"customer", c}}),
            "data.customer.email is missing");
  EXPECT_EQ(error_of("order.placed", {{"order", order()}}), "data.customer is missing");
  Json o = order();
  o["items"][1]["price"] = "3";
  EXPECT_EQ(error_of("order.placed", {{"order", o}, {"customer", customer()}}),
            "data.order.items[1].price must be a price in major units");
  o = order();
  o["items"][0]["quantity"] = 0;
  EXPECT_EQ(error_of("order.placed", {{"order", o}, {"customer", customer()}}),
            "data.order.items[0].quantity must be a positive integer");
  o = order();
  o.erase("_id");
  EXPECT_EQ(
      error_of("order.status_changed", {{"order", o}, {"customer", customer()}, {"to", "Shipped"}}),
      "data.order._id is missing");
  EXPECT_EQ(error_of("order.status_changed", {{"order", order()}, {"customer", customer()}}),
            "data.to is missing");
  EXPECT_EQ(error_of("payment.succeeded", payment({{"amount", 12.5}})),
            "data.amount must be a non-negative integer (minor units)");
  EXPECT_EQ(error_of("payment.succeeded", payment({{"currency", "xx"}})),
            "data.currency must be an ISO 4217 code with 0 or 2 decimals");
  EXPECT_EQ(error_of("user.registered", {{"userId", "u1"}, {"name", "Ada"}}),
            "data.email is missing");
  EXPECT_EQ(error_of("order.placed", Json::array()), "data must be an object");
}

TEST(TemplatesTest, SmsStaysWithin320CharactersOnOneLine) {
  TemplateContext ctx = store();
  ctx.store_name = std::string(200, 'S');
  const auto r =
      render("payment.failed",
             payment({{"failureCode", nullptr},
                      {"failureMessage", "line one\nline two " + std::string(300, 'x')}}),
             ctx);
  ASSERT_TRUE(r);
  std::size_t chars = 0;
  for (char c : r->sms) chars += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
  EXPECT_EQ(chars, kMaxSmsChars);
  EXPECT_EQ(r->sms.substr(r->sms.size() - 3), "\xE2\x80\xA6");
  EXPECT_EQ(r->sms.find('\n'), std::string::npos);
  EXPECT_EQ(r->subject.find('\n'), std::string::npos);
}

TEST(TemplatesTest, MoneyFormatting) {
  EXPECT_EQ(format_money(1250, Currency{"usd", 2}), "12.50 USD");
  EXPECT_EQ(format_money(5, Currency{"eur", 2}), "0.05 EUR");
  EXPECT_EQ(format_money(0, Currency{"usd", 2}), "0.00 USD");
  EXPECT_EQ(format_money(1999, Currency{"jpy", 0}), "1999 JPY");
  EXPECT_EQ(format_money(9999999999, Currency{"usd", 2}), "99999999.99 USD");
}

TEST(TemplatesTest, HtmlEscape) {
  EXPECT_EQ(html_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  EXPECT_EQ(html_escape("caf\xC3\xA9"), "caf\xC3\xA9");
}

}  // namespace
}  // namespace emporium::notification::domain
