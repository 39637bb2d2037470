#include "upstream/upstreams.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>

#include <limits>
#include <utility>

namespace emporium::order::upstream {
namespace {

HttpError unavailable(const http::HttpClient& client) {
  return service_unavailable(client.name() + " is unavailable");
}

Json lines_json(const std::vector<ItemLine>& lines) {
  Json items = Json::array();
  for (const auto& line : lines) {
    items.push_back({{"productId", line.product_id}, {"quantity", line.quantity}});
  }
  return items;
}

// The held line of a reservation answer; nullopt when malformed.
std::optional<domain::Line> held_line(const Json& item, const Currency& currency) {
  if (!item.is_object()) return std::nullopt;
  FieldErrors errors;
  const auto product_id = read_string(item, "productId", errors, 24, 24);
  const auto name = read_string(item, "name", errors, 0, std::numeric_limits<std::size_t>::max());
  const auto quantity = read_integer(item, "quantity", errors, 1, domain::kMaxLineQuantity);
  const auto price_it = item.find("price");
  const auto price = price_it == item.end() ? std::nullopt : price_from_json(*price_it, currency);
  if (!errors.empty() || !product_id || !is_object_id(*product_id) || !name || !quantity ||
      !price) {
    return std::nullopt;
  }
  return domain::Line{*product_id, *name, *price, *quantity};
}

}  // namespace

Upstreams::Upstreams(http::HttpClient products, http::HttpClient carts, Currency currency,
                     std::optional<http::HttpClient> payments,
                     std::optional<http::HttpClient> users)
    : products_(std::move(products)),
      carts_(std::move(carts)),
      currency_(std::move(currency)),
      payments_(std::move(payments)),
      users_(std::move(users)) {}

std::optional<Json> Upstreams::customer(const std::string& user_id,
                                        const CallContext& context) const {
  if (!users_) return std::nullopt;
  try {
    const auto response = call(*users_, http::Method::Get, "/api/users/" + user_id, {}, context);
    if (response.status != 200) return std::nullopt;
    const Json user = response.json();
    if (!user.is_object() || !user.contains("email") || !user["email"].is_string()) {
      return std::nullopt;
    }
    const auto text = [&](const char* name) {
      const auto it = user.find(name);
      return it != user.end() && it->is_string() ? Json(*it) : Json(nullptr);
    };
    return Json{{"userId", user_id},
                {"name", text("name")},
                {"email", text("email")},
                {"phone", text("phone")}};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Settled Upstreams::refund_order(const std::string& order_id, const CallContext& context) const {
  if (!payments_) throw service_unavailable("payment-service is not configured");
  // Once per order in payment-service (the refund id is derived from the order id).
  const auto response =
      call(*payments_, http::Method::Post, "/api/payments/internal/orders/" + order_id + "/refund",
           {}, context, true);
  if (response.status == 200) return Settled::Done;
  if (response.status == 409) return Settled::Refused;
  throw unavailable(*payments_);
}

http::ClientResponse Upstreams::call(const http::HttpClient& client, http::Method method,
                                     std::string path, std::string body, const CallContext& context,
                                     std::optional<bool> idempotent) const {
  http::ClientRequest request;
  request.method = method;
  request.path = std::move(path);
  request.body = std::move(body);
  request.request_id = context.request_id;
  request.traceparent = context.traceparent;
  request.idempotent = idempotent;
  return client.call(request);  // throws service_unavailable when no instance answers
}

std::vector<domain::Line> Upstreams::reserve(const std::string& order_id,
                                             const std::vector<ItemLine>& lines,
                                             const CallContext& context) const {
  const Json body{{"reservationId", order_id}, {"items", lines_json(lines)}};
  // The reservation id de-duplicates, so a retry on another instance is harmless.
  const auto response = call(products_, http::Method::Post, "/api/products/reservations",
                             dump_json(body), context, true);
  if (response.status == 409) {
    const Json problem = response.json();
    HttpError error = conflict("Not enough stock", "out_of_stock");
    if (problem.is_object() && problem.contains("shortLines")) {
      error.with_extra("shortLines", problem["shortLines"]);
    }
    throw error;
  }
  if (response.status == 422) {
    // The order id already holds other lines: a retry of a takeover whose cart changed.
    throw conflict(
        "This order is already being placed with other lines; retry with a new "
        "Idempotency-Key",
        "order_lines_changed");
  }
  if (response.status != 201) throw unavailable(products_);
  const Json answer = response.json();
  const auto currency = answer.find("currency");
  if (currency != answer.end() &&
      !(currency->is_string() && currency->get_ref<const std::string&>() == currency_.code)) {
    throw bad_gateway("product-service prices in another currency than " + currency_.code);
  }
  const auto items = answer.find("items");
  if (items == answer.end() || !items->is_array() || items->size() != lines.size()) {
    throw bad_gateway("product-service answered the reservation without its lines");
  }
  std::vector<domain::Line> held;
  held.reserve(items->size());
  for (const Json& item : *items) {
    auto line = held_line(item, currency_);
    if (!line) throw bad_gateway("product-service answered a malformed reservation line");
    held.push_back(std::move(*line));
  }
  return held;
}

Settled Upstreams::release(const std::string& order_id, const CallContext& context) const {
  const auto response =
      call(products_, http::Method::Delete, "/api/products/reservations/" + order_id, {}, context);
  if (response.status == 200 || response.status == 404) return Settled::Done;
  if (response.status == 409) return Settled::Refused;  // committed: it is sold
  throw unavailable(products_);
}

Settled Upstreams::commit(const std::string& order_id, const CallContext& context) const {
  const auto response =
      call(products_, http::Method::Post, "/api/products/reservations/" + order_id + "/commit", {},
           context, true);
  if (response.status == 200) return Settled::Done;
  if (response.status == 404 || response.status == 409) return Settled::Refused;
  throw unavailable(products_);
}

std::optional<std::vector<ItemLine>> Upstreams::cart_lines(const std::string& user_id,
                                                           const CallContext& context) const {
  const auto response = call(carts_, http::Method::Get, "/api/cart/" + user_id, {}, context);
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) throw unavailable(carts_);
  const Json cart = response.json();
  const auto items = cart.is_object() ? cart.find("items") : cart.end();
  if (!cart.is_object() || items == cart.end() || !items->is_array()) {
    throw bad_gateway("shopping-cart-service answered a malformed cart");
  }
  std::vector<ItemLine> lines;
  for (const Json& item : *items) {
    FieldErrors errors;
    const auto product_id =
        item.is_object() ? read_string(item, "productId", errors, 24, 24) : std::nullopt;
    const auto quantity = item.is_object()
                              ? read_integer(item, "quantity", errors, 1, domain::kMaxLineQuantity)
                              : std::nullopt;
    if (!product_id || !quantity || !is_object_id(*product_id)) {
      throw bad_gateway("shopping-cart-service answered a malformed cart line");
    }
    lines.push_back({*product_id, *quantity});
  }
  return lines;
}

void Upstreams::remove_from_cart(const std::string& user_id, const std::string& order_id,
                                 const std::vector<ItemLine>& lines,
                                 const CallContext& context) const {
  const Json body{{"items", lines_json(lines)}, {"orderId", order_id}};
  // Once per (user, order) in shopping-cart-service: a repeat subtracts nothing again.
  const auto response = call(carts_, http::Method::Post, "/api/cart/" + user_id + "/remove-ordered",
                             dump_json(body), context, true);
  if (response.status == 200 || response.status == 404) return;
  throw unavailable(carts_);
}

}  // namespace emporium::order::upstream
