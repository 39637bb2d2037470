// Catalog use cases against a real database: SQLite always, PostgreSQL when EMPORIUM_TEST_PG_URL
// is set (skipped otherwise, failed with EMPORIUM_REQUIRE_PG=1).
#include "store/product_store.hpp"
#include "test_support.hpp"

#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

namespace emporium::product {
namespace {

using testing::Backend;
using testing::TestDatabase;

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    return e.status();
  }
  return 0;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    EMPORIUM_REQUIRE_BACKEND(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
    catalog_ = std::make_unique<Catalog>(database_->db(), CatalogOptions{},
                                         [this] { return clock_.now(); });
  }

  domain::Product make(std::string name, std::int64_t price, std::string category,
                       std::int64_t stock) {
    clock_.advance_ms(1);
    return catalog_->create(testing::fields(std::move(name), price, std::move(category), stock));
  }

  std::vector<std::string> names(const domain::ListQuery& query) {
    std::vector<std::string> out;
    for (const auto& p : catalog_->list(query).products) out.push_back(p.name);
    return out;
  }

  void reserve(const std::string& id, const std::string& product, std::int64_t quantity) {
    catalog_->reserve({id, {{product, quantity}}});
  }

  testing::FakeClock clock_;
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_P(StoreTest, CreatesAndFindsProducts) {
  domain::ProductFields f = testing::fields("Tee", 1999, "shirts", 7, "Soft");
  f.sku = "TS-1";
  f.images = std::vector<std::string>{"https://x.io/a.png", "https://x.io/b.png"};
  const auto created = catalog_->create(f);
  EXPECT_TRUE(is_object_id(created.id));
  const auto found = catalog_->find(created.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "Tee");
  EXPECT_EQ(found->description, "Soft");
  EXPECT_EQ(found->price_minor, 1999);
  EXPECT_EQ(found->category, "shirts");
  EXPECT_EQ(found->stock(), 7);
  EXPECT_EQ(found->held, 0);
  EXPECT_EQ(found->sku, "TS-1");
  EXPECT_EQ(found->images, f.images);
  EXPECT_EQ(found->created_at_ms, clock_.now());
  EXPECT_EQ(found->updated_at_ms, clock_.now());
  EXPECT_EQ(found->version, 0);
  EXPECT_FALSE(catalog_->find(new_object_id()));
}

TEST_P(StoreTest, UpdatesBumpTheVersionOnlyWhenSomethingChanges) {
  const auto p = make("Tee", 1000, "shirts", 5);
  domain::ProductFields change;
  change.price_minor = 1200;
  change.sku_present = true;
  change.sku = "X";
  clock_.advance_ms(50);
  const auto updated = catalog_->update(p.id, change, {});
  EXPECT_EQ(updated.price_minor, 1200);
  EXPECT_EQ(updated.sku, "X");
  EXPECT_EQ(updated.name, "Tee");
  EXPECT_EQ(updated.version, 1);
  EXPECT_EQ(updated.updated_at_ms, clock_.now());
  EXPECT_EQ(updated.created_at_ms, p.created_at_ms);

  const auto same = catalog_->update(p.id, change, {});
  EXPECT_EQ(same.version, 1);

  domain::ProductFields clear;
  clear.sku_present = true;
  EXPECT_FALSE(catalog_->update(p.id, clear, {}).sku);
}

TEST_P(StoreTest, UpdatePreconditions) {
  const auto p = make("Tee", 1000, "shirts", 5);
  domain::ProductFields rename;
  rename.name = "Shirt";
  EXPECT_EQ(status_of([&] { catalog_->update(p.id, rename, {"\"" + p.id + "-7\"", {}}); }), 412);
  EXPECT_EQ(status_of([&] { catalog_->update(p.id, rename, {{}, 7}); }), 409);
  EXPECT_EQ(status_of([&] { catalog_->update(new_object_id(), rename, {}); }), 404);

  domain::ProductFields stock;
  stock.stock = 9;
  EXPECT_EQ(status_of([&] { catalog_->update(p.id, stock, {}); }), 428);
  EXPECT_EQ(catalog_->update(p.id, stock, {{}, 0}).stock(), 9);
  EXPECT_EQ(catalog_->update(p.id, rename, {"\"" + p.id + "-1\"", {}}).version, 2);
  EXPECT_EQ(status_of([&] { catalog_->update(p.id, rename, {"\"" + p.id + "-1\"", {}}); }), 412);
  EXPECT_EQ(catalog_->find(p.id)->name, "Shirt");
}

TEST_P(StoreTest, SettingStockKeepsHeldUnits) {
  const auto p = make("Tee", 1000, "shirts", 10);
  reserve("order-1", p.id, 3);
  EXPECT_EQ(catalog_->find(p.id)->stock(), 7);
  EXPECT_EQ(catalog_->find(p.id)->version, 0);  // reserving does not change __v

  domain::ProductFields stock;
  stock.stock = 5;
  const auto updated = catalog_->update(p.id, stock, {{}, 0});
  EXPECT_EQ(updated.stock(), 5);
  EXPECT_EQ(updated.held, 3);
  EXPECT_EQ(updated.on_hand, 8);
  catalog_->commit("order-1");
  EXPECT_EQ(catalog_->find(p.id)->stock(), 5);
}

TEST_P(StoreTest, StockDeltas) {
  const auto p = make("Tee", 1000, "shirts", 10);
  EXPECT_EQ(catalog_->adjust_stock(p.id, 5).stock(), 15);
  EXPECT_EQ(catalog_->find(p.id)->version, 1);
  reserve("order-1", p.id, 12);
  EXPECT_EQ(status_of([&] { catalog_->adjust_stock(p.id, -4); }), 409);  // 15 - 4 < 12 held
  EXPECT_EQ(catalog_->adjust_stock(p.id, -3).stock(), 0);
  EXPECT_EQ(status_of([&] { catalog_->adjust_stock(p.id, 1'000'000'001); }), 400);
  EXPECT_EQ(status_of([&] { catalog_->adjust_stock(new_object_id(), 1); }), 404);
  const auto now = catalog_->find(p.id);
  EXPECT_EQ(now->on_hand, 12);
  EXPECT_EQ(now->held, 12);
  EXPECT_EQ(now->version, 2);
}

TEST_P(StoreTest, DeletedProductsVanishButTheirReservationsSettle) {
  const auto a = make("A", 100, "x", 10);
  const auto b = make("B", 100, "x", 10);
  reserve("order-1", a.id, 2);
  reserve("order-2", a.id, 3);
  catalog_->remove(a.id);
  EXPECT_FALSE(catalog_->find(a.id));
  EXPECT_EQ(status_of([&] { catalog_->remove(a.id); }), 404);
  EXPECT_EQ(names({}), std::vector<std::string>{"B"});
  ASSERT_EQ(catalog_->categories().size(), 1u);
  EXPECT_EQ(catalog_->categories()[0].count, 1);

  EXPECT_EQ(catalog_->commit("order-1").state, domain::ReservationState::Committed);
  EXPECT_TRUE(catalog_->release("order-2"));
  const auto row =
      database_->db().query("SELECT on_hand, held FROM products WHERE id = $1", {a.id});
  EXPECT_EQ(row.one().integer(0), 8);
  EXPECT_EQ(row.one().integer(1), 0);
  // A new reservation of a deleted product is short with nothing available.
  try {
    catalog_->reserve({"order-3", {{a.id, 1}, {b.id, 1}}});
    ADD_FAILURE() << "reserved a deleted product";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.extra()["shortLines"][0]["productId"], a.id);
    EXPECT_EQ(e.extra()["shortLines"][0]["available"], 0);
  }
  EXPECT_EQ(catalog_->find(b.id)->stock(), 10);
}

TEST_P(StoreTest, ListFiltersAndSorts) {
  make("Banana", 300, "fruit", 0);
  make("apple", 100, "fruit", 5);
  make("Cherry", 200, "fruit", 2);
  const auto desk = make("Desk", 10000, "furniture", 1);
  make("Chair", 5000, "furniture", 0);

  domain::ListQuery q;
  EXPECT_EQ(names(q), (std::vector<std::string>{"Banana", "apple", "Cherry", "Desk", "Chair"}));
  q.sort = domain::Sort::CreatedDesc;
  EXPECT_EQ(names(q), (std::vector<std::string>{"Chair", "Desk", "Cherry", "apple", "Banana"}));
  q.sort = domain::Sort::NameAsc;  // byte order on both databases
  EXPECT_EQ(names(q), (std::vector<std::string>{"Banana", "Chair", "Cherry", "Desk", "apple"}));
  q.sort = domain::Sort::PriceDesc;
  EXPECT_EQ(names(q), (std::vector<std::string>{"Desk", "Chair", "Banana", "Cherry", "apple"}));
  q.sort = domain::Sort::PriceAsc;
  q.category = "fruit";
  EXPECT_EQ(names(q), (std::vector<std::string>{"apple", "Cherry", "Banana"}));
  q.min_price_minor = 150;
  q.max_price_minor = 300;
  EXPECT_EQ(names(q), (std::vector<std::string>{"Cherry", "Banana"}));
  q.in_stock = true;
  EXPECT_EQ(names(q), (std::vector<std::string>{"Cherry"}));
  q.in_stock = false;
  EXPECT_EQ(names(q), (std::vector<std::string>{"Banana"}));

  domain::ListQuery by_ids;
  by_ids.has_ids = true;
  by_ids.ids = {desk.id, new_object_id()};
  EXPECT_EQ(names(by_ids), std::vector<std::string>{"Desk"});
  domain::ListQuery category;
  category.category = "nothing";
  EXPECT_EQ(catalog_->list(category).total, 0);
}

TEST_P(StoreTest, PagingAndTotals) {
  for (int i = 0; i < 7; ++i) make("P" + std::to_string(i), 100, i % 2 ? "odd" : "even", 1);
  domain::ListQuery q;
  q.limit = 3;
  auto page = catalog_->list(q);
  EXPECT_EQ(page.total, 7);
  EXPECT_EQ(page.products.size(), 3u);
  q.page = 3;
  page = catalog_->list(q);
  EXPECT_EQ(page.total, 7);
  ASSERT_EQ(page.products.size(), 1u);
  EXPECT_EQ(page.products[0].name, "P6");
  q.page = 4;
  page = catalog_->list(q);
  EXPECT_EQ(page.total, 7);
  EXPECT_TRUE(page.products.empty());
  q.page = 1;
  q.limit = 100;
  q.category = "even";
  EXPECT_EQ(catalog_->list(q).total, 4);

  const auto categories = catalog_->categories();
  ASSERT_EQ(categories.size(), 2u);
  EXPECT_EQ(categories[0].name, "even");
  EXPECT_EQ(categories[0].count, 4);
  EXPECT_EQ(categories[1].name, "odd");
  EXPECT_EQ(categories[1].count, 3);
}

TEST_P(StoreTest, TiesBreakOnId) {
  std::vector<std::string> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i)
    ids.push_back(catalog_->create(testing::fields("Same", 100, "c", 1)).id);
  std::sort(ids.begin(), ids.end());
  domain::ListQuery q;
  q.sort = domain::Sort::PriceAsc;
  std::vector<std::string> got;
  for (const auto& p : catalog_->list(q).products) got.push_back(p.id);
  EXPECT_EQ(got, ids);
  q.sort = domain::Sort::NameAsc;
  got.clear();
  for (const auto& p : catalog_->list(q).products) got.push_back(p.id);
  EXPECT_EQ(got, ids);
}

// The cart prices its lines with one `ids` listing. Without table statistics SQLite preferred the
// (deleted_at, category) index for `deleted_at IS NULL` and walked every live product (~100 ms on
// 100,000 products, bench/run); the listing must look the ids up by the id key.
TEST(StorePlan, IdsListingUsesTheIdKeyOnSqlite) {
  TestDatabase database(Backend::Sqlite);
  domain::ListQuery query;
  query.has_ids = true;
  for (int i = 0; i < 100; ++i) query.ids.push_back(new_object_id());
  query.limit = 100;
  const auto statement = store::list_page_statement(db::Backend::Sqlite, query);
  std::string plan;
  for (const auto& row :
       database.db().query("EXPLAIN QUERY PLAN " + statement.sql, statement.params).rows) {
    plan += row.text(3) + "\n";
  }
  EXPECT_NE(plan.find("(id=?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("products_live_category_idx"), std::string::npos) << plan;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         testing::backend_name);

}  // namespace
}  // namespace emporium::product
