// Handlers are thin: check the path id (404 before any 400, DESIGN §4), read the DTO collecting
// every bad field, call the catalog, write the DTO.
#include "handlers/product_handlers.hpp"

#include <emporium/http/etag.hpp>
#include "domain/list_query.hpp"
#include "domain/stock.hpp"
#include "domain/validation.hpp"
#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>

#include <string>
#include <string_view>

namespace emporium::product {
namespace {

using http::Request;
using http::Response;

constexpr const char* kBasePath = "/api/products";
constexpr const char* kProductNotFound = "Product not found";

// The path id, or 404 when it cannot name a product.
std::string product_id(const Request& request) {
  std::string id(request.param("id"));
  if (!is_object_id(id)) throw not_found(kProductNotFound);
  return id;
}

// `If-Match: *` (RFC 9110: any current representation), spaces around it allowed.
bool is_wildcard(std::string_view header) {
  const auto first = header.find_first_not_of(" \t");
  const auto last = header.find_last_not_of(" \t");
  return first != std::string_view::npos && header.substr(first, last - first + 1) == "*";
}

// Field errors are reported only for a product that exists (404 before 400).
void throw_field_errors(Catalog& catalog, const std::string& id, const FieldErrors& errors) {
  if (errors.empty()) return;
  if (!catalog.find(id)) throw not_found(kProductNotFound);
  errors.throw_if_any();
}

Response create_product(Catalog& catalog, Request& request) {
  FieldErrors errors;
  const auto fields =
      domain::read_product_fields(request.json(), domain::Mode::Create, catalog.currency(), errors);
  errors.throw_if_any();
  const domain::Product product = catalog.create(fields);
  Response response = dto::product_response(201, product, catalog.currency());
  response.set_header("Location", std::string(kBasePath) + "/" + product.id);
  return response;
}

Response list_products(Catalog& catalog, Request& request) {
  FieldErrors errors;
  const domain::ListQuery query = domain::parse_list_query(
      [&](std::string_view name) { return request.query(name); }, catalog.currency(), errors);
  errors.throw_if_any();

  const store::ProductPage page = catalog.list(query);
  Json body = Json::array();
  for (const auto& product : page.products) {
    body.push_back(dto::product_json(product, catalog.currency()));
  }
  Response response = Response::json(200, body);
  response.set_header("X-Total-Count", std::to_string(page.total));
  std::string links;
  auto add_link = [&](std::int64_t target, const char* rel) {
    if (!links.empty()) links += ", ";
    links += "<" + std::string(kBasePath) + "?" +
             domain::list_query_string(query, catalog.currency(), target) + ">; rel=\"" + rel +
             "\"";
  };
  if (query.page * query.limit < page.total) add_link(query.page + 1, "next");
  if (query.page > 1) add_link(query.page - 1, "prev");
  if (!links.empty()) response.set_header("Link", links);
  return response;
}

Response list_categories(Catalog& catalog, Request&) {
  return Response::json(200, dto::categories_json(catalog.categories()));
}

// Lane::Memory: on the I/O thread once the catalog's change feed has synced after the request
// arrived (the route's memory gate), answered from the cache or, on a miss, again on a worker.
Response get_product(Catalog& catalog, Request& request) {
  const std::string id = product_id(request);
  store::DocumentPtr document;
  if (request.io_attempt) {
    document = catalog.cached_document(id);
    if (!document) request.leave_io_thread();
  } else {
    document = catalog.document(id, request.memory_gate_passed);
  }
  if (!document) throw not_found(kProductNotFound);
  if (auto header = request.header("If-None-Match");
      header && http::if_none_match_hits(*header, document->etag)) {
    Response response;
    response.status = 304;
    response.content_type.clear();
    response.set_header("ETag", document->etag);
    return response;
  }
  if (document->json.empty())
    return dto::product_response(200, document->product, catalog.currency());
  Response response;
  response.body = document->json;
  response.set_header("ETag", document->etag);
  return response;
}

Response update_product(Catalog& catalog, Request& request) {
  const std::string id = product_id(request);
  FieldErrors errors;
  const auto fields =
      domain::read_product_fields(request.json(), domain::Mode::Update, catalog.currency(), errors);
  Catalog::Preconditions preconditions;
  preconditions.expected_version = domain::read_expected_version(request.json(), errors);
  // `If-Match: *` matches whatever version is current, so it names none: it is passed on like no
  // header at all, and a stock change without __v is 428 (API.md). For other fields it changes
  // nothing, since an unknown product is 404 either way.
  if (auto header = request.header("If-Match"); header && !is_wildcard(*header)) {
    preconditions.if_match = std::string(*header);
  }
  throw_field_errors(catalog, id, errors);
  const domain::Product product = catalog.update(id, fields, preconditions);
  return dto::product_response(200, product, catalog.currency());
}

Response adjust_stock(Catalog& catalog, Request& request) {
  const std::string id = product_id(request);
  FieldErrors errors;
  const auto delta = read_integer(request.json(), "delta", errors, -domain::kMaxStockDelta,
                                  domain::kMaxStockDelta);
  if (!delta && errors.empty()) errors.add("delta", "is required");
  throw_field_errors(catalog, id, errors);
  const domain::Product product = catalog.adjust_stock(id, *delta);
  return dto::product_response(200, product, catalog.currency());
}

Response delete_product(Catalog& catalog, Request& request) {
  catalog.remove(product_id(request));
  return Response::json(200, Json{{"msg", "Product deleted"}});
}

}  // namespace

void register_product_handlers(App& app, const std::shared_ptr<Catalog>& catalog) {
  using http::Access;
  using http::Method;
  const http::RouteOptions admin_json{Access::Admin, true};
  auto bind = [catalog](Response (*fn)(Catalog&, Request&)) {
    return [catalog, fn](Request& request) { return fn(*catalog, request); };
  };
  app.route(Method::Post, "/api/products/create", bind(create_product), admin_json);
  app.route(Method::Post, "/api/products", bind(create_product), admin_json);
  app.route(Method::Get, "/api/products", bind(list_products), {Access::Public, false});
  app.route(Method::Get, "/api/products/categories", bind(list_categories),
            {Access::Public, false});
  http::RouteOptions from_memory{Access::Public, false, http::Lane::Memory};
  from_memory.memory_gate = [catalog](Request&, std::function<void(bool)> ready) {
    catalog->sync_async(std::move(ready));
  };
  app.route(Method::Get, "/api/products/:id", bind(get_product), from_memory);
  app.route(Method::Put, "/api/products/:id", bind(update_product), admin_json);
  app.route(Method::Post, "/api/products/:id/stock", bind(adjust_stock), admin_json);
  app.route(Method::Delete, "/api/products/:id", bind(delete_product), {Access::Admin, false});
}

}  // namespace emporium::product
