#include "handlers/reservation_handlers.hpp"

#include "domain/stock.hpp"
#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>

#include <string>

namespace emporium::product {
namespace {

using http::Request;
using http::Response;

constexpr const char* kReservationNotFound = "Reservation not found";
constexpr const char* kProductNotFound = "Product not found";

class Outcomes {
 public:
  explicit Outcomes(obs::Metrics& metrics) : metrics_(metrics) {}
  void count(const char* result) {
    metrics_.increment(kReservationsMetric, "Reservation requests by outcome", "result", result);
  }

 private:
  obs::Metrics& metrics_;
};

std::string reservation_id(const Request& request) {
  std::string id(request.param("id"));
  if (!domain::is_valid_reservation_id(id)) throw not_found(kReservationNotFound);
  return id;
}

Response reserve(Catalog& catalog, Outcomes& outcomes, Request& request) {
  FieldErrors errors;
  const auto reserve_request = domain::read_reserve_request(request.json(), errors);
  errors.throw_if_any();
  try {
    const auto outcome = catalog.reserve(*reserve_request);
    outcomes.count(outcome.replayed ? "replayed" : "held");
    return Response::json(201, dto::reservation_json(outcome.reservation, catalog.currency()));
  } catch (const HttpError& e) {
    if (e.status() == 409) outcomes.count("short");
    throw;
  }
}

Response commit(Catalog& catalog, Outcomes& outcomes, Request& request) {
  const auto reservation = catalog.commit(reservation_id(request));
  outcomes.count("committed");
  return Response::json(200, dto::reservation_state_json(reservation, catalog.currency()));
}

Response release(Catalog& catalog, Outcomes& outcomes, Request& request) {
  const bool released = catalog.release(reservation_id(request));
  if (released) outcomes.count("released");
  return Response::json(200, Json{{"released", released}});
}

Response deduct(Catalog& catalog, Outcomes& outcomes, Request& request) {
  std::string id(request.param("id"));
  if (!is_object_id(id)) throw not_found(kProductNotFound);
  FieldErrors errors;
  const auto deduct_request = domain::read_deduct_request(request.json(), errors);
  if (!errors.empty()) {
    if (!catalog.find(id)) throw not_found(kProductNotFound);  // 404 before 400
    errors.throw_if_any();
  }
  const auto outcome = catalog.deduct(id, *deduct_request);
  outcomes.count("deducted");
  return Response::json(200, Json{{"_id", outcome.product_id}, {"stock", outcome.stock}});
}

}  // namespace

void register_reservation_handlers(App& app, const std::shared_ptr<Catalog>& catalog) {
  using http::Access;
  using http::Method;
  auto outcomes = std::make_shared<Outcomes>(app.metrics());
  auto bind = [catalog, outcomes](Response (*fn)(Catalog&, Outcomes&, Request&)) {
    return [catalog, outcomes, fn](Request& request) { return fn(*catalog, *outcomes, request); };
  };
  // Stock is held, committed and released by order-service only (DESIGN §12).
  const http::RouteOptions by_order{Access::Internal, false, http::Lane::Worker, {"order"}};
  http::RouteOptions by_order_json = by_order;
  by_order_json.json_body = true;
  app.route(Method::Post, "/api/products/reservations", bind(reserve), by_order_json);
  app.route(Method::Post, "/api/products/reservations/:id/commit", bind(commit), by_order);
  app.route(Method::Delete, "/api/products/reservations/:id", bind(release), by_order);
  app.route(Method::Put, "/api/products/:id/deduct", bind(deduct), by_order_json);
}

}  // namespace emporium::product
