#include "handlers/dto.hpp"

#include <emporium/json/item_lines.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

namespace emporium::cart::dto {

Json cart_json(const domain::PricedCart& cart, const Currency& currency) {
  Json items = Json::array();
  for (const auto& line : cart.lines) {
    Json item = Json::object();
    item["productId"] = line.product_id;
    item["quantity"] = line.quantity;
    item["name"] = line.name;
    item["price"] = price_json(line.price, currency);
    item["available"] = line.available;
    items.push_back(std::move(item));
  }
  Json out = Json::object();
  out["_id"] = cart.id;
  out["userId"] = cart.user_id;
  out["items"] = std::move(items);
  out["subtotal"] = price_json(cart.subtotal, currency);
  out["updatedAt"] = iso8601(cart.updated_at_ms);
  out["__v"] = cart.version;
  out["stale"] = cart.stale;
  return out;
}

namespace {

// A 24-hex id member `key` of `object`, its problems recorded under `field`. Absent or null: an
// error when `required`, else nullopt without one.
std::optional<std::string> read_id(const Json& object, const std::string& key,
                                   const std::string& field, bool required, FieldErrors& errors) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) errors.add(field, key + " is required");
  } else if (!it->is_string() || !is_object_id(it->get_ref<const std::string&>())) {
    errors.add(field, key + " must be a 24-character hexadecimal id");
  } else {
    return it->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> read_product_id(const Json& object, const std::string& field,
                                           FieldErrors& errors) {
  return read_id(object, "productId", field, true, errors);
}

std::optional<std::vector<domain::Deduction>> read_deductions(const Json& body,
                                                              FieldErrors& errors) {
  auto lines = read_item_lines(body, errors,
                               {.max_lines = static_cast<std::size_t>(domain::kMaxLines),
                                .max_quantity = domain::kMaxLineQuantity});
  if (!lines) return std::nullopt;
  std::vector<domain::Deduction> out;
  out.reserve(lines->size());
  for (auto& line : *lines) out.push_back({std::move(line.product_id), line.quantity});
  return out;
}

std::optional<std::string> read_order_id(const Json& body, FieldErrors& errors) {
  return read_id(body, "orderId", "orderId", false, errors);
}

}  // namespace emporium::cart::dto
