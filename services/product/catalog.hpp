// The use cases of product-service: each runs in one database transaction, applies the rules of
// DESIGN §5 (stock that cannot be oversold, reservations held once and settled once, optimistic
// concurrency) and throws the HttpError a caller should see. Nothing here lives in memory between
// calls, so any number of instances can share one database (DESIGN §7). The clock and the id
// generator come in through the constructor so tests control them.
#pragma once

#include "domain/list_query.hpp"
#include "domain/product.hpp"
#include "domain/stock.hpp"
#include "store/product_cache.hpp"
#include "store/product_store.hpp"

#include <emporium/db/change_feed.hpp>
#include <emporium/db/database.hpp>
#include <emporium/money/currency.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::product {

struct CatalogOptions {
  Currency currency;
  std::int64_t reservation_ttl_ms = 2'700'000;  // 45 min
  std::int64_t sweep_batch = 100;               // expired reservations released per query
  std::int64_t sweep_max_batches = 20;          // per sweep, so one tick stays short
  // Committed and released reservations are kept this long to answer retries, then deleted.
  std::int64_t retain_finished_ms = 30LL * 24 * 3600 * 1000;
};

class Catalog {
 public:
  using Clock = std::function<std::int64_t()>;
  using IdGenerator = std::function<std::string()>;

  Catalog(db::Database& db, CatalogOptions options, Clock clock = {}, IdGenerator ids = {});

  const Currency& currency() const { return options_.currency; }

  // ---- products
  // `fields` as validated for Mode::Create.
  domain::Product create(const domain::ProductFields& fields);
  std::optional<domain::Product> find(std::string_view id);

  struct Preconditions {
    std::optional<std::string> if_match;           // the If-Match header as sent
    std::optional<std::int64_t> expected_version;  // the body's __v
  };
  // 404 unknown, 412 If-Match does not match, 409 __v is not current, 428 `stock` without
  // either. Unchanged fields do not bump the version.
  domain::Product update(std::string_view id, const domain::ProductFields& fields,
                         const Preconditions& preconditions);
  // 404 unknown, 409 below the held units, 400 (`delta`) above the stock limit.
  domain::Product adjust_stock(std::string_view id, std::int64_t delta);
  // 404 unknown. Soft delete: reservations naming the product still settle.
  void remove(std::string_view id);
  // A listing by `ids` alone (with sort, paging, category, price and stock filters but no text
  // search) is served from the product documents below; any other goes to the database.
  store::ProductPage list(const domain::ListQuery& query);

  // ---- product documents (GET /:id), from memory while a change feed keeps them coherent
  using Render = std::function<std::string(const domain::Product&)>;
  // Serves documents from `cache`, kept coherent by `feed` (started, its handlers emptying
  // `cache`); `render` makes a document's JSON.
  void attach_cache(std::shared_ptr<store::ProductCache> cache,
                    std::shared_ptr<db::ChangeFeed> feed, Render render);
  // Syncs the feed (unless `synced`: a sync that began after the request arrived answered true
  // already), then answers from the cache or reads (and caches) the product. Null when unknown
  // or deleted. Blocking: worker lane.
  store::DocumentPtr document(std::string_view id, bool synced = false);
  // Does not block: `done(true)` once every change committed before this call is out of the
  // cache (then cached_document() may answer), `done(false)` when the cache cannot be trusted now.
  void sync_async(std::function<void(bool)> done);
  // After sync_async answered true for this request: the cached document, or null (the miss is
  // counted by the document() call that follows).
  store::DocumentPtr cached_document(std::string_view id);
  std::vector<domain::CategoryCount> categories();

  // ---- reservations
  struct ReserveOutcome {
    domain::Reservation reservation;
    bool replayed = false;
  };
  // All lines held or none (409 with shortLines); a retry with the same lines replays the
  // original reservation; the same id with other lines is 422.
  ReserveOutcome reserve(const domain::ReserveRequest& request);
  // Idempotent; 404 unknown, 409 released or expired.
  domain::Reservation commit(std::string_view reservation_id);
  // True when this call released it; false when it was already committed or released; 404
  // unknown.
  bool release(std::string_view reservation_id);

  struct DeductOutcome {
    std::string product_id;
    std::int64_t stock = 0;  // sellable stock right after the deduction
  };
  // A one-line reservation committed at once; a retry answers the same; 404, 409, 422.
  DeductOutcome deduct(std::string_view product_id, const domain::DeductRequest& request);

  struct SweepResult {
    std::int64_t released = 0;
    std::int64_t purged = 0;
  };
  // Releases held reservations past their expiry (each exactly once, whichever instance gets
  // there first) and deletes long-finished ones.
  SweepResult sweep();

 private:
  std::int64_t now() const { return clock_(); }
  // Runs `fn` in a TxKind::WriteCommitted transaction (READ COMMITTED on PostgreSQL).
  template <class F>
  auto stock_tx(F&& fn);
  bool release_with_reason(std::string_view reservation_id, std::string_view reason);

  // Reads `id` and, when `synced`, caches it unless it changed meanwhile.
  store::DocumentPtr read_document(std::string_view id, bool synced);
  store::DocumentPtr make_document(domain::Product product) const;
  store::ProductPage list_by_ids(const domain::ListQuery& query);

  db::Database& db_;
  CatalogOptions options_;
  std::shared_ptr<store::ProductCache> cache_;
  std::shared_ptr<db::ChangeFeed> feed_;
  Render render_;
  Clock clock_;
  IdGenerator ids_;
};

}  // namespace emporium::product
