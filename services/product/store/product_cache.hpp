// Product documents kept in memory (DESIGN §7), bounded in bytes and least-recently-used first
// out. The cache itself knows nothing of the database: Catalog fills it after a read and the
// change feed (db/change_feed.hpp) empties what any instance changed. A fill races with the
// invalidations of the row it read: `ticket()` is taken before the read, and `put()` drops the
// document when its id's shard saw an invalidation (or a reset) since, so an old version read
// before a change can never be stored after that change's invalidation.
#pragma once

#include "domain/product.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace emporium::product::store {

// A product with its rendered JSON document and ETag, immutable once made.
struct ProductDocument {
  domain::Product product;
  std::string json;  // the body of GET /api/products/:id
  std::string etag;
};
using DocumentPtr = std::shared_ptr<const ProductDocument>;

class ProductCache {
 public:
  // Many shards: an invalidation drops the fills in flight of its whole shard. The bound is
  // split evenly over them.
  static constexpr std::size_t kShards = 64;

  // At most `max_bytes` of documents (an estimate of what each holds); 0 disables the cache.
  explicit ProductCache(std::size_t max_bytes);

  bool enabled() const { return max_bytes_ > 0; }

  // The document of `id` or null; counts a hit, and a miss unless `count_miss` is false (a
  // lookup that will be made again elsewhere).
  DocumentPtr find(std::string_view id, bool count_miss = true);

  using Ticket = std::uint64_t;
  // Take before reading the row that will fill the cache.
  Ticket ticket(std::string_view id) const;
  // Stores `document` unless its id was invalidated since `ticket`, or it alone is larger than
  // a shard's share of the bound.
  void put(DocumentPtr document, Ticket ticket);

  void invalidate(std::string_view id);
  void clear();

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t invalidations = 0;  // entries dropped because their row changed
    std::uint64_t evictions = 0;      // entries dropped for the bound
    std::uint64_t resets = 0;
    std::uint64_t stale_fills = 0;  // fills dropped because the row changed during the read
    std::size_t entries = 0;
    std::size_t bytes = 0;
  };
  Stats stats() const;
  std::size_t max_bytes() const { return max_bytes_; }

  // What one document counts against the bound.
  static std::size_t cost(const ProductDocument& document);

 private:
  struct Entry {
    DocumentPtr document;
    std::size_t bytes;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::list<Entry> lru;                                                    // most recent first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // keys view lru
    std::size_t bytes = 0;
    std::uint64_t generation = 0;  // moves on every invalidation of a key of this shard
    std::uint64_t evictions = 0;
    std::uint64_t invalidations = 0;
    std::uint64_t stale_fills = 0;
  };
  Shard& shard_of(std::string_view id) const;
  static void erase(Shard& shard, std::list<Entry>::iterator it);

  std::size_t max_bytes_;
  std::size_t shard_bytes_;
  mutable std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> resets_{0};
};

}  // namespace emporium::product::store
