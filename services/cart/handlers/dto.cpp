#include "handlers/dto.hpp"

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

namespace {

// One line of a deduct body; problems are recorded under `field` (`items[2]`) and its members.
std::optional<domain::Deduction> read_deduction(const Json& item, const std::string& field,
                                                FieldErrors& errors) {
  if (!item.is_object()) {
    errors.add(field, "must be an object with productId and quantity");
    return std::nullopt;
  }
  auto product_id = read_product_id(item, field + ".productId", errors);
  FieldErrors quantity_errors;  // read_integer names the bare member; re-filed under `field`
  const auto quantity =
      read_integer(item, "quantity", quantity_errors, 1, domain::kMaxLineQuantity);
  if (!quantity && quantity_errors.empty()) quantity_errors.add("quantity", "quantity is required");
  for (const auto& e : quantity_errors.list()) errors.add(field + ".quantity", e.message);
  if (!product_id || !quantity) return std::nullopt;
  return domain::Deduction{std::move(*product_id), *quantity};
}

}  // namespace

std::optional<std::vector<domain::Deduction>> read_deductions(const Json& body,
                                                              FieldErrors& errors) {
  const auto items = body.find("items");
  if (items == body.end() || items->is_null()) {
    errors.add("items", "items is required");
    return std::nullopt;
  }
  if (!items->is_array() || items->empty() ||
      items->size() > static_cast<std::size_t>(domain::kMaxLines)) {
    errors.add("items",
               "items must be an array of 1 to " + std::to_string(domain::kMaxLines) + " lines");
    return std::nullopt;
  }
  std::vector<domain::Deduction> out;
  out.reserve(items->size());
  std::size_t index = 0;
  for (const Json& item : *items) {
    auto line = read_deduction(item, "items[" + std::to_string(index++) + "]", errors);
    if (line) out.push_back(std::move(*line));
  }
  if (out.size() != items->size()) return std::nullopt;  // some line was recorded as bad
  return domain::merge_deductions(std::move(out));
}

std::optional<std::string> read_order_id(const Json& body, FieldErrors& errors) {
  return read_id(body, "orderId", "orderId", false, errors);
}

}  // namespace emporium::cart::dto
