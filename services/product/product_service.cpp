#include "product_service.hpp"

#include "catalog.hpp"
#include "handlers/dto.hpp"
#include "handlers/product_handlers.hpp"
#include "handlers/reservation_handlers.hpp"
#include "store/product_cache.hpp"

#include <emporium/json/json.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>

namespace emporium::product {
namespace {

// Change-log rows the SQLite instances keep for each other (migrations/sqlite/003).
constexpr std::int64_t kChangeLogKeep = 100'000;

// The product cache, kept coherent by the change feed of `products` (migrations 003), with its
// metrics.
void attach_product_cache(App& app, const ProductConfig& config, Catalog& catalog) {
  auto cache = std::make_shared<store::ProductCache>(static_cast<std::size_t>(config.cache_mb) *
                                                     1024 * 1024);
  db::ChangeFeedSpec spec;
  spec.channel = "emporium_products";
  spec.log_table = "product_changes";
  spec.barrier_timeout_ms = config.cache_sync_timeout_ms;
  std::shared_ptr<db::ChangeFeed> feed = app.db().change_feed(spec);
  feed->start(
      {[cache](std::string_view id) { cache->invalidate(id); }, [cache] { cache->clear(); }});
  catalog.attach_cache(cache, feed, [currency = config.currency](const domain::Product& p) {
    return dump_json(dto::product_json(p, currency));
  });

  app.metrics().add_counter_source([cache, feed] {
    const auto c = cache->stats();
    const auto f = feed->stats();
    auto sample = [](const char* name, const char* help, std::uint64_t value) {
      return obs::CounterSample{name, help, {}, static_cast<double>(value)};
    };
    return std::vector<obs::CounterSample>{
        sample("product_cache_hits_total", "Product reads answered from memory", c.hits),
        sample("product_cache_misses_total", "Product reads that went to the database", c.misses),
        sample("product_cache_invalidations_total",
               "Cached products dropped because their row changed", c.invalidations),
        sample("product_cache_evictions_total", "Cached products dropped for the size bound",
               c.evictions),
        sample("product_cache_resets_total",
               "Times the whole cache was dropped (start, lost feed session, bulk change)",
               c.resets),
        sample("product_cache_stale_fills_total",
               "Reads not cached because their row changed while they were read", c.stale_fills),
        sample("product_cache_syncs_total", "Change feed round trips (barriers, log reads)",
               f.syncs),
        sample("product_cache_sync_failures_total",
               "Reads sent to the database because the change feed could not vouch for the cache",
               f.failures),
    };
  });
  // The feed stops when the drain begins: the syncs still waiting answer false (their reads go
  // to the database) while the server can still take their answers, and none is left for after.
  app.background("product-cache-feed", [feed](std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait(lock, stop, [] { return false; });
    feed->stop();
  });
  app.every("product-cache", 1000, [cache, feed, &metrics = app.metrics(), ticks = 0]() mutable {
    const auto c = cache->stats();
    metrics.set_gauge("product_cache_entries", "Products held in memory", "cache", "products",
                      static_cast<double>(c.entries));
    metrics.set_gauge("product_cache_bytes", "Bytes the cached products count against the bound",
                      "cache", "products", static_cast<double>(c.bytes));
    metrics.set_gauge("product_cache_max_bytes", "The bound (PRODUCT_CACHE_MB)", "cache",
                      "products", static_cast<double>(cache->max_bytes()));
    if (++ticks % 10 == 0) feed->prune(kChangeLogKeep);
  });
}

}  // namespace

void register_product_service(App& app, const ProductConfig& config) {
  CatalogOptions options;
  options.currency = config.currency;
  options.reservation_ttl_ms = config.reservation_ttl_s * 1000;
  auto catalog = std::make_shared<Catalog>(app.db(), options);
  if (config.cache_mb > 0) attach_product_cache(app, config, *catalog);

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
