// The notifications the events produce (DESIGN §12): for each event type a subject, a plain-text
// and an HTML email, and an SMS, with the store's name and money in the order's currency. Pure:
// no I/O, so tests read every word. The notification consumer picks the recipients (the event's
// customer email and phone) and queues what render returns.
//
// - Every value taken from an event is HTML-escaped in the HTML version; the text version and the
//   SMS are plain. Subjects and SMS are one line (control characters become spaces).
// - Money: payment `amount`/`refundedAmount` are minor units; order `totalAmount` and line `price`
//   are major-unit JSON numbers; both are shown as "12.50 USD" (the currency's exponent decides
//   the decimals), in the document's `currency` when it names one, else the store's.
// - SMS: at most kMaxSmsChars characters, with the store's name and the order id.
//
// The event payloads (data of the envelope; the events core defines them):
//   user.registered       {userId, name, email, phone|null}
//   order.placed          {order: ORDER, customer: CUSTOMER}
//   order.status_changed  {order, customer, from, to}  to = Shipped | Delivered | Cancelled |
//                         Expired; Paid, Pending, PaymentFailed (and any other) produce nothing
//   payment.succeeded     {paymentId, orderId, amount, currency, customer, order}
//   payment.failed        … + failureCode, failureMessage (either may be null)
//   payment.refunded      … + refundId, refundedAmount
//   ORDER    {_id, userId, items: [{productId, name, price, quantity}], totalAmount, currency,
//             status, shippingAddress (string, object or null), createdAt, …}
//   CUSTOMER {userId, name, email, phone|null}
#pragma once

#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace emporium::notification::domain {

inline constexpr std::size_t kMaxSmsChars = 320;

struct TemplateContext {
  std::string store_name = "Emporium";
  Currency currency;  // the store's; used when an event names none
};

struct Rendered {
  std::string subject;
  std::string text;
  std::string html;
  std::string sms;
};

// An event whose data lacks a field its template needs, or holds one of the wrong type. The
// message names the field ("data.customer.email is missing"); the consumer treats the event as
// poison (it will never render).
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The notification for `event_type` ("order.placed"), or nullopt for events that notify nobody.
// Throws TemplateError (above).
std::optional<Rendered> render(std::string_view event_type, const Json& data,
                               const TemplateContext& ctx);

// & < > " ' as entities.
std::string html_escape(std::string_view text);

// Minor units as "12.50 USD" (exponent 2) or "1999 JPY" (exponent 0).
std::string format_money(std::int64_t minor, const Currency& currency);

}  // namespace emporium::notification::domain
