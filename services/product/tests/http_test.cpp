// Every route through the real request pipeline (App::handle: errors, JSON, auth, handler) on a
// SQLite file, without sockets: status codes, the order of checks (401 -> 403 -> 404 -> 400 ->
// 409/412/428), headers and bodies.
#include "product_service.hpp"
#include "test_support.hpp"

#include <emporium/app/app.hpp>
#include <emporium/auth/jwt.hpp>
#include <emporium/testing/http.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace emporium::product {
namespace {

using http::Method;

constexpr const char* kInternalToken = "0123456789abcdef0123";

using emporium::testing::Reply;

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProductConfig config;
    config.common.service = "product-service";
    config.common.host = "127.0.0.1";
    config.common.database_url = db_file_.url();
    config.common.internal_token = kInternalToken;
    config.common.access_log = false;
    config.common.log_level = obs::Level::Warn;
    signer_ = std::make_unique<auth::JwtSigner>(testing::generate_ec_private_key_pem(), "",
                                                "emporium", 900);
    app_ = std::make_unique<App>(config.common);
    app_->verifier().add_public_key(signer_->public_pem(), signer_->kid());
    app_->open_database(migrations());
    register_product_service(*app_, config);
    admin_ = {{"Authorization", "Bearer " + signer_->sign(new_object_id(), "admin")}};
    customer_ = {{"Authorization", "Bearer " + signer_->sign(new_object_id(), "customer")}};
    internal_ = emporium::testing::internal_call(kInternalToken, "order");
  }

  Reply call(Method method, const std::string& target, const std::string& body = "",
             http::Headers headers = {}) {
    return emporium::testing::send(
        *app_, emporium::testing::make_request(method, target, std::move(headers), body));
  }

  static http::Headers with(http::Headers base, std::string name, std::string value) {
    base.emplace_back(std::move(name), std::move(value));
    return base;
  }

  Json create(const std::string& name, double price, const std::string& category, int stock,
              const std::string& description = "") {
    const Json body = {{"name", name},
                       {"price", price},
                       {"category", category},
                       {"stock", stock},
                       {"description", description}};
    const Reply r = call(Method::Post, "/api/products", body.dump(), admin_);
    EXPECT_EQ(r.status, 201) << r.raw.body;
    return r.body;
  }

  emporium::testing::TempSqliteFile db_file_{"product-http"};  // outlives app_
  std::unique_ptr<auth::JwtSigner> signer_;
  std::unique_ptr<App> app_;
  http::Headers admin_, customer_, internal_;
};

TEST_F(HttpTest, CreateIsForAdminsAndReturnsTheDocument) {
  const std::string body =
      R"({"name":"Tee","price":19.99,"category":"shirts","stock":5,"_id":"x","__v":9,)"
      R"("createdAt":"yesterday","currency":"eur","images":["https://x.io/a.png"]})";
  EXPECT_EQ(call(Method::Post, "/api/products/create", body).status, 401);
  EXPECT_EQ(call(Method::Post, "/api/products/create", body, customer_).status, 403);
  const Reply r = call(Method::Post, "/api/products/create", body, admin_);
  ASSERT_EQ(r.status, 201) << r.raw.body;
  const Json& p = r.body;
  EXPECT_TRUE(is_object_id(p["_id"].get<std::string>()));
  EXPECT_EQ(p["name"], "Tee");
  EXPECT_EQ(p["description"], "");
  EXPECT_EQ(p["price"].dump(), "19.99");
  EXPECT_EQ(p["currency"], "usd");
  EXPECT_EQ(p["category"], "shirts");
  EXPECT_EQ(p["stock"], 5);
  EXPECT_TRUE(p["sku"].is_null());
  EXPECT_EQ(p["images"], Json({"https://x.io/a.png"}));
  EXPECT_EQ(p["__v"], 0);
  EXPECT_EQ(p["createdAt"], p["updatedAt"]);
  EXPECT_EQ(r.header("ETag"), "\"" + p["_id"].get<std::string>() + "-0\"");
  EXPECT_EQ(r.header("Location"), "/api/products/" + p["_id"].get<std::string>());
  EXPECT_EQ(call(Method::Post, "/api/products/", body, admin_).status, 201);
  // No service writes the catalog: an internal caller's token is not an admin's.
  EXPECT_EQ(call(Method::Post, "/api/products", body, internal_).status, 401);
}

