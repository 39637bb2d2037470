// Check order (DESIGN §4): JSON (before the handler) -> 401 (before the handler) -> 403 ownership
// against the raw `:userId` -> 404 path ids (shape, then existence where the route needs it) ->
// 400 body fields -> 409.
#include "handlers/cart_handlers.hpp"

#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>

#include <string>

namespace emporium::cart {
namespace {

using http::Request;
using http::Response;

enum class InternalCallers { Refused, Allowed };

// The path's user id once the caller may act on that cart: the owner or an admin (and another
// service where `internal` allows). 403 is decided on the raw value, before its shape.
std::string cart_owner(const Request& request, InternalCallers internal) {
  const std::string_view raw = request.param("userId");
  const Principal& principal = request.user();
  const bool internal_ok = internal == InternalCallers::Allowed && principal.internal;
  if (!internal_ok && !principal.owns(raw)) throw forbidden("You can only use your own cart");
  if (!is_object_id(raw)) throw not_found("Cart not found");
  return std::string(raw);
}

// The `:productId` of a line route: a malformed id names no line.
std::string line_product(const Request& request) {
  const std::string_view raw = request.param("productId");
  if (!is_object_id(raw)) throw not_found("Item not found in cart");
  return std::string(raw);
}

catalog::CallContext context_of(const Request& request) {
  catalog::CallContext context;
  context.request_id = request.request_id;
  if (auto traceparent = request.header("traceparent")) context.traceparent = *traceparent;
  return context;
}

Response add(Carts& carts, const Currency& currency, Request& request) {
  const std::string user_id = cart_owner(request, InternalCallers::Refused);
  const Json& body = request.json_object();
  FieldErrors errors;
  const auto product_id = dto::read_product_id(body, "productId", errors);
  const auto quantity = read_integer(body, "quantity", errors, 1, domain::kMaxLineQuantity);
  errors.throw_if_any();
  const auto cart = carts.add(user_id, *product_id, quantity.value_or(domain::kDefaultAddQuantity),
                              context_of(request));
  return Response::json(201, dto::cart_json(cart, currency));
}

Response get(Carts& carts, const Currency& currency, Request& request) {
  const std::string user_id = cart_owner(request, InternalCallers::Allowed);
  return Response::json(200, dto::cart_json(carts.get(user_id, context_of(request)), currency));
}

Response remove(Carts& carts, const Currency& currency, Request& request) {
  const std::string user_id = cart_owner(request, InternalCallers::Refused);
  const std::string product_id = line_product(request);
  return Response::json(
      200, dto::cart_json(carts.remove(user_id, product_id, context_of(request)), currency));
}

Response update(Carts& carts, const Currency& currency, Request& request) {
  const std::string user_id = cart_owner(request, InternalCallers::Refused);
  const std::string product_id = line_product(request);
  const Json& body = request.json_object();
  FieldErrors errors;
  const auto quantity = read_integer(body, "quantity", errors, 0, domain::kMaxLineQuantity);
  if (!quantity && errors.empty()) errors.add("quantity", "quantity is required");
  if (!errors.empty()) {
    carts.require_line(user_id, product_id);  // 404 before 400
    errors.throw_if_any();
  }
  return Response::json(
      200, dto::cart_json(carts.set_quantity(user_id, product_id, *quantity, context_of(request)),
                          currency));
}

// Internal (order-service): takes the ordered quantities off the cart. A user without a cart is
// 404, before any 400 (DESIGN §4 check order), which order-service reads as "nothing to remove".
Response deduct(Carts& carts, const Currency& currency, Request& request) {
  const std::string user_id = cart_owner(request, InternalCallers::Allowed);
  const Json& body = request.json_object();
  FieldErrors errors;
  const auto items = dto::read_deductions(body, errors);
  // With the order's id the removal happens once per order: a repeat answers the cart as it is.
  const auto order_id = dto::read_order_id(body, errors);
  if (!errors.empty()) {
    carts.require_cart(user_id);  // 404 before 400
    errors.throw_if_any();
  }
  return Response::json(
      200, dto::cart_json(carts.deduct(user_id, *items, order_id, context_of(request)), currency));
}

Response clear(Carts& carts, Request& request) {
  carts.clear(cart_owner(request, InternalCallers::Allowed));
  return Response::no_content();
}

}  // namespace

void register_cart_handlers(App& app, const std::shared_ptr<Carts>& carts,
                            const Currency& currency) {
  using http::Access;
  using http::Method;
  app.route(Method::Post, "/api/cart/:userId/add",
            [carts, currency](Request& r) { return add(*carts, currency, r); },
            {Access::User, true});
  app.route(Method::Get, "/api/cart/:userId",
            [carts, currency](Request& r) { return get(*carts, currency, r); },
            {Access::UserOrInternal, false, http::Lane::Worker, {"order"}});
  app.route(Method::Delete, "/api/cart/:userId/remove/:productId",
            [carts, currency](Request& r) { return remove(*carts, currency, r); },
            {Access::User, false});
  app.route(Method::Put, "/api/cart/:userId/update/:productId",
            [carts, currency](Request& r) { return update(*carts, currency, r); },
            {Access::User, true});
  // order-service takes what it ordered off the cart (API.md `remove-ordered`); the gateway
  // refuses the path from outside.
  app.route(Method::Post, "/api/cart/:userId/remove-ordered",
            [carts, currency](Request& r) { return deduct(*carts, currency, r); },
            {Access::Internal, true, http::Lane::Worker, {"order"}});
  app.route(Method::Delete, "/api/cart/:userId", [carts](Request& r) { return clear(*carts, r); },
            {Access::UserOrInternal, false, http::Lane::Worker, {"order"}});
}

}  // namespace emporium::cart
