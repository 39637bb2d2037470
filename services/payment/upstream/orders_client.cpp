#include "upstream/orders_client.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>
#include <emporium/util/text.hpp>

#include <utility>

namespace emporium::payment::upstream {
namespace {

constexpr const char* kBase = "/api/orders/internal/";

std::string member(const Json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

OrdersClient::OrdersClient(http::HttpClient client) : client_(std::move(client)) {}

http::ClientResponse OrdersClient::call(http::Method method, std::string path, std::string body,
                                        const CallContext& context) const {
  http::ClientRequest request;
  request.method = method;
  request.path = std::move(path);
  request.body = std::move(body);
  request.request_id = context.request_id;
  request.traceparent = context.traceparent;
  request.idempotent = true;  // every internal route is idempotent by order and payment id
  return client_.call(request);
}

std::optional<Refusal> OrdersClient::outcome(const http::ClientResponse& response) const {
  if (response.status == 200) return std::nullopt;
  if (response.status == 409 || response.status == 404) {
    const Json problem = response.json();
    Refusal refusal;
    refusal.code = response.status == 404 ? "order_not_found" : member(problem, "code");
    refusal.status = member(problem, "orderStatus");
    refusal.detail = member(problem, "detail");
    if (auto retry = response.header("Retry-After")) refusal.retry_after = std::string(*retry);
    return refusal;
  }
  throw service_unavailable("order-service is unavailable");
}

std::optional<OrderView> OrdersClient::get(const std::string& order_id,
                                           const CallContext& context) const {
  const auto response = call(http::Method::Get, kBase + order_id, {}, context);
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) throw service_unavailable("order-service is unavailable");
  const Json order = response.json();
  OrderView view;
  view.id = member(order, "_id");
  view.user_id = member(order, "userId");
  view.currency = member(order, "currency");
  view.status = member(order, "status");
  const auto amount = order.find("amount");
  if (view.id != order_id || view.user_id.empty() || amount == order.end() ||
      !amount->is_number_integer()) {
    throw bad_gateway("order-service answered a malformed order");
  }
  view.amount = amount->get<std::int64_t>();
  Json public_order = order;
  for (const char* internal : {"amount", "paymentLease", "paidPaymentId", "customer", "history"}) {
    public_order.erase(internal);
  }
  const auto customer = order.find("customer");
  view.snapshot = Json{
      {"order", std::move(public_order)},
      {"customer", customer != order.end() && customer->is_object() ? *customer : Json(nullptr)}};
  return view;
}

std::optional<Refusal> OrdersClient::take_lease(const std::string& order_id,
                                                const std::string& payment_id, std::int64_t ttl_s,
                                                const CallContext& context) const {
  return outcome(call(http::Method::Post, kBase + order_id + "/payment-lease",
                      dump_json(Json{{"paymentId", payment_id}, {"ttlSeconds", ttl_s}}), context));
}

void OrdersClient::drop_lease(const std::string& order_id, const std::string& payment_id,
                              const CallContext& context) const {
  outcome(call(http::Method::Delete,
               kBase + order_id + "/payment-lease/" + percent_encode(payment_id), {}, context));
}

std::optional<Refusal> OrdersClient::mark_paid(const std::string& order_id,
                                               const std::string& payment_id,
                                               const CallContext& context) const {
  return outcome(call(http::Method::Post, kBase + order_id + "/paid",
                      dump_json(Json{{"paymentId", payment_id}}), context));
}

std::optional<Refusal> OrdersClient::mark_failed(const std::string& order_id,
                                                 const std::string& payment_id,
                                                 const std::string& reason,
                                                 const CallContext& context) const {
  return outcome(call(http::Method::Post, kBase + order_id + "/payment-failed",
                      dump_json(Json{{"paymentId", payment_id}, {"reason", reason}}), context));
}

}  // namespace emporium::payment::upstream
