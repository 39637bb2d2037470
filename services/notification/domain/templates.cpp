#include "domain/templates.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace emporium::notification::domain {
namespace {

// ---- Reading the event ------------------------------------------------------------------------

[[noreturn]] void bad(const std::string& path, const char* what) {
  throw TemplateError(path + " " + what);
}

const Json* member(const Json& object, const std::string& path, const char* key) {
  if (!object.is_object()) bad(path, "must be an object");
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string required_string(const Json& object, const std::string& path, const char* key) {
  const Json* value = member(object, path, key);
  const std::string name = path + "." + key;
  if (value == nullptr) bad(name, "is missing");
  if (!value->is_string()) bad(name, "must be a string");
  if (value->get_ref<const std::string&>().empty()) bad(name, "must not be empty");
  return value->get<std::string>();
}

std::optional<std::string> optional_string(const Json& object, const std::string& path,
                                           const char* key) {
  const Json* value = member(object, path, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) bad(path + "." + key, "must be a string");
  return value->get<std::string>();
}

const Json& required_object(const Json& object, const std::string& path, const char* key) {
  const Json* value = member(object, path, key);
  const std::string name = path + "." + key;
  if (value == nullptr) bad(name, "is missing");
  if (!value->is_object()) bad(name, "must be an object");
  return *value;
}

std::int64_t required_minor(const Json& object, const std::string& path, const char* key) {
  const Json* value = member(object, path, key);
  const std::string name = path + "." + key;
  if (value == nullptr) bad(name, "is missing");
  if (!value->is_number_integer() || value->get<std::int64_t>() < 0) {
    bad(name, "must be a non-negative integer (minor units)");
  }
  return value->get<std::int64_t>();
}

std::int64_t required_price(const Json& object, const std::string& path, const char* key,
                            const Currency& currency) {
  const Json* value = member(object, path, key);
  const std::string name = path + "." + key;
  if (value == nullptr) bad(name, "is missing");
  const auto minor = price_from_json(*value, currency);
  if (!minor) bad(name, "must be a price in major units");
  return *minor;
}

// The document's `currency` when it names a known one, else the store's.
Currency currency_of(const Json& object, const std::string& path, const TemplateContext& ctx) {
  const auto code = optional_string(object, path, "currency");
  if (!code) return ctx.currency;
  const auto currency = currency_from_code(*code);
  if (!currency) bad(path + ".currency", "must be an ISO 4217 code with 0 or 2 decimals");
  return *currency;
}

struct Customer {
  std::string name;  // may be empty
  std::string email;
};

Customer read_customer(const Json& data) {
  const Json& c = required_object(data, "data", "customer");
  return {optional_string(c, "data.customer", "name").value_or(""),
          required_string(c, "data.customer", "email")};
}

struct Line {
  std::string name;
  std::int64_t quantity = 0;
  std::int64_t price = 0;  // minor units, one item
};

struct Order {
  std::string id;
  Currency currency;
  std::vector<Line> lines;
  std::int64_t total = 0;
  std::string shipping;  // one line; empty when none
};

std::string address_text(const Json& address, const std::string& path) {
  if (address.is_string()) return address.get<std::string>();
  if (!address.is_object()) bad(path, "must be a string, an object or null");
  // The usual postal fields in reading order, then any other text members.
  static constexpr const char* kOrder[] = {"name",       "street", "line1",   "line2",
                                           "address",    "city",   "state",   "region",
                                           "postalCode", "zip",    "zipCode", "country"};
  std::vector<std::string> parts;
  std::vector<std::string> used;
  for (const char* key : kOrder) {
    const auto it = address.find(key);
    if (it != address.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      parts.push_back(it->get<std::string>());
    }
    used.emplace_back(key);
  }
  for (const auto& [key, value] : address.items()) {
    if (std::find(used.begin(), used.end(), key) != used.end()) continue;
    if (value.is_string() && !value.get_ref<const std::string&>().empty()) {
      parts.push_back(value.get<std::string>());
    }
  }
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ", ") + part;
  return out;
}

Order read_order(const Json& data, const TemplateContext& ctx) {
  const std::string path = "data.order";
  const Json& o = required_object(data, "data", "order");
  Order order;
  order.id = required_string(o, path, "_id");
  order.currency = currency_of(o, path, ctx);
  const Json* items = member(o, path, "items");
  if (items == nullptr) bad(path + ".items", "is missing");
  if (!items->is_array()) bad(path + ".items", "must be an array");
  for (std::size_t i = 0; i < items->size(); ++i) {
    const std::string item_path = path + ".items[" + std::to_string(i) + "]";
    const Json& item = (*items)[i];
    if (!item.is_object()) bad(item_path, "must be an object");
    Line line;
    line.name = required_string(item, item_path, "name");
    const Json* quantity = member(item, item_path, "quantity");
    if (quantity == nullptr) bad(item_path + ".quantity", "is missing");
    if (!quantity->is_number_integer() || quantity->get<std::int64_t>() < 1) {
      bad(item_path + ".quantity", "must be a positive integer");
    }
    line.quantity = quantity->get<std::int64_t>();
    line.price = required_price(item, item_path, "price", order.currency);
    order.lines.push_back(std::move(line));
  }
  order.total = required_price(o, path, "totalAmount", order.currency);
  if (const Json* address = member(o, path, "shippingAddress")) {
    order.shipping = address_text(*address, path + ".shippingAddress");
  }
  return order;
}

// ---- Writing the notification -----------------------------------------------------------------

// One document rendered twice (text and HTML), so the two versions cannot drift apart.
struct Block {
  enum class Kind { Paragraph, Lines, Fields };
  Kind kind = Kind::Paragraph;
  std::string text;  // Paragraph
  std::vector<std::pair<std::string, std::string>>
      rows;           // Lines: (item, price); Fields: (label, value)
  std::string total;  // Lines
};

struct Document {
  std::string subject;
  std::string heading;
  std::vector<Block> blocks;
  std::string sms;

