// Check order (DESIGN §4): JSON (before the handler) -> 401 (before the handler) -> 403 ownership
// against the raw `:userId` -> 404 path ids (shape, then existence) -> 400 body and query -> 409.
#include "handlers/order_handlers.hpp"

#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/paging.hpp>
#include <emporium/json/item_lines.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/text.hpp>

#include <string>

namespace emporium::order {
namespace {

using http::Request;
using http::Response;

constexpr const char* kBasePath = "/api/orders";

struct Context {
  std::shared_ptr<Orders> orders;
  std::shared_ptr<idempotency::Idempotency> idempotency;
  Currency currency;
};

// The path's user id once the caller may act for that user: the owner or an admin. 403 is
// decided on the raw value, before its shape.
std::string order_owner(const Request& request, const char* not_found_detail) {
  const std::string_view raw = request.param("userId");
  if (!request.user().owns(raw)) throw forbidden("You can only use your own orders");
  if (!is_object_id(raw)) throw not_found(not_found_detail);
  return std::string(raw);
}

std::string order_id_param(const Request& request) {
  const std::string_view raw = request.param("orderId");
  if (!is_object_id(raw)) throw not_found("Order not found");
  return std::string(raw);
}

// The order `:orderId` of user `user_id`: another user's order is not found.
domain::Order owned_order(Orders& orders, const std::string& user_id, const std::string& order_id) {
  auto order = orders.get(order_id);
  if (order.user_id != user_id) throw not_found("Order not found");
  return order;
}

// The request's If-Match header (`*` matches any current version; http::if_match_satisfied).
std::optional<std::string> if_match_of(const Request& request) {
  const auto header = request.header("If-Match");
  return header ? std::optional<std::string>(std::string(*header)) : std::nullopt;
}

upstream::CallContext context_of(const Request& request) {
  upstream::CallContext context;
  context.request_id = request.request_id;
  if (auto traceparent = request.header("traceparent")) context.traceparent = *traceparent;
  return context;
}

std::optional<domain::Status> read_status_query(const Request& request, FieldErrors& errors) {
  const auto text = request.query("status");
  if (!text) return std::nullopt;
  const auto status = domain::parse_status(*text);
  if (!status) errors.add("status", "status must be one of " + domain::status_list());
  return status;
}

Response page_response(const store::OrderPage& page, const http::Page& paging,
                       const Currency& currency, const std::string& path,
                       const std::string& filters) {
  Json body = Json::array();
  for (const auto& order : page.orders) body.push_back(dto::order_json(order, currency));
  Response response = Response::json(200, body);
  http::set_page_headers(response, paging, page.total, path, filters);
  return response;
}

// ---- customer and admin routes ------------------------------------------------------------------

Response place(Context& c, Request& request) {
  const std::string user_id = order_owner(request, "User not found");
  const Json& body = request.json_object();
  FieldErrors errors;
  Orders::PlaceInput input;
  if (const auto items = body.find("items"); items != body.end() && !items->is_null()) {
    input.items = read_item_lines(body, errors,
                                  {.max_lines = domain::kMaxLines,
                                   .max_quantity = domain::kMaxLineQuantity,
                                   .cap_merged = true});
  }
  input.total = read_price(body, "totalAmount", c.currency, errors);
  input.shipping_address = dto::read_shipping_address(body, errors);
  errors.throw_if_any();

  // The order id is the claim's resource: a retry that takes over a dead claim reuses it, so the
  // reservation (keyed by the order id) de-duplicates.
  return c.idempotency->run_two_phase(
      request, new_object_id,
      [&](const std::string& order_id, const idempotency::Idempotency::Complete& complete) {
        std::optional<Response> response;
        c.orders->place(user_id, order_id, input, context_of(request),
                        [&](db::Tx& tx, const domain::Order& order) {
                          response = dto::order_response(201, order, c.currency);
                          response->set_header(
                              "Location", std::string(kBasePath) + "/" + user_id + "/" + order.id);
                          complete(tx, *response);
                        });
        return std::move(*response);
      });
}

Response list_own(Context& c, Request& request) {
  const std::string user_id = order_owner(request, "User not found");
  FieldErrors errors;
  const auto status = read_status_query(request, errors);
  const http::Page paging = http::read_page(request, errors);
  errors.throw_if_any();
  const auto page = c.orders->list({user_id, status}, paging.offset(), paging.limit);
  const std::string filters =
      status ? "status=" + std::string(domain::status_name(*status)) : std::string();
  return page_response(page, paging, c.currency, std::string(kBasePath) + "/" + user_id, filters);
}

Response get_one(Context& c, Request& request) {
  const std::string user_id = order_owner(request, "Order not found");
  const std::string order_id = order_id_param(request);
  return dto::order_response(200, owned_order(*c.orders, user_id, order_id), c.currency);
}

Response list_all(Context& c, Request& request) {
  FieldErrors errors;
  const auto status = read_status_query(request, errors);
  std::optional<std::string> user_id;
  if (const auto text = request.query("userId")) {
    if (is_object_id(*text)) {
      user_id = std::string(*text);
    } else {
      errors.add("userId", "userId must be a 24-character hexadecimal id");
    }
  }
  const http::Page paging = http::read_page(request, errors);
  errors.throw_if_any();
  const auto page = c.orders->list({user_id, status}, paging.offset(), paging.limit);
  std::string filters;
  if (status) filters = "status=" + std::string(domain::status_name(*status));
  if (user_id) filters += (filters.empty() ? "" : "&") + ("userId=" + *user_id);
  return page_response(page, paging, c.currency, kBasePath, filters);
}

domain::Status read_target_status(const Json& body) {
  FieldErrors errors;
  const auto text = read_string(body, "status", errors, 1, 32);
  if (!text && errors.empty()) errors.add("status", "status is required");
  errors.throw_if_any();
  const auto status = domain::parse_status(*text);
  if (!status) {
    throw bad_request("status: unknown status " + *text,
                      {{"status", "status must be one of " + domain::status_list()}});
  }
  return *status;
}

// Admin: along the table. payment-service (internal): `Paid` with its `paymentId`.
Response set_status(Context& c, Request& request) {
  const std::string order_id = order_id_param(request);
  const Json& body = request.json_object();
  c.orders->get(order_id);  // 404 before 400
  if (request.user().internal) {
    FieldErrors errors;
    const auto payment_id = dto::read_payment_id(body, errors);
    const auto status = read_target_status(body);
    if (status != domain::Status::Paid) {
      throw forbidden("payment-service may only set Paid here");
    }
    errors.throw_if_any();
    return dto::order_response(
        200, c.orders->mark_paid(order_id, *payment_id, context_of(request), if_match_of(request)),
        c.currency, true);
  }
  const domain::Status status = read_target_status(body);
  return dto::order_response(
      200, c.orders->set_status(order_id, status, context_of(request), if_match_of(request)),
      c.currency);
}

Response cancel(Context& c, Request& request) {
  const std::string user_id = order_owner(request, "Order not found");
  const std::string order_id = order_id_param(request);
  owned_order(*c.orders, user_id, order_id);
  return dto::order_response(200,
                             c.orders->cancel(order_id, request.user().is_admin(),
                                              context_of(request), if_match_of(request)),
                             c.currency);
}

// ---- payment-service ---------------------------------------------------------------------------

Response internal_get(Context& c, Request& request) {
  return dto::order_response(200, c.orders->get(order_id_param(request)), c.currency, true);
}

Response take_lease(Context& c, Request& request) {
  const std::string order_id = order_id_param(request);
  const Json& body = request.json_object();
  FieldErrors errors;
  const auto payment_id = dto::read_payment_id(body, errors);
  const auto ttl = read_integer(body, "ttlSeconds", errors, 1, 3600);
  c.orders->get(order_id);  // 404 before 400
  errors.throw_if_any();
  return dto::order_response(
      200, c.orders->take_lease(order_id, *payment_id, ttl.value_or(120) * 1000), c.currency, true);
}

Response drop_lease(Context& c, Request& request) {
  const std::string order_id = order_id_param(request);
  const std::string payment_id(request.param("paymentId"));
  return dto::order_response(200, c.orders->drop_lease(order_id, payment_id), c.currency, true);
}

Response paid(Context& c, Request& request) {
  const std::string order_id = order_id_param(request);
  FieldErrors errors;
  const auto payment_id = dto::read_payment_id(request.json_object(), errors);
  c.orders->get(order_id);  // 404 before 400
  errors.throw_if_any();
  return dto::order_response(200, c.orders->mark_paid(order_id, *payment_id, context_of(request)),
                             c.currency, true);
}

Response payment_failed(Context& c, Request& request) {
  const std::string order_id = order_id_param(request);
  const Json& body = request.json_object();
  FieldErrors errors;
  const auto payment_id = dto::read_payment_id(body, errors);
  const auto reason = read_string(body, "reason", errors, 0, 500);
  c.orders->get(order_id);  // 404 before 400
  errors.throw_if_any();
  return dto::order_response(200, c.orders->mark_payment_failed(order_id, *payment_id, reason),
                             c.currency, true);
}

}  // namespace

void register_order_handlers(App& app, const std::shared_ptr<Orders>& orders,
                             const std::shared_ptr<idempotency::Idempotency>& idempotency,
                             const Currency& currency) {
  using http::Access;
  using http::Method;
  auto context = std::make_shared<Context>(Context{orders, idempotency, currency});
  auto bind = [context](Response (*fn)(Context&, Request&)) {
    return [context, fn](Request& request) { return fn(*context, request); };
  };
  app.route(Method::Get, "/api/orders", bind(list_all), {Access::Admin, false});
  app.route(Method::Post, "/api/orders/:userId", bind(place), {Access::User, true});
  app.route(Method::Get, "/api/orders/:userId", bind(list_own), {Access::User, false});
  app.route(Method::Get, "/api/orders/:userId/:orderId", bind(get_one), {Access::User, false});
  app.route(Method::Put, "/api/orders/:orderId/status", bind(set_status),
            {Access::AdminOrInternal, true, http::Lane::Worker, {"payment"}});
  app.route(Method::Post, "/api/orders/:userId/:orderId/cancel", bind(cancel),
            {Access::User, false});
  // payment-service only; the gateway refuses every path with an `internal` segment.
  const http::RouteOptions by_payment{Access::Internal, false, http::Lane::Worker, {"payment"}};
  http::RouteOptions by_payment_json = by_payment;
  by_payment_json.json_body = true;
  app.route(Method::Get, "/api/orders/internal/:orderId", bind(internal_get), by_payment);
  app.route(Method::Post, "/api/orders/internal/:orderId/payment-lease", bind(take_lease),
            by_payment_json);
  app.route(Method::Delete, "/api/orders/internal/:orderId/payment-lease/:paymentId",
            bind(drop_lease), by_payment);
  app.route(Method::Post, "/api/orders/internal/:orderId/paid", bind(paid), by_payment_json);
  app.route(Method::Post, "/api/orders/internal/:orderId/payment-failed", bind(payment_failed),
            by_payment_json);
}

}  // namespace emporium::order