TEST_F(HttpTest, CreateNamesEveryBadField) {
  const Reply r =
      call(Method::Post, "/api/products",
           R"({"name":"","price":1.234,"category":7,"stock":-1,"images":["ftp://x"]})", admin_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_fields(),
            (std::set<std::string>{"name", "price", "category", "stock", "images[0]"}));
  EXPECT_EQ(r.raw.content_type, "application/problem+json; charset=utf-8");
  // Content checks come before authentication.
  EXPECT_EQ(
      call(Method::Post, "/api/products", "", with(customer_, "Content-Type", "text/plain")).status,
      415);
  EXPECT_EQ(call(Method::Post, "/api/products", "{bad json").status, 400);
  // Numbers a double cannot hold are bad input, never a 5xx.
  const Reply huge = call(Method::Post, "/api/products",
                          R"({"name":"a","price":1e400,"category":"c","stock":-1e400})", admin_);
  EXPECT_EQ(huge.status, 400) << huge.raw.body;
  const Reply decimals = call(Method::Post, "/api/products",
                              R"({"name":"a","price":12345.678,"category":"c","stock":1})", admin_);
  EXPECT_EQ(decimals.error_fields(), std::set<std::string>{"price"});
}

TEST_F(HttpTest, GetWithETagAnd304) {
  const Json p = create("Tee", 10, "shirts", 3);
  const std::string id = p["_id"];
  const Reply r = call(Method::Get, "/api/products/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, p);
  const std::string tag = r.header("ETag");
  EXPECT_EQ(tag, "\"" + id + "-0\"");
  const Reply cached = call(Method::Get, "/api/products/" + id, "", {{"If-None-Match", tag}});
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.raw.body.empty());
  EXPECT_EQ(cached.header("ETag"), tag);
  EXPECT_EQ(call(Method::Get, "/api/products/" + id, "", {{"If-None-Match", "\"x-1\""}}).status,
            200);
  const Reply missing = call(Method::Get, "/api/products/not-an-id");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["detail"], "Product not found");
  EXPECT_EQ(missing.body["msg"], "Product not found");
  EXPECT_EQ(call(Method::Get, "/api/products/" + new_object_id()).status, 404);
}

TEST_F(HttpTest, UpdateChecksInOrder) {
  const Json p = create("Tee", 10, "shirts", 3);
  const std::string id = p["_id"];
  const std::string url = "/api/products/" + id;
  // 401 -> 403 -> 404 -> 400.
  EXPECT_EQ(call(Method::Put, "/api/products/nope", R"({"price":-1})").status, 401);
  EXPECT_EQ(call(Method::Put, "/api/products/nope", R"({"price":-1})", customer_).status, 403);
  EXPECT_EQ(call(Method::Put, "/api/products/nope", R"({"price":-1})", admin_).status, 404);
  EXPECT_EQ(call(Method::Put, "/api/products/" + new_object_id(), R"({"price":-1})", admin_).status,
            404);
  const Reply bad = call(Method::Put, url, R"({"price":-1,"name":"","__v":"x"})", admin_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_fields(), (std::set<std::string>{"price", "name", "__v"}));
  // 409 / 412 / 428.
  EXPECT_EQ(call(Method::Put, url, R"({"name":"A","__v":5})", admin_).status, 409);
  EXPECT_EQ(call(Method::Put, url, R"({"name":"A"})", with(admin_, "If-Match", "\"" + id + "-5\""))
                .status,
            412);
  EXPECT_EQ(call(Method::Put, url, R"({"stock":9})", admin_).status, 428);
  const Reply ok = call(Method::Put, url, R"({"stock":9,"name":"Shirt","__v":0})", admin_);
  ASSERT_EQ(ok.status, 200) << ok.raw.body;
  EXPECT_EQ(ok.body["stock"], 9);
  EXPECT_EQ(ok.body["name"], "Shirt");
  EXPECT_EQ(ok.body["__v"], 1);
  EXPECT_EQ(ok.header("ETag"), "\"" + id + "-1\"");
  const Reply matched =
      call(Method::Put, url, R"({"stock":4})", with(admin_, "If-Match", ok.header("ETag")));
  EXPECT_EQ(matched.status, 200);
  EXPECT_EQ(matched.body["stock"], 4);
}

