// The wire format of shopping-cart-service: the cart document as JSON, and the bodies read from
// JSON into domain values. Money leaves in major units of the store currency; timestamps as
// ISO 8601.
#pragma once

#include "domain/cart.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>

#include <optional>
#include <string>
#include <vector>

namespace emporium::cart::dto {

// {"_id","userId","items":[{"productId","quantity","name","price","available"}],"subtotal",
//  "updatedAt","__v","stale"}; `stale` is true when product-service could not be asked, so prices
// are the stored ones and availability is unknown.
Json cart_json(const domain::PricedCart& cart, const Currency& currency);

// `object`'s "productId" (24 lower-case hex); a problem is recorded under `field`.
std::optional<std::string> read_product_id(const Json& object, const std::string& field,
                                           FieldErrors& errors);

// The deduct body `{"items":[{"productId","quantity"}]}`: 1..100 items, quantities integers
// 1..1000. Every problem is recorded in `errors` (`items`, `items[2].quantity`); nullopt when
// there was any. Read by emporium/json/item_lines.hpp: merged per product, sorted by id.
std::optional<std::vector<domain::Deduction>> read_deductions(const Json& body,
                                                              FieldErrors& errors);

// The removal's optional `orderId` (24 hex characters): absent or null → nullopt; malformed →
// an error under `orderId`.
std::optional<std::string> read_order_id(const Json& body, FieldErrors& errors);

}  // namespace emporium::cart::dto