  Document& paragraph(std::string text) {
    blocks.push_back({Block::Kind::Paragraph, std::move(text), {}, {}});
    return *this;
  }
  Document& fields(std::vector<std::pair<std::string, std::string>> rows) {
    blocks.push_back({Block::Kind::Fields, {}, std::move(rows), {}});
    return *this;
  }
  Document& lines(const Order& order) {
    Block b{Block::Kind::Lines, {}, {}, format_money(order.total, order.currency)};
    for (const auto& line : order.lines) {
      b.rows.emplace_back(line.name + " \xC3\x97 " + std::to_string(line.quantity),
                          format_money(line.price, order.currency) + " each");
    }
    blocks.push_back(std::move(b));
    return *this;
  }
};

// Control characters (line breaks included) as spaces: for subjects and SMS.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) c = ' ';
  }
  return out;
}

// At most kMaxSmsChars code points, cut on a character boundary with "…" when shortened.
std::string clamp_sms(std::string text) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0U) == 0x80U) continue;
    if (++chars == kMaxSmsChars) {
      // Keep kMaxSmsChars - 1 characters and the ellipsis, if anything follows this one.
      std::size_t end = i + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) ++end;
      if (end < text.size()) return text.substr(0, i) + "\xE2\x80\xA6";
      return text;
    }
  }
  return text;
}

std::string greeting(const std::string& name) {
  return name.empty() ? "Hello," : "Hi " + name + ",";
}

std::string render_text(const Document& doc, const TemplateContext& ctx) {
  std::string out;
  for (const auto& block : doc.blocks) {
    switch (block.kind) {
      case Block::Kind::Paragraph: out += block.text + "\n\n"; break;
      case Block::Kind::Fields:
        for (const auto& [label, value] : block.rows) out += label + ": " + value + "\n";
        out += "\n";
        break;
      case Block::Kind::Lines:
        for (const auto& [item, price] : block.rows)
          out += "  - " + item + " \xE2\x80\x94 " + price + "\n";
        out += "  Total: " + block.total + "\n\n";
        break;
    }
  }
  return out + "\xE2\x80\x94 " + ctx.store_name + "\n";
}