TEST_F(HttpTest, IfMatchStarDoesNotCarryAVersionForStock) {
  const Json p = create("Tee", 10, "shirts", 3);
  const std::string url = "/api/products/" + p["_id"].get<std::string>();
  // `*` matches any version, so it cannot say which one a stock change was based on.
  for (const char* star : {"*", " * "}) {
    const Reply refused = call(Method::Put, url, R"({"stock":9})", with(admin_, "If-Match", star));
    EXPECT_EQ(refused.status, 428) << star;
    EXPECT_EQ(refused.body["code"], "precondition_required");
  }
  EXPECT_EQ(call(Method::Get, url).body["stock"], 3);
  // With a real version beside it the change goes through; other fields accept `*` as before.
  EXPECT_EQ(call(Method::Put, url, R"({"stock":9,"__v":0})", with(admin_, "If-Match", "*")).status,
            200);
  const Reply renamed =
      call(Method::Put, url, R"({"name":"Shirt"})", with(admin_, "If-Match", "*"));
  EXPECT_EQ(renamed.status, 200);
  EXPECT_EQ(renamed.body["name"], "Shirt");
  EXPECT_EQ(call(Method::Put, "/api/products/" + new_object_id(), R"({"stock":1})",
                 with(admin_, "If-Match", "*"))
                .status,
            404);
}

TEST_F(HttpTest, StockDeltaAndDelete) {
  const Json p = create("Tee", 10, "shirts", 3);
  const std::string id = p["_id"];
  const Reply added =
      call(Method::Post, "/api/products/" + id + "/stock", R"({"delta":7})", admin_);
  ASSERT_EQ(added.status, 200);
  EXPECT_EQ(added.body["stock"], 10);
  EXPECT_EQ(added.body["__v"], 1);
  EXPECT_EQ(call(Method::Post, "/api/products/reservations",
                 R"({"reservationId":"o1","items":[{"productId":")" + id + R"(","quantity":8}]})",
                 internal_)
                .status,
            201);
  const Reply below =
      call(Method::Post, "/api/products/" + id + "/stock", R"({"delta":-3})", admin_);
  EXPECT_EQ(below.status, 409);
  EXPECT_EQ(call(Method::Post, "/api/products/" + id + "/stock", R"({})", admin_).error_fields(),
            std::set<std::string>{"delta"});
  EXPECT_EQ(call(Method::Post, "/api/products/" + id + "/stock", R"({"delta":1.5})", admin_).status,
            400);
  EXPECT_EQ(call(Method::Post, "/api/products/xyz/stock", R"({"delta":"x"})", admin_).status, 404);
  EXPECT_EQ(
      call(Method::Post, "/api/products/" + id + "/stock", R"({"delta":1})", customer_).status,
      403);

  EXPECT_EQ(call(Method::Delete, "/api/products/" + id, "", customer_).status, 403);
  const Reply deleted = call(Method::Delete, "/api/products/" + id, "", admin_);
  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body, Json({{"msg", "Product deleted"}}));
  EXPECT_EQ(call(Method::Delete, "/api/products/" + id, "", admin_).status, 404);
  EXPECT_EQ(call(Method::Get, "/api/products/" + id).status, 404);
  // The reservation made before the delete still settles.
  EXPECT_EQ(call(Method::Post, "/api/products/reservations/o1/commit", "", internal_).status, 200);
}

