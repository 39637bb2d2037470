// The wire format of order-service: the order document as JSON (API.md), and the body members read
// from JSON. Money leaves in major units of the store currency; timestamps as ISO 8601.
#pragma once

#include "domain/order.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/message.hpp>
#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>

#include <optional>
#include <string>

namespace emporium::order::dto {

// {"_id","userId","items":[{"productId","name","price","quantity"}],"totalAmount","currency",
//  "status","history":[{"status","at"}],"shippingAddress","expiresAt","createdAt","updatedAt",
//  "__v"}. `internal` adds what payment-service needs: "amount" (minor units), "paymentLease"
//  ({"paymentId","until"} or null), "paidPaymentId".
Json order_json(const domain::Order& order, const Currency& currency, bool internal = false);

// The order as a response, with `ETag: "<_id>-<__v>"`.
http::Response order_response(int status, const domain::Order& order, const Currency& currency,
                              bool internal = false);

// The optional `shippingAddress`: a string of 1..500 characters, or an object of at most 20
// members whose values are strings of at most 200 characters (street, city, postalCode, …).
// Kept as JSON text; a problem is recorded under `shippingAddress`.
std::optional<std::string> read_shipping_address(const Json& body, FieldErrors& errors);

// A required `paymentId` (1..64 of [A-Za-z0-9._:-]), recorded under `paymentId`.
std::optional<std::string> read_payment_id(const Json& body, FieldErrors& errors);

}  // namespace emporium::order::dto
