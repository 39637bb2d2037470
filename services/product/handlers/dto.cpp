#include "handlers/dto.hpp"

#include <emporium/http/etag.hpp>

#include <emporium/util/time.hpp>

namespace emporium::product::dto {

Json product_json(const domain::Product& p, const Currency& currency) {
  Json out = Json::object();
  out["_id"] = p.id;
  out["name"] = p.name;
  out["description"] = p.description;
  out["price"] = price_json(p.price_minor, currency);
  out["currency"] = currency.code;
  out["category"] = p.category;
  out["stock"] = p.stock();
  out["sku"] = p.sku ? Json(*p.sku) : Json(nullptr);
  out["images"] = p.images;
  out["createdAt"] = iso8601(p.created_at_ms);
  out["updatedAt"] = iso8601(p.updated_at_ms);
  out["__v"] = p.version;
  return out;
}

http::Response product_response(int status, const domain::Product& product,
                                const Currency& currency) {
  http::Response response = http::Response::json(status, product_json(product, currency));
  response.set_header("ETag", http::etag(product.id, product.version));
  return response;
}

Json reservation_json(const domain::Reservation& r, const Currency& currency) {
  Json items = Json::array();
  for (const auto& line : r.lines) {
    items.push_back({{"productId", line.product_id},
                     {"quantity", line.quantity},
                     {"name", line.name},
                     {"price", price_json(line.price_minor, currency)}});
  }
  return Json{{"reservationId", r.id},
              {"items", std::move(items)},
              {"currency", currency.code},
              {"expiresAt", iso8601(r.expires_at_ms)}};
}

Json reservation_state_json(const domain::Reservation& r, const Currency& currency) {
  Json out = reservation_json(r, currency);
  out["state"] = std::string(domain::state_name(r.state));
  return out;
}

Json categories_json(const std::vector<domain::CategoryCount>& categories) {
  Json out = Json::array();
  for (const auto& c : categories) out.push_back({{"name", c.name}, {"count", c.count}});
  return out;
}

}  // namespace emporium::product::dto
