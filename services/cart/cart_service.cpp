#include "cart_service.hpp"

#include "carts.hpp"
#include "catalog/http_product_catalog.hpp"
#include "handlers/cart_handlers.hpp"

#include <utility>

namespace emporium::cart {

void register_cart_service(App& app, const CartConfig& config) {
  http::HttpClient client("product-service", config.products.base_urls, config.products.options);
  // The client's calls, retries, failures and breaker openings on /metrics.
  app.metrics().add_counter_source(client.counter_source());
  register_cart_service(app, config,
                        std::make_shared<catalog::HttpProductCatalog>(std::move(client),
                                                                      config.currency, &app.log()));
}

void register_cart_service(App& app, const CartConfig& config,
                           std::shared_ptr<catalog::ProductCatalog> catalog) {
  auto carts = std::make_shared<Carts>(app.db(), std::move(catalog), &app.log(), &app.metrics());
  register_cart_handlers(app, carts, config.currency);
}

}  // namespace emporium::cart
