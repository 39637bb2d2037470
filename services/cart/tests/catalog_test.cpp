// The HTTP catalog's reading of product documents, and its degradation when product-service
// cannot be reached (a port nothing listens on).
#include "catalog/http_product_catalog.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/http/server.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

namespace emporium::cart::catalog {
namespace {

const std::string mug_id = "0123456789abcdef01234567";
const Currency store_currency{"usd", 2};

Json product_document() {
  return Json{{"_id", mug_id},  {"name", "Mug"},     {"description", "A mug"},
              {"price", 19.99}, {"currency", "usd"}, {"category", "home"},
              {"stock", 12},    {"__v", 3}};
}

TEST(ProductFromJson, ReadsWhatTheCartNeeds) {
  const auto product = product_from_json(product_document(), store_currency);
  ASSERT_TRUE(product);
  EXPECT_EQ(product->id, mug_id);
  EXPECT_EQ(product->name, "Mug");
  EXPECT_EQ(product->price, 1999);  // not 1998
  EXPECT_EQ(product->stock, 12);
}

TEST(ProductFromJson, IntegerPricesAndZeroStock) {
  Json doc = product_document();
  doc["price"] = 20;
  doc["stock"] = 0;
  const auto product = product_from_json(doc, store_currency);
  ASSERT_TRUE(product);
  EXPECT_EQ(product->price, 2000);
  EXPECT_EQ(product->stock, 0);
}

TEST(ProductFromJson, RefusesMalformedDocuments) {
  EXPECT_FALSE(product_from_json(Json::array(), store_currency));
  for (const char* member : {"_id", "name", "price", "stock"}) {
    Json doc = product_document();
    doc.erase(member);
    EXPECT_FALSE(product_from_json(doc, store_currency)) << member;
  }
  Json doc = product_document();
  doc["price"] = "19.99";
  EXPECT_FALSE(product_from_json(doc, store_currency));
  doc = product_document();
  doc["price"] = 19.999;
  EXPECT_FALSE(product_from_json(doc, store_currency));
  doc = product_document();
  doc["_id"] = "0123456789ABCDEF01234567";
  EXPECT_FALSE(product_from_json(doc, store_currency));
  doc = product_document();
  doc["stock"] = 1.5;
  EXPECT_FALSE(product_from_json(doc, store_currency));
}

TEST(ProductFromJson, AnotherCurrencyCannotBePriced) {
  Json doc = product_document();
  doc["currency"] = "eur";
  EXPECT_FALSE(product_from_json(doc, store_currency));
  doc.erase("currency");  // absent: the store's own
  EXPECT_TRUE(product_from_json(doc, store_currency));
}

TEST(ProductFromJson, ZeroDecimalCurrencies) {
  const Currency jpy{"jpy", 0};
  Json doc = product_document();
  doc["currency"] = "jpy";
  doc["price"] = 1999;
  ASSERT_TRUE(product_from_json(doc, jpy));
  EXPECT_EQ(product_from_json(doc, jpy)->price, 1999);
  doc["price"] = 19.5;
  EXPECT_FALSE(product_from_json(doc, jpy));
}

TEST(ProductsFromJson, AListingIsAllOrNothing) {
  EXPECT_EQ(products_from_json(Json::array(), store_currency)->size(), 0U);
  EXPECT_EQ(
      products_from_json(Json::array({product_document(), product_document()}), store_currency)
          ->size(),
      2U);
  EXPECT_FALSE(
      products_from_json(Json::array({product_document(), Json{{"_id", mug_id}}}), store_currency));
  EXPECT_FALSE(products_from_json(product_document(), store_currency));
}

class UnreachableCatalogTest : public ::testing::Test {
 protected:
  static http::ClientOptions options() {
    http::ClientOptions o;
    o.timeout_ms = 500;
    o.connect_timeout_ms = 200;
    o.internal_token = "0123456789abcdef0123";
    return o;
  }
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  HttpProductCatalog catalog_{
      http::HttpClient("product-service", {"http://127.0.0.1:1"}, options()), store_currency,
      nullptr};
};

TEST_F(UnreachableCatalogTest, FindAnswers503) {
  try {
    catalog_.find(mug_id, CallContext{"req-1", ""});
    ADD_FAILURE() << "no exception";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.detail(), "product-service is unavailable");
  }
}

TEST_F(UnreachableCatalogTest, FindManyDegradesToNothing) {
  EXPECT_FALSE(catalog_.find_many({mug_id}, CallContext{"req-2", ""}));
  // An empty cart needs no call at all.
  const auto none = catalog_.find_many({}, CallContext{"req-3", ""});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// A stand-in product-service: the core's own http::Server on a free port, answering with whatever
// the test's handler says and remembering the last request.
class FakeProductService {
 public:
  explicit FakeProductService(http::Handler handler) : handler_(std::move(handler)) {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.drain_idle_ms = 0;
    o.shutdown_grace_ms = 5000;
    server_ = std::make_unique<http::Server>(
        o,
        [this](http::Request& r) {
          {
            std::lock_guard lock(mutex_);
            last_ = r;
          }
          return handler_(r);
        },
        [](http::Request&, int status, const std::string& detail) {
          return http::Response::json(status, Json{{"detail", detail}});
        });
    server_->listen();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~FakeProductService() {
    server_->stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  http::Request last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  http::Handler handler_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  mutable std::mutex mutex_;
  http::Request last_;
};

http::ClientOptions fast_options() {
  http::ClientOptions o;
  o.timeout_ms = 2000;
  o.internal_token = "0123456789abcdef0123";
  return o;
}

const std::string other_id = "76543210fedcba9876543210";

http::Response catalog_answer(http::Request& r) {
  if (r.path == "/api/products/" + mug_id) return http::Response::json(200, product_document());
  if (r.path == "/api/products" && r.query("ids")) {
    return http::Response::json(200, Json::array({product_document()}));  // other_id is deleted
  }
  return http::Response::json(404, Json{{"detail", "Product not found"}});
}

TEST(HttpProductCatalogTest, FindsAProductAndCarriesTheRequestsIdentity) {
  FakeProductService upstream(catalog_answer);
  HttpProductCatalog catalog(http::HttpClient("product-service", {upstream.url()}, fast_options()),
                             store_currency, nullptr);
  const std::string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const auto product = catalog.find(mug_id, CallContext{"req-42", traceparent});
  ASSERT_TRUE(product);
  EXPECT_EQ(product->price, 1999);
  const http::Request seen = upstream.last();
  EXPECT_EQ(seen.method, http::Method::Get);
  EXPECT_EQ(seen.header("X-Internal-Token").value_or(""), "0123456789abcdef0123");
  EXPECT_EQ(seen.header("X-Request-ID").value_or(""), "req-42");
  // Same trace, new span.
  EXPECT_EQ(seen.header("traceparent").value_or("").substr(0, 36), traceparent.substr(0, 36));

  EXPECT_FALSE(catalog.find(other_id, CallContext{"req-43", ""}));  // 404: no such product
}

TEST(HttpProductCatalogTest, PricesEveryLineWithOneIdsCall) {
  FakeProductService upstream(catalog_answer);
  HttpProductCatalog catalog(http::HttpClient("product-service", {upstream.url()}, fast_options()),
                             store_currency, nullptr);
  const auto products = catalog.find_many({mug_id, other_id}, CallContext{"req-7", ""});
  ASSERT_TRUE(products);
  ASSERT_EQ(products->size(), 1U);
  EXPECT_EQ((*products)[0].id, mug_id);
  const http::Request seen = upstream.last();
  EXPECT_EQ(seen.path, "/api/products");
  EXPECT_EQ(seen.query("ids").value_or(""), mug_id + "," + other_id);
  EXPECT_EQ(seen.query("limit").value_or(""), "100");
}

TEST(HttpProductCatalogTest, AnswersThatAreNotProductsMeanUnavailable) {
  std::atomic<int> mode{0};
  FakeProductService upstream([&](http::Request&) {
    switch (mode.load()) {
      case 0: return http::Response::json(500, Json{{"detail", "boom"}});
      case 1: {
        http::Response r;
        r.content_type = "text/html";
        r.body = "<html>oops</html>";
        return r;
      }
      case 2: return http::Response::json(200, Json{{"not", "a product"}});
      default: return http::Response::json(400, Json{{"detail", "ids: bad"}});
    }
  });
  HttpProductCatalog catalog(http::HttpClient("product-service", {upstream.url()}, fast_options()),
                             store_currency, nullptr);
  for (int m = 0; m < 4; ++m) {
    mode = m;
    EXPECT_FALSE(catalog.find_many({mug_id}, CallContext{})) << "mode " << m;
    try {
      catalog.find(mug_id, CallContext{});
      ADD_FAILURE() << "no exception, mode " << m;
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 503) << "mode " << m;
    }
  }
}

}  // namespace
}  // namespace emporium::cart::catalog
