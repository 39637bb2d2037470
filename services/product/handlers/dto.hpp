// The wire format of product-service: product documents, reservations and categories as JSON.
// The stored model (domain/) never reaches a client directly: `on_hand` and `held` show only as
// the sellable `stock`, prices in major units of the store currency.
#pragma once

#include "domain/product.hpp"
#include "domain/stock.hpp"

#include <emporium/http/message.hpp>
#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>

#include <vector>

namespace emporium::product::dto {

// {"_id","name","description","price","currency","category","stock","sku","images","createdAt",
//  "updatedAt","__v"}; sku is null when unset.
Json product_json(const domain::Product& product, const Currency& currency);
// 200/201 with the product and its ETag.
http::Response product_response(int status, const domain::Product& product,
                                const Currency& currency);

// {"reservationId","items":[{"productId","quantity","name","price"}],"currency","expiresAt"}:
// each line's name and price (major units) as they were when its units were held.
Json reservation_json(const domain::Reservation& reservation, const Currency& currency);
// The same with "state".
Json reservation_state_json(const domain::Reservation& reservation, const Currency& currency);

Json categories_json(const std::vector<domain::CategoryCount>& categories);

}  // namespace emporium::product::dto
