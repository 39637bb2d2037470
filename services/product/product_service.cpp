#include "product_service.hpp"

#include "catalog.hpp"
#include "handlers/product_handlers.hpp"
#include "handlers/reservation_handlers.hpp"

#include <memory>

namespace emporium::product {

void register_product_service(App& app, const ProductConfig& config) {
  CatalogOptions options;
  options.currency = config.currency;
  options.reservation_ttl_ms = config.reservation_ttl_s * 1000;
  auto catalog = std::make_shared<Catalog>(app.db(), options);

  register_product_handlers(app, catalog);
  register_reservation_handlers(app, catalog);

  // Every instance sweeps; each release is guarded by the reservation's state, so an expired
  // reservation is released exactly once whoever gets there first.
  app.every("reservation-sweeper", config.reservation_sweep_ms, [catalog, &log = app.log()] {
    const auto result = catalog->sweep();
    if (result.released > 0 || result.purged > 0) {
      log.info("reservations swept", {{"released", result.released}, {"purged", result.purged}});
    }
  });
}

}  // namespace emporium::product
