// The product cache on its own (store/product_cache.hpp): the byte bound under a scan of a million
// ids, least recently used out first, and fills that raced with an invalidation dropped.
#include "store/product_cache.hpp"

#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emporium::product::store {
namespace {

DocumentPtr document(const std::string& id, std::size_t description_bytes = 200,
                     std::int64_t version = 0) {
  auto d = std::make_shared<ProductDocument>();
  d->product.id = id;
  d->product.name = "Widget " + id;
  d->product.description = std::string(description_bytes, 'd');
  d->product.category = "misc";
  d->product.version = version;
  d->json = R"({"_id":")" + id + R"(","description":")" + d->product.description + R"("})";
  d->etag = "\"" + id + "-" + std::to_string(version) + "\"";
  return d;
}

std::string id_of(int i) {
  char buf[25];
  std::snprintf(buf, sizeof buf, "%024x", i);
  return buf;
}

TEST(ProductCache, StaysWithinItsBoundUnderAMillionIdScan) {
  constexpr std::size_t kBound = 1024 * 1024;
  ProductCache cache(kBound);
  std::size_t most = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    const std::string id = id_of(i);
    ASSERT_EQ(cache.find(id), nullptr);
    cache.put(document(id), cache.ticket(id));
    if (i % 10'000 == 0) most = std::max(most, cache.stats().bytes);
  }
  const auto s = cache.stats();
  most = std::max(most, s.bytes);
  EXPECT_LE(most, kBound);
  EXPECT_GT(s.entries, 500u) << "a 1 MiB cache of ~1.2 KiB entries holds over 500";
  EXPECT_EQ(s.misses, 1'000'000u);
  EXPECT_EQ(s.evictions + s.entries, 1'000'000u);
  // The most recent ids are the ones kept.
  EXPECT_NE(cache.find(id_of(999'999)), nullptr);
  EXPECT_EQ(cache.find(id_of(0)), nullptr);
}

TEST(ProductCache, KeepsWhatIsReadAgainAndEvictsTheLeastRecentlyUsed) {
  // One shard's share of the bound fits a few documents; ids chosen in one shard.
  const std::size_t one = ProductCache::cost(*document(id_of(0)));
  ProductCache cache(ProductCache::kShards * one * 3);  // three documents per shard
  std::vector<std::string> same_shard;
  for (int i = 0; same_shard.size() < 4; ++i) {
    const std::string id = id_of(i);
    const auto shard = [](const std::string& s) {
      return std::hash<std::string_view>{}(s) % ProductCache::kShards;
    };
    if (shard(id) == shard(id_of(0))) {
      same_shard.push_back(id);
    }
  }
  for (int i = 0; i < 3; ++i) cache.put(document(same_shard[i]), cache.ticket(same_shard[i]));
  ASSERT_NE(cache.find(same_shard[0]), nullptr);  // now the most recent
  cache.put(document(same_shard[3]), cache.ticket(same_shard[3]));
  EXPECT_NE(cache.find(same_shard[0]), nullptr);
  EXPECT_EQ(cache.find(same_shard[1]), nullptr) << "the least recently used goes first";
  EXPECT_NE(cache.find(same_shard[3]), nullptr);
}

TEST(ProductCache, AFillThatRacedWithAnInvalidationIsDropped) {
  ProductCache cache(1024 * 1024);
  const std::string id = new_object_id();
  const auto ticket = cache.ticket(id);  // taken before the read
  cache.invalidate(id);                  // the row changed while it was read
  cache.put(document(id), ticket);
  EXPECT_EQ(cache.find(id), nullptr);
  EXPECT_EQ(cache.stats().stale_fills, 1u);
  cache.put(document(id, 200, 1), cache.ticket(id));
  ASSERT_NE(cache.find(id), nullptr);
  EXPECT_EQ(cache.find(id)->product.version, 1);
}

TEST(ProductCache, InvalidateAndClearDropEntriesAndFillsInFlight) {
  ProductCache cache(1024 * 1024);
  const std::string a = new_object_id();
  const std::string b = new_object_id();
  cache.put(document(a), cache.ticket(a));
  cache.put(document(b), cache.ticket(b));
  cache.invalidate(a);
  EXPECT_EQ(cache.find(a), nullptr);
  EXPECT_NE(cache.find(b), nullptr);
  EXPECT_EQ(cache.stats().invalidations, 1u);
  const auto in_flight = cache.ticket(a);
  cache.clear();
  EXPECT_EQ(cache.find(b), nullptr);
  cache.put(document(a), in_flight);
  EXPECT_EQ(cache.find(a), nullptr);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(ProductCache, ADocumentLargerThanAShardIsNotKept) {
  ProductCache cache(ProductCache::kShards * 1024);  // 1 KiB per shard
  const std::string id = new_object_id();
  cache.put(document(id, 4096), cache.ticket(id));
  EXPECT_EQ(cache.find(id), nullptr);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(ProductCache, ZeroBytesDisablesIt) {
  ProductCache cache(0);
  EXPECT_FALSE(cache.enabled());
  const std::string id = new_object_id();
  cache.put(document(id), cache.ticket(id));
  EXPECT_EQ(cache.find(id), nullptr);
}

}  // namespace
}  // namespace emporium::product::store