constexpr const char* kCell = "padding:6px 0;border-bottom:1px solid #e4e4e7;";

std::string render_html(const Document& doc, const TemplateContext& ctx) {
  std::string body;
  for (const auto& block : doc.blocks) {
    switch (block.kind) {
      case Block::Kind::Paragraph:
        body += "<p style=\"margin:0 0 16px;\">" + html_escape(block.text) + "</p>\n";
        break;
      case Block::Kind::Fields:
        body +=
            "<table role=\"presentation\" style=\"margin:0 0 16px;border-collapse:collapse;\">\n";
        for (const auto& [label, value] : block.rows) {
          body += "<tr><td style=\"padding:2px 16px 2px 0;color:#71717a;\">" + html_escape(label) +
                  "</td><td style=\"padding:2px 0;\">" + html_escape(value) + "</td></tr>\n";
        }
        body += "</table>\n";
        break;
      case Block::Kind::Lines:
        body +=
            "<table role=\"presentation\" width=\"100%\" style=\"margin:0 0 16px;"
            "border-collapse:collapse;\">\n";
        for (const auto& [item, price] : block.rows) {
          body += "<tr><td style=\"" + std::string(kCell) + "\">" + html_escape(item) +
                  "</td><td style=\"" + kCell + "text-align:right;\">" + html_escape(price) +
                  "</td></tr>\n";
        }
        body +=
            "<tr><td style=\"padding:8px 0;font-weight:bold;\">Total</td>"
            "<td style=\"padding:8px 0;font-weight:bold;text-align:right;\">" +
            html_escape(block.total) + "</td></tr>\n</table>\n";
        break;
    }
  }
  const std::string store = html_escape(ctx.store_name);
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(doc.subject) +
         "</title></head>\n"
         "<body style=\"margin:0;padding:0;background:#f4f4f5;\">\n"
         "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" "
         "style=\"background:#f4f4f5;padding:24px 0;\"><tr><td align=\"center\">\n"
         "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" "
         "style=\"max-width:600px;background:#ffffff;border-radius:8px;"
         "font-family:Arial,Helvetica,sans-serif;color:#18181b;font-size:15px;line-height:1.5;\">\n"
         "<tr><td style=\"padding:20px 32px;border-bottom:1px solid #e4e4e7;font-size:20px;"
         "font-weight:bold;\">" +
         store +
         "</td></tr>\n"
         "<tr><td style=\"padding:24px 32px;\">\n<h1 style=\"margin:0 0 16px;font-size:18px;\">" +
         html_escape(doc.heading) + "</h1>\n" + body +
         "</td></tr>\n"
         "<tr><td style=\"padding:16px 32px;font-size:12px;color:#71717a;\">" +
         store + "</td></tr>\n</table>\n</td></tr></table>\n</body></html>\n";
}

Rendered finish(Document doc, const TemplateContext& ctx) {
  doc.subject = one_line(doc.subject);
  Rendered out;
  out.text = render_text(doc, ctx);
  out.html = render_html(doc, ctx);
  out.sms = clamp_sms(one_line(doc.sms));
  out.subject = std::move(doc.subject);
  return out;
}

// ---- The templates ----------------------------------------------------------------------------

Rendered user_registered(const Json& data, const TemplateContext& ctx) {
  required_string(data, "data", "userId");
  const std::string name = required_string(data, "data", "name");
  const std::string email = required_string(data, "data", "email");
  const std::string& store = ctx.store_name;
  Document doc;
  doc.subject = "Welcome to " + store;
  doc.heading = "Welcome to " + store;
  doc.paragraph(greeting(name))
      .paragraph("Your " + store + " account is ready. Sign in with " + email +
                 " to browse the catalog, fill your cart and follow your orders.")
      .paragraph("If you did not create this account, reply to this email and we will close it.");
  doc.sms = store + ": welcome, " + name + "! Your account is ready.";
  return finish(std::move(doc), ctx);
}

