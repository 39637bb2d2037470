#include "catalog/http_product_catalog.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>

#include <algorithm>
#include <limits>
#include <utility>

namespace emporium::cart::catalog {
namespace {

constexpr const char* kProductsPath = "/api/products";
// DESIGN §5 bound on stock.
constexpr std::int64_t kMaxStock = 1'000'000'000;

HttpError unavailable() {
  return service_unavailable("product-service is unavailable");
}

}  // namespace

std::optional<domain::Product> product_from_json(const Json& document, const Currency& currency) {
  if (!document.is_object()) return std::nullopt;
  if (const auto it = document.find("currency");
      it != document.end() &&
      !(it->is_string() && it->get_ref<const std::string&>() == currency.code)) {
    return std::nullopt;
  }
  FieldErrors errors;
  const auto id = read_string(document, "_id", errors, 24, 24);
  const auto name =
      read_string(document, "name", errors, 0, std::numeric_limits<std::size_t>::max());
  const auto stock =
      read_integer(document, "stock", errors, std::numeric_limits<std::int64_t>::min(),
                   std::numeric_limits<std::int64_t>::max());
  const auto price_it = document.find("price");
  const auto price =
      price_it == document.end() ? std::nullopt : price_from_json(*price_it, currency);
  if (!errors.empty() || !id || !name || !price || !stock || !is_object_id(*id)) {
    return std::nullopt;
  }
  // A negative stock would be product-service's bug; it still means nothing can be sold.
  return domain::Product{*id, *name, *price,
                         std::min(std::max<std::int64_t>(*stock, 0), kMaxStock)};
}

std::optional<std::vector<domain::Product>> products_from_json(const Json& documents,
                                                               const Currency& currency) {
  if (!documents.is_array()) return std::nullopt;
  std::vector<domain::Product> products;
  products.reserve(documents.size());
  for (const Json& document : documents) {
    auto product = product_from_json(document, currency);
    if (!product) return std::nullopt;
    products.push_back(std::move(*product));
  }
  return products;
}

HttpProductCatalog::HttpProductCatalog(http::HttpClient client, Currency currency,
                                       const obs::Logger* log)
    : client_(std::move(client)), currency_(std::move(currency)), log_(log) {}

http::ClientResponse HttpProductCatalog::get(std::string path, const CallContext& context) const {
  http::ClientRequest request;
  request.method = http::Method::Get;
  request.path = std::move(path);
  request.request_id = context.request_id;
  request.traceparent = context.traceparent;
  return client_.call(request);  // throws service_unavailable when no instance answers
}

void HttpProductCatalog::warn(const char* what, const Json& fields) const {
  if (log_ != nullptr) log_->warn(what, fields);
}

std::optional<domain::Product> HttpProductCatalog::find(const std::string& product_id,
                                                        const CallContext& context) {
  const http::ClientResponse response = get(std::string(kProductsPath) + "/" + product_id, context);
  if (response.status == 404) return std::nullopt;
  if (response.status != 200) {
    warn("product-service answered a product lookup unexpectedly",
         {{"requestId", context.request_id},
          {"status", response.status},
          {"instance", response.instance}});
    throw unavailable();
  }
  std::optional<domain::Product> product;
  try {
    product = product_from_json(response.json(), currency_);
  } catch (const HttpError&) {
    // not JSON: handled below like any other malformed document
  }
  if (!product || product->id != product_id) {
    warn("product-service sent a malformed product",
         {{"requestId", context.request_id}, {"instance", response.instance}});
    throw unavailable();
  }
  return product;
}

std::optional<std::vector<domain::Product>> HttpProductCatalog::find_many(
    const std::vector<std::string>& product_ids, const CallContext& context) {
  std::vector<domain::Product> products;
  if (product_ids.empty()) return products;
  std::string path = std::string(kProductsPath) + "?ids=";
  for (std::size_t i = 0; i < product_ids.size(); ++i) {
    if (i > 0) path += ',';
    path += product_ids[i];  // 24-hex: nothing to percent-encode
  }
  path += "&limit=" + std::to_string(domain::kMaxLines);

  std::optional<http::ClientResponse> response;
  std::optional<Json> body;
  try {
    response = get(std::move(path), context);
    if (response->status == 200) body = response->json();
  } catch (const HttpError& e) {
    // service_unavailable from the client, or bad_gateway for a body that is not JSON.
    warn("product-service could not price a cart",
         {{"requestId", context.request_id}, {"status", e.status()}, {"error", e.detail()}});
    return std::nullopt;
  }
  if (!body) {
    warn("product-service answered a product listing unexpectedly",
         {{"requestId", context.request_id},
          {"status", response->status},
          {"instance", response->instance}});
    return std::nullopt;
  }
  auto listed = products_from_json(*body, currency_);
  if (!listed) {
    warn("product-service sent a malformed product listing",
         {{"requestId", context.request_id}, {"instance", response->instance}});
  }
  return listed;
}

}  // namespace emporium::cart::catalog