TEST_F(HttpTest, ListPagesWithHeaders) {
  for (int i = 0; i < 5; ++i) create("Item " + std::to_string(i), 10 + i, i < 3 ? "a" : "b", i);
  Reply r = call(Method::Get, "/api/products?limit=2&page=2");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.body.is_array());
  EXPECT_EQ(r.body.size(), 2u);
  EXPECT_EQ(r.body[0]["name"], "Item 2");
  EXPECT_EQ(r.header("X-Total-Count"), "5");
  EXPECT_EQ(r.header("Link"),
            "</api/products?limit=2&page=3>; rel=\"next\", </api/products?limit=2&page=1>; "
            "rel=\"prev\"");
  r = call(Method::Get, "/api/products?category=a&sort=-price&inStock=true&minPrice=10.5");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body.size(), 2u);
  EXPECT_EQ(r.body[0]["name"], "Item 2");
  EXPECT_EQ(r.body[1]["name"], "Item 1");
  EXPECT_EQ(r.header("Link"), "");
  const std::string ids = r.body[0]["_id"].get<std::string>() + "," + new_object_id();
  r = call(Method::Get, "/api/products?ids=" + ids);
  ASSERT_EQ(r.body.size(), 1u);

  r = call(Method::Get, "/api/products?limit=0&page=x&sort=best&ids=1,2&inStock=maybe&maxPrice=-1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_fields(),
            (std::set<std::string>{"limit", "page", "sort", "ids", "inStock", "maxPrice"}));

  r = call(Method::Get, "/api/products/categories");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, Json::parse(R"([{"name":"a","count":3},{"name":"b","count":2}])"));
}

TEST_F(HttpTest, SearchInputNeverFails) {
  create("Classic Red T-Shirt", 10, "shirts", 1, "cotton");
  for (const char* q : {"t-shirt", "%22classic", "red%20AND", "%25", "%27", "%5C", "%F0%9F%98%80",
                        "red+shirt", "*", "NEAR(", "%3A*", "a%26b%7C!c"}) {
    const Reply r = call(Method::Get, std::string("/api/products?q=") + q);
    EXPECT_EQ(r.status, 200) << q << " " << r.raw.body;
  }
  EXPECT_EQ(call(Method::Get, "/api/products?q=t-shirt").body.size(), 1u);
  EXPECT_EQ(call(Method::Get, "/api/products?q=%22classic").body.size(), 1u);
  EXPECT_EQ(call(Method::Get, "/api/products?q=%FF").status, 400);
}