void add_shipping(Document& doc, const Order& order) {
  if (!order.shipping.empty()) doc.fields({{"Shipping to", order.shipping}});
}

Rendered order_placed(const Json& data, const TemplateContext& ctx) {
  const Customer customer = read_customer(data);
  const Order order = read_order(data, ctx);
  const std::string total = format_money(order.total, order.currency);
  Document doc;
  doc.subject = ctx.store_name + ": we received your order " + order.id;
  doc.heading = "Thank you for your order";
  doc.paragraph(greeting(customer.name))
      .paragraph("We received your order " + order.id + ". Here is what you ordered:")
      .lines(order);
  add_shipping(doc, order);
  doc.paragraph(
      "Your order is confirmed once it is paid; unpaid orders expire and their items are "
      "released. We will write again when it ships.");
  doc.sms = ctx.store_name + ": order " + order.id + " received, total " + total + ".";
  return finish(std::move(doc), ctx);
}

std::optional<Rendered> order_status_changed(const Json& data, const TemplateContext& ctx) {
  const std::string to = required_string(data, "data", "to");
  if (to != "Shipped" && to != "Delivered" && to != "Cancelled" && to != "Expired") {
    return std::nullopt;  // Paid/PaymentFailed: payment events notify; Pending: nothing to say
  }
  const Customer customer = read_customer(data);
  const Order order = read_order(data, ctx);
  const std::string& store = ctx.store_name;
  Document doc;
  doc.paragraph(greeting(customer.name));
  if (to == "Shipped") {
    doc.subject = store + ": your order " + order.id + " has shipped";
    doc.heading = "Your order is on its way";
    doc.paragraph("Your order " + order.id + " has shipped.").lines(order);
    add_shipping(doc, order);
    doc.sms = store + ": your order " + order.id + " has shipped.";
  } else if (to == "Delivered") {
    doc.subject = store + ": your order " + order.id + " was delivered";
    doc.heading = "Your order was delivered";
    doc.paragraph("Your order " + order.id +
                  " was delivered. We hope you enjoy it; reply to this email if anything is "
                  "wrong with it.");
    doc.sms = store + ": your order " + order.id + " was delivered.";
  } else if (to == "Cancelled") {
    doc.subject = store + ": your order " + order.id + " was cancelled";
    doc.heading = "Your order was cancelled";
    doc.paragraph("Your order " + order.id + " was cancelled.").lines(order);
    doc.paragraph(
        "If you had paid for it, the payment is refunded and you will receive a separate "
        "refund confirmation.");
    doc.sms = store + ": your order " + order.id + " was cancelled.";
  } else {
    doc.subject = store + ": your order " + order.id + " expired";
    doc.heading = "Your order expired";
    doc.paragraph("Your order " + order.id +
                  " was not paid in time, so it expired and the items we held for it were "
                  "released. You were not charged.")
        .lines(order)
        .paragraph("You can place a new order at any time.");
    doc.sms = store + ": your order " + order.id + " expired unpaid; its items were released.";
  }
  return finish(std::move(doc), ctx);
}

enum class PaymentEvent { Succeeded, Failed, Refunded };

