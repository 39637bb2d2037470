#include "store/product_cache.hpp"

#include <functional>

namespace emporium::product::store {

ProductCache::ProductCache(std::size_t max_bytes)
    : max_bytes_(max_bytes), shard_bytes_(max_bytes / kShards) {}

std::size_t ProductCache::cost(const ProductDocument& d) {
  const auto& p = d.product;
  std::size_t images = 0;
  for (const auto& url : p.images) images += url.capacity() + sizeof(std::string);
  // The entry, its list node and index slot, the shared_ptr's control block, and every string
  // the document owns.
  return sizeof(ProductDocument) + 128 + d.json.capacity() + d.etag.capacity() + p.id.capacity() +
         p.name.capacity() + p.description.capacity() + p.category.capacity() +
         (p.sku ? p.sku->capacity() : 0) + images;
}

ProductCache::Shard& ProductCache::shard_of(std::string_view id) const {
  return shards_[std::hash<std::string_view>{}(id) % kShards];
}

void ProductCache::erase(Shard& shard, std::list<Entry>::iterator it) {
  shard.bytes -= it->bytes;
  shard.index.erase(std::string_view(it->document->product.id));
  shard.lru.erase(it);
}

DocumentPtr ProductCache::find(std::string_view id, bool count_miss) {
  if (!enabled()) return nullptr;
  Shard& shard = shard_of(id);
  {
    std::lock_guard lock(shard.mutex);
    auto it = shard.index.find(id);
    if (it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second->document;
    }
  }
  if (count_miss) misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

ProductCache::Ticket ProductCache::ticket(std::string_view id) const {
  const Shard& shard = shard_of(id);
  std::lock_guard lock(shard.mutex);
  return shard.generation;
}

void ProductCache::put(DocumentPtr document, Ticket ticket) {
  if (!enabled() || !document) return;
  const std::size_t bytes = cost(*document);
  Shard& shard = shard_of(document->product.id);
  std::lock_guard lock(shard.mutex);
  if (shard.generation != ticket) {
    ++shard.stale_fills;
    return;
  }
  if (bytes > shard_bytes_) return;
  if (auto it = shard.index.find(document->product.id); it != shard.index.end()) {
    erase(shard, it->second);
  }
  shard.lru.push_front(Entry{std::move(document), bytes});
  shard.index.emplace(std::string_view(shard.lru.front().document->product.id), shard.lru.begin());
  shard.bytes += bytes;
  while (shard.bytes > shard_bytes_) {
    erase(shard, std::prev(shard.lru.end()));
    ++shard.evictions;
  }
}

void ProductCache::invalidate(std::string_view id) {
  Shard& shard = shard_of(id);
  std::lock_guard lock(shard.mutex);
  ++shard.generation;
  if (auto it = shard.index.find(id); it != shard.index.end()) {
    erase(shard, it->second);
    ++shard.invalidations;
  }
}

void ProductCache::clear() {
  resets_.fetch_add(1, std::memory_order_relaxed);
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    ++shard.generation;
    shard.index.clear();
    shard.lru.clear();
    shard.bytes = 0;
  }
}

ProductCache::Stats ProductCache::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.resets = resets_.load(std::memory_order_relaxed);
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    s.entries += shard.lru.size();
    s.bytes += shard.bytes;
    s.evictions += shard.evictions;
    s.invalidations += shard.invalidations;
    s.stale_fills += shard.stale_fills;
  }
  return s;
}

}  // namespace emporium::product::store
