// Check order (DESIGN §4): JSON (before the handler) -> 401 -> 403 -> 404 path ids -> 400 body ->
// 409. The webhook is public: its signature is its authentication.
#include "handlers/payment_handlers.hpp"

#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/paging.hpp>
#include <emporium/util/crypto.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/time.hpp>

#include <algorithm>
#include <string>

namespace emporium::payment {
namespace {

using http::Request;
using http::Response;

struct Context {
  std::shared_ptr<Payments> payments;
  std::shared_ptr<idempotency::Idempotency> idempotency;
  std::string webhook_secret;
  std::int64_t webhook_tolerance_s = 300;
};

upstream::CallContext context_of(const Request& request) {
  upstream::CallContext context;
  context.request_id = request.request_id;
  if (auto traceparent = request.header("traceparent")) context.traceparent = *traceparent;
  return context;
}

Payments::Caller caller_of(const Request& request) {
  return {request.user().user_id, request.user().is_admin()};
}

std::string id_param(const Request& request, const char* name, const char* not_found_detail) {
  const std::string_view raw = request.param(name);
  if (!is_object_id(raw)) throw not_found(not_found_detail);
  return std::string(raw);
}

Response payment_response(int status, Payments& payments, const domain::Payment& payment) {
  return Response::json(status, dto::payment_json(payment, payments.refunds_of(payment.id)));
}

bool is_payment_method_id(const std::string& text) {
  return !text.empty() && text.size() <= 255 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Response pay(Context& c, Request& request) {
  const std::string order_id = id_param(request, "orderId", "Order not found");
  const Json& body = request.json_object();
  FieldErrors errors;
  Payments::PayInput input;
  input.order_id = order_id;
  if (const auto pm = read_string(body, "paymentMethodId", errors, 1, 255)) {
    if (is_payment_method_id(*pm)) {
      input.payment_method = *pm;
    } else {
      errors.add("paymentMethodId",
                 "paymentMethodId must be a payment method id such as pm_card_visa");
    }
  } else if (errors.empty()) {
    errors.add("paymentMethodId", "paymentMethodId is required");
  }
  input.amount = read_integer(body, "amount", errors, 1, 9'999'999'999);
  errors.throw_if_any();

  // The payment id is the claim's resource: a retry that takes over a dead claim continues the
  // same payment, and the provider's idempotency key (derived from it) replays the charge.
  return c.idempotency->run_two_phase(
      request, new_object_id,
      [&](const std::string& payment_id, const idempotency::Idempotency::Complete& complete) {
        std::optional<Response> response;
        const auto payment =
            c.payments->pay(caller_of(request), payment_id, input, context_of(request),
                            [&](db::Tx& tx, const domain::Payment& p) {
                              response = Response::json(201, dto::payment_json(p, {}));
                              response->set_header("Location", "/api/payments/" + p.id);
                              complete(tx, *response);
                            });
        if (!response) response = Response::json(201, dto::payment_json(payment, {}));
        return std::move(*response);
      });
}

Response get_one(Context& c, Request& request) {
  const std::string payment_id = id_param(request, "paymentId", "Payment not found");
  const auto payment = c.payments->get(payment_id);
  const auto caller = caller_of(request);
  if (!caller.admin && payment.user_id != caller.user_id) {
    throw forbidden("You can only read your own payments");
  }
  return payment_response(200, *c.payments, payment);
}

Response list_for_order(Context& c, Request& request) {
  const std::string order_id = id_param(request, "orderId", "Order not found");
  FieldErrors errors;
  const http::Page page = http::read_page(request, errors);
  errors.throw_if_any();
  const auto payments = c.payments->for_order(caller_of(request), order_id, context_of(request));
  Json body = Json::array();
  const auto total = static_cast<std::int64_t>(payments.size());
  for (std::int64_t i = page.offset(); i < total && i < page.offset() + page.limit; ++i) {
    const auto& p = payments[static_cast<std::size_t>(i)];
    body.push_back(dto::payment_json(p, c.payments->refunds_of(p.id)));
  }
  Response response = Response::json(200, body);
  http::set_page_headers(response, page, total, "/api/payments/order/" + order_id, "");
  return response;
}

Response refund(Context& c, Request& request) {
  const std::string payment_id = id_param(request, "paymentId", "Payment not found");
  const Json& body = request.json_object();
  FieldErrors errors;
  const auto amount = read_integer(body, "amount", errors, 1, 9'999'999'999);
  c.payments->get(payment_id);  // 404 before 400
  errors.throw_if_any();
  // With a key, the refund id is derived from it: a retry after an unanswered provider call
  // (whose claim was dropped) finds the pending refund and asks the provider again with the same
  // provider key, instead of refunding a second time.
  std::function<std::string()> refund_id_of = new_object_id;
  if (const auto key = idempotency::key_of(request)) {
    const std::string derived = sha256_hex(key->scope + "\n" + key->route + "\n" + key->key);
    refund_id_of = [derived] { return derived.substr(0, 24); };
  }
  return c.idempotency->run_two_phase(
      request, refund_id_of,
      [&](const std::string& refund_id, const idempotency::Idempotency::Complete& complete) {
        std::optional<Response> response;
        c.payments->refund(payment_id, amount, refund_id, [&](db::Tx& tx, const domain::Refund& r) {
          response = Response::json(201, dto::refund_json(r));
          complete(tx, *response);
        });
        return std::move(*response);
      });
}

// order-service cancelling a paid order (caller `order`): 200 with the refund, or
// {"refund": null} when the order has no payment to refund (paid offline).
Response refund_order(Context& c, Request& request) {
  const std::string order_id = id_param(request, "orderId", "Order not found");
  const auto refund = c.payments->refund_order(order_id);
  return Response::json(200, Json{{"refund", refund ? dto::refund_json(*refund) : Json(nullptr)}});
}

// Stripe's webhook: the raw body's signature first (400 for any doubt), then the event.
Response webhook(Context& c, Request& request) {
  if (c.webhook_secret.empty()) {
    throw bad_request("Webhooks are not configured: set STRIPE_WEBHOOK_SECRET");
  }
  const auto header = request.header("Stripe-Signature");
  if (!header) {
    throw bad_request("Stripe-Signature is required", {{"Stripe-Signature", "missing"}});
  }
  using domain::SignatureCheck;
  switch (domain::verify_stripe_signature(*header, request.body, c.webhook_secret, now_ms() / 1000,
                                          c.webhook_tolerance_s)) {
    case SignatureCheck::Valid: break;
    case SignatureCheck::Malformed:
      throw bad_request("Stripe-Signature is malformed: expected t=…,v1=…",
                        {{"Stripe-Signature", "malformed"}});
    case SignatureCheck::NoMatch:
      throw bad_request("Stripe-Signature does not match the body",
                        {{"Stripe-Signature", "no signature matches"}});
    case SignatureCheck::Expired:
      throw bad_request("Stripe-Signature is too old (or from the future): more than " +
                            std::to_string(c.webhook_tolerance_s) + " s away",
                        {{"Stripe-Signature", "timestamp outside the tolerance"}});
  }
  const Json event = parse_json(request.body);
  if (!event.is_object()) throw bad_request("The event must be a JSON object");
  c.payments->handle_event(event);
  return Response::json(200, Json{{"received", true}});
}

}  // namespace

void register_payment_handlers(App& app, const std::shared_ptr<Payments>& payments,
                               const std::shared_ptr<idempotency::Idempotency>& idempotency,
                               const PaymentConfig& config) {
  using http::Access;
  using http::Method;
  auto context = std::make_shared<Context>(
      Context{payments, idempotency, config.webhook_secret, config.webhook_tolerance_s});
  auto bind = [context](Response (*fn)(Context&, Request&)) {
    return [context, fn](Request& request) { return fn(*context, request); };
  };
  app.route(Method::Post, "/api/payments/webhook", bind(webhook), {Access::Public, false});
  app.route(Method::Post, "/api/payments/:orderId", bind(pay), {Access::User, true});
  app.route(Method::Get, "/api/payments/order/:orderId", bind(list_for_order),
            {Access::User, false});
  app.route(Method::Get, "/api/payments/:paymentId", bind(get_one), {Access::User, false});
  app.route(Method::Post, "/api/payments/:paymentId/refund", bind(refund), {Access::Admin, true});
  // order-service only; the gateway refuses every path with an `internal` segment.
  app.route(Method::Post, "/api/payments/internal/orders/:orderId/refund", bind(refund_order),
            {Access::Internal, false, http::Lane::Worker, {"order"}});
}

}  // namespace emporium::payment
