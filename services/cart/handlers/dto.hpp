// The wire format of shopping-cart-service: the cart document as JSON. Money leaves in major units
// of the store currency; timestamps as ISO 8601.
#pragma once

#include "domain/cart.hpp"

#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>

namespace emporium::cart::dto {

// {"_id","userId","items":[{"productId","quantity","name","price","available"}],"subtotal",
//  "updatedAt","__v","stale"}; `stale` is true when product-service could not be asked, so prices
// are the stored ones and availability is unknown.
Json cart_json(const domain::PricedCart& cart, const Currency& currency);

}  // namespace emporium::cart::dto
