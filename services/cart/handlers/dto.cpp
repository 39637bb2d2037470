#include "handlers/dto.hpp"

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

}  // namespace emporium::cart::dto