TEST_F(HttpTest, ReservationsAreInternal) {
  const std::string id = create("Tee", 10.5, "shirts", 5)["_id"];
  const std::string body =
      R"({"reservationId":"order-1","items":[{"productId":")" + id + R"(","quantity":2}]})";
  EXPECT_EQ(call(Method::Post, "/api/products/reservations", body).status, 401);
  EXPECT_EQ(call(Method::Post, "/api/products/reservations", body, admin_).status, 403);
  // Only order-service holds stock: another service's valid token is 403, naming it.
  for (const char* other : {"payment", "notification", "cart"}) {
    const Reply refused = call(Method::Post, "/api/products/reservations", body,
                               emporium::testing::internal_call(kInternalToken, other));
    EXPECT_EQ(refused.status, 403) << other;
    EXPECT_EQ(refused.body["detail"],
              "This endpoint does not accept calls from " + std::string(other) + "-service");
    EXPECT_EQ(call(Method::Post, "/api/products/reservations/order-1/commit", "",
                   emporium::testing::internal_call(kInternalToken, other))
                  .status,
              403);
  }
  const Reply first = call(Method::Post, "/api/products/reservations", body, internal_);
  ASSERT_EQ(first.status, 201) << first.raw.body;
  EXPECT_EQ(first.body["reservationId"], "order-1");
  EXPECT_EQ(first.body["items"], Json::parse(R"([{"productId":")" + id +
                                             R"(","quantity":2,"name":"Tee","price":10.5}])"));
  EXPECT_EQ(first.body["currency"], "usd");
  EXPECT_TRUE(first.body["expiresAt"].is_string());
  // A price and name change after the hold: a retry and the commit answer with what was held.
  const Reply repriced =
      call(Method::Put, "/api/products/" + id, R"({"price":12,"name":"Tee v2","__v":0})", admin_);
  ASSERT_EQ(repriced.status, 200) << repriced.raw.body;
  const Reply again = call(Method::Post, "/api/products/reservations", body, internal_);
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(call(Method::Get, "/api/products/" + id).body["stock"], 3);

  const Reply other =
      call(Method::Post, "/api/products/reservations",
           R"({"reservationId":"order-1","items":[{"productId":")" + id + R"(","quantity":3}]})",
           internal_);
  EXPECT_EQ(other.status, 422);
  const Reply short_reply =
      call(Method::Post, "/api/products/reservations",
           R"({"reservationId":"order-2","items":[{"productId":")" + id + R"(","quantity":4}]})",
           internal_);
  EXPECT_EQ(short_reply.status, 409);
  EXPECT_EQ(short_reply.body["shortLines"],
            Json::parse(R"([{"productId":")" + id + R"(","requested":4,"available":3}])"));
  const Reply invalid =
      call(Method::Post, "/api/products/reservations",
           R"({"reservationId":"","items":[{"productId":"x","quantity":0}]})", internal_);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.error_fields(),
            (std::set<std::string>{"reservationId", "items[0].productId", "items[0].quantity"}));

  EXPECT_EQ(call(Method::Post, "/api/products/reservations/order-1/commit", "", admin_).status,
            403);
  const Reply committed =
      call(Method::Post, "/api/products/reservations/order-1/commit", "", internal_);
  EXPECT_EQ(committed.status, 200);
  EXPECT_EQ(committed.body["state"], "committed");
  EXPECT_EQ(committed.body["items"], first.body["items"]);
  EXPECT_EQ(call(Method::Post, "/api/products/reservations/order-1/commit", "", internal_).status,
            200);
  EXPECT_EQ(call(Method::Post, "/api/products/reservations/nope/commit", "", internal_).status,
            404);
  EXPECT_EQ(call(Method::Post, "/api/products/reservations/a%2Fb/commit", "", internal_).status,
            404);

  call(Method::Post, "/api/products/reservations",
       R"({"reservationId":"order-3","items":[{"productId":")" + id + R"(","quantity":1}]})",
       internal_);
  EXPECT_EQ(call(Method::Delete, "/api/products/reservations/order-3", "", internal_).body,
            Json({{"released", true}}));
  EXPECT_EQ(call(Method::Delete, "/api/products/reservations/order-3", "", internal_).body,
            Json({{"released", false}}));
  EXPECT_EQ(call(Method::Delete, "/api/products/reservations/order-9", "", internal_).status, 404);
  EXPECT_EQ(call(Method::Post, "/api/products/reservations/order-3/commit", "", internal_).status,
            409);
  EXPECT_EQ(call(Method::Get, "/api/products/" + id).body["stock"], 3);
}

TEST_F(HttpTest, DeductAnswersTheSameOnRetry) {
  const std::string id = create("Tee", 10, "shirts", 5)["_id"];
  const std::string url = "/api/products/" + id + "/deduct";
  const std::string body = R"({"quantity":2,"reservationId":"order-1"})";
  EXPECT_EQ(call(Method::Put, url, body, customer_).status, 403);
  const Reply first = call(Method::Put, url, body, internal_);
  ASSERT_EQ(first.status, 200) << first.raw.body;
  EXPECT_EQ(first.body, Json({{"_id", id}, {"stock", 3}}));
  EXPECT_EQ(call(Method::Put, url, body, internal_).body, first.body);
  EXPECT_EQ(call(Method::Get, "/api/products/" + id).body["stock"], 3);
  EXPECT_EQ(call(Method::Put, url, R"({"quantity":2})", internal_).error_fields(),
            std::set<std::string>{"reservationId"});
  EXPECT_EQ(call(Method::Put, url, R"({"quantity":9,"reservationId":"order-2"})", internal_).status,
            409);
  EXPECT_EQ(call(Method::Put, "/api/products/zzz/deduct", R"({})", internal_).status, 404);
  EXPECT_EQ(
      call(Method::Put, "/api/products/" + new_object_id() + "/deduct", R"({})", internal_).status,
      404);
}

}  // namespace
}  // namespace emporium::product
