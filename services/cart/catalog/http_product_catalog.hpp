// ProductCatalog over product-service's public read routes, through the core HttpClient:
//   find       GET /api/products/:id                    200 product, 404 absent
//   find_many  GET /api/products?ids=a,b,c&limit=100    200 array of the products that exist
// Policy (the client's, see emporium/http/client.hpp): PRODUCT_SERVICE_TIMEOUT_MS per attempt;
// both calls are GETs, so an attempt that failed is retried on another instance; a breaker keeps
// a failing instance out for CIRCUIT_OPEN_MS. Any other answer (a 4xx or 5xx we did not expect, a
// body that is not a product) means product-service cannot be used now: `find` throws 503,
// `find_many` returns nullopt. The details go to the log, never to the client.
#pragma once

#include "catalog/product_catalog.hpp"

#include <emporium/http/client.hpp>
#include <emporium/json/json.hpp>
#include <emporium/money/currency.hpp>
#include <emporium/obs/log.hpp>

#include <optional>
#include <string>
#include <vector>

namespace emporium::cart::catalog {

class HttpProductCatalog final : public ProductCatalog {
 public:
  // Prices are read in `currency`, the store's. `log` may be null (tests).
  HttpProductCatalog(http::HttpClient client, Currency currency, const obs::Logger* log);

  std::optional<domain::Product> find(const std::string& product_id,
                                      const CallContext& context) override;
  std::optional<std::vector<domain::Product>> find_many(const std::vector<std::string>& product_ids,
                                                        const CallContext& context) override;

  const http::HttpClient& client() const { return client_; }

 private:
  http::ClientResponse get(std::string path, const CallContext& context) const;
  void warn(const char* what, const Json& fields) const;

  http::HttpClient client_;
  Currency currency_;
  const obs::Logger* log_;
};

// A product document from product-service as the cart's model; nullopt when a member the cart
// needs (`_id` 24-hex, `name`, `price` in `currency`, integer `stock`) is missing or malformed, or
// when the document names another `currency` (a deployment error: the cart cannot price it).
// Exposed for tests.
std::optional<domain::Product> product_from_json(const Json& document, const Currency& currency);
// A listing (a JSON array of product documents); nullopt when it or any member is malformed.
std::optional<std::vector<domain::Product>> products_from_json(const Json& documents,
                                                               const Currency& currency);

}  // namespace emporium::cart::catalog