Rendered payment(PaymentEvent kind, const Json& data, const TemplateContext& ctx) {
  const Customer customer = read_customer(data);
  const std::string payment_id = required_string(data, "data", "paymentId");
  const std::string order_id = required_string(data, "data", "orderId");
  const Currency currency = currency_of(data, "data", ctx);
  if (!optional_string(data, "data", "currency")) bad("data.currency", "is missing");
  const std::string amount = format_money(required_minor(data, "data", "amount"), currency);
  std::optional<Order> order;
  if (member(data, "data", "order") != nullptr) order = read_order(data, ctx);
  const std::string& store = ctx.store_name;
  Document doc;
  doc.paragraph(greeting(customer.name));
  switch (kind) {
    case PaymentEvent::Succeeded:
      doc.subject = store + ": payment received for order " + order_id;
      doc.heading = "Payment received";
      doc.paragraph("Thank you: we received your payment for order " + order_id + ".")
          .fields({{"Amount", amount}, {"Order", order_id}, {"Payment", payment_id}});
      if (order) doc.lines(*order);
      doc.paragraph("Keep this email as your receipt. We will write again when your order ships.");
      doc.sms = store + ": payment of " + amount + " received for order " + order_id + ".";
      break;
    case PaymentEvent::Failed: {
      const auto message = optional_string(data, "data", "failureMessage");
      const auto code = optional_string(data, "data", "failureCode");
      const std::string reason = message && !message->empty() ? *message
                                 : code && !code->empty()     ? *code
                                                              : "the payment was declined";
      doc.subject = store + ": payment for order " + order_id + " did not go through";
      doc.heading = "Your payment did not go through";
      doc.paragraph("Your payment of " + amount + " for order " + order_id +
                    " did not go through: " + reason + ".")
          .paragraph(
              "You have not been charged and your order is still open. To complete it, open the "
              "order and pay again, with another card if needed, before it expires.");
      doc.sms = store + ": payment for order " + order_id + " failed (" + reason +
                "). Open your order to pay again.";
      break;
    }
    case PaymentEvent::Refunded: {
      const std::string refund_id = required_string(data, "data", "refundId");
      const std::string refunded =
          format_money(required_minor(data, "data", "refundedAmount"), currency);
      doc.subject = store + ": refund for order " + order_id;
      doc.heading = "Your refund is on its way";
      doc.paragraph("We refunded " + refunded + " of your payment for order " + order_id + ".")
          .fields({{"Refunded", refunded},
                   {"Original payment", amount},
                   {"Order", order_id},
                   {"Refund", refund_id}})
          .paragraph(
              "Refunds usually reach your account within 5 to 10 business days, depending on "
              "your bank.");
      doc.sms = store + ": " + refunded + " refunded for order " + order_id + ".";
      break;
    }
  }
  return finish(std::move(doc), ctx);
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_money(std::int64_t minor, const Currency& currency) {
  std::string code = currency.code;
  for (char& c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  const bool negative = minor < 0;
  const std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(minor) : static_cast<std::uint64_t>(minor);
  std::string digits = std::to_string(magnitude);
  if (currency.exponent > 0) {
    const auto exponent = static_cast<std::size_t>(currency.exponent);
    if (digits.size() <= exponent) digits.insert(0, exponent + 1 - digits.size(), '0');
    digits.insert(digits.size() - exponent, ".");
  }
  return (negative ? "-" : "") + digits + " " + code;
}

std::optional<Rendered> render(std::string_view event_type, const Json& data,
                               const TemplateContext& ctx) {
  if (event_type != "user.registered" && event_type != "order.placed" &&
      event_type != "order.status_changed" && event_type.substr(0, 8) != "payment.") {
    return std::nullopt;
  }
  if (!data.is_object()) throw TemplateError("data must be an object");
  if (event_type == "user.registered") return user_registered(data, ctx);
  if (event_type == "order.placed") return order_placed(data, ctx);
  if (event_type == "order.status_changed") return order_status_changed(data, ctx);
  if (event_type == "payment.succeeded") return payment(PaymentEvent::Succeeded, data, ctx);
  if (event_type == "payment.failed") return payment(PaymentEvent::Failed, data, ctx);
  if (event_type == "payment.refunded") return payment(PaymentEvent::Refunded, data, ctx);
  return std::nullopt;
}

}  // namespace emporium::notification::domain
