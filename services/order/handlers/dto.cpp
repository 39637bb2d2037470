#include "handlers/dto.hpp"

#include <emporium/util/time.hpp>

#include <algorithm>

namespace emporium::order::dto {

Json order_json(const domain::Order& order, const Currency& currency, bool internal) {
  Json items = Json::array();
  for (const auto& line : order.lines) {
    items.push_back({{"productId", line.product_id},
                     {"name", line.name},
                     {"price", price_json(line.price, currency)},
                     {"quantity", line.quantity}});
  }
  Json history = Json::array();
  for (const auto& entry : order.history) {
    history.push_back(
        {{"status", std::string(domain::status_name(entry.status))}, {"at", iso8601(entry.at_ms)}});
  }
  Json out = Json::object();
  out["_id"] = order.id;
  out["userId"] = order.user_id;
  out["items"] = std::move(items);
  out["totalAmount"] = price_json(order.total, currency);
  out["currency"] = order.currency;
  out["status"] = std::string(domain::status_name(order.status));
  out["history"] = std::move(history);
  out["shippingAddress"] =
      order.shipping_address ? Json::parse(*order.shipping_address) : Json(nullptr);
  out["expiresAt"] = iso8601(order.expires_at_ms);
  out["createdAt"] = iso8601(order.created_at_ms);
  out["updatedAt"] = iso8601(order.updated_at_ms);
  out["__v"] = order.version;
  if (internal) {
    out["amount"] = order.total;
    out["paymentLease"] = order.payment_lease_id
                              ? Json{{"paymentId", *order.payment_lease_id},
                                     {"until", iso8601(order.payment_lease_until_ms)}}
                              : Json(nullptr);
    out["paidPaymentId"] = order.paid_payment_id ? Json(*order.paid_payment_id) : Json(nullptr);
    out["customer"] = order.customer ? Json::parse(*order.customer) : Json(nullptr);
  }
  return out;
}

http::Response order_response(int status, const domain::Order& order, const Currency& currency,
                              bool internal) {
  http::Response response = http::Response::json(status, order_json(order, currency, internal));
  response.set_header("ETag", "\"" + order.id + "-" + std::to_string(order.version) + "\"");
  return response;
}

std::optional<std::string> read_shipping_address(const Json& body, FieldErrors& errors) {
  const auto it = body.find("shippingAddress");
  if (it == body.end() || it->is_null()) return std::nullopt;
  constexpr const char* kField = "shippingAddress";
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    if (text.empty() || text.size() > 500) {
      errors.add(kField, "shippingAddress must be 1 to 500 characters");
      return std::nullopt;
    }
    return dump_json(*it);
  }
  if (!it->is_object() || it->empty() || it->size() > 20) {
    errors.add(kField, "shippingAddress must be a string or an object of 1 to 20 text fields");
    return std::nullopt;
  }
  for (const auto& [key, value] : it->items()) {
    if (key.size() > 64 || !value.is_string() || value.get_ref<const std::string&>().size() > 200) {
      errors.add(std::string(kField) + "." + key,
                 "each shippingAddress field must be a string of at most 200 characters");
      return std::nullopt;
    }
  }
  return dump_json(*it);
}

std::optional<std::string> read_payment_id(const Json& body, FieldErrors& errors) {
  const auto it = body.find("paymentId");
  if (it == body.end() || it->is_null()) {
    errors.add("paymentId", "paymentId is required");
    return std::nullopt;
  }
  const auto valid = [](const std::string& text) {
    return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == ':' || c == '-';
    });
  };
  if (!it->is_string() || !valid(it->get_ref<const std::string&>())) {
    errors.add("paymentId", "paymentId must be 1 to 64 letters, digits or . _ : -");
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace emporium::order::dto
