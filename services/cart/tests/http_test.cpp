// Every cart route through the real request pipeline (App::handle: errors, JSON, auth, handler) on
// a SQLite file, without sockets, with a fake catalog standing in for product-service.
#include "cart_service.hpp"
#include "test_support.hpp"

#include <emporium/app/app.hpp>
#include <emporium/auth/jwt.hpp>
#include <emporium/testing/http.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <set>

namespace emporium::cart {
namespace {

constexpr const char* kInternalToken = "0123456789abcdef0123";
const std::string mug_id = "aaaaaaaaaaaaaaaaaaaaaaaa";
const std::string shirt_id = "bbbbbbbbbbbbbbbbbbbbbbbb";
const std::string pen_id = "cccccccccccccccccccccccc";

using emporium::testing::bearer;
using emporium::testing::Reply;

class CartHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signer_ = std::make_unique<auth::JwtSigner>(testing::generate_ec_private_key_pem(), "",
                                                "emporium", 900);
    ServiceConfig config;
    config.service = "shopping-cart-service";
    config.host = "127.0.0.1";
    config.database_url = db_file_.url();
    config.internal_token = kInternalToken;
    config.access_log = false;
    config.log_level = obs::Level::Error;
    app_ = std::make_unique<App>(config);
    app_->verifier().add_public_key(signer_->public_pem(), signer_->kid());
    app_->open_database(migrations());
    catalog_ = std::make_shared<testing::FakeCatalog>();
    catalog_->put({mug_id, "Mug", 1999, 10});
    catalog_->put({shirt_id, "Shirt", 2500, 3});
    catalog_->put({pen_id, "Pen", 105, 100});
    CartConfig cart_config;
    cart_config.common = config;
    register_cart_service(*app_, cart_config, catalog_);

    alice_ = new_object_id();
    bob_ = new_object_id();
    alice_token_ = signer_->sign(alice_, "customer");
    bob_token_ = signer_->sign(bob_, "customer");
    admin_token_ = signer_->sign(new_object_id(), "admin");
  }

  Reply call(http::Method method, const std::string& target, const http::Headers& headers,
             const std::string& body = "", const std::string& content_type = "application/json") {
    return emporium::testing::send(
        *app_, emporium::testing::make_request(method, target, headers, body, content_type));
  }

  static http::Headers internal() {
    return emporium::testing::internal_call(kInternalToken, "order");
  }

  Reply add(const std::string& user, const std::string& token, const std::string& body) {
    return call(http::Method::Post, "/api/cart/" + user + "/add", bearer(token), body);
  }
  Reply add_product(const std::string& product, int quantity) {
    return add(alice_, alice_token_,
               R"({"productId":")" + product + R"(","quantity":)" + std::to_string(quantity) + "}");
  }
  Reply get(const std::string& user, const http::Headers& headers) {
    return call(http::Method::Get, "/api/cart/" + user, headers);
  }

  emporium::testing::TempSqliteFile db_file_{"cart-http"};  // outlives app_
  std::unique_ptr<auth::JwtSigner> signer_;
  std::unique_ptr<App> app_;
  std::shared_ptr<testing::FakeCatalog> catalog_;
  std::string alice_, bob_, alice_token_, bob_token_, admin_token_;
};

TEST_F(CartHttpTest, AddCreatesTheCartWithASnapshot) {
  const Reply r =
      add(alice_, alice_token_,
          R"({"productId":")" + mug_id + R"(","quantity":2,"price":0.01,"_id":"x","userId":"y"})");
  ASSERT_EQ(r.status, 201) << r.raw.body;
  EXPECT_TRUE(is_object_id(r.body["_id"].get<std::string>()));
  EXPECT_EQ(r.body["userId"], alice_);
  EXPECT_EQ(r.body["__v"], 0);
  EXPECT_TRUE(r.body["updatedAt"].is_string());
  ASSERT_EQ(r.body["items"].size(), 1U);
  const Json& item = r.body["items"][0];
  EXPECT_EQ(item["productId"], mug_id);
  EXPECT_EQ(item["quantity"], 2);
  EXPECT_EQ(item["name"], "Mug");
  EXPECT_EQ(item["price"], 19.99);  // the catalog's price, never the body's
  EXPECT_EQ(item["available"], true);
  EXPECT_EQ(r.body["subtotal"], 39.98);
  EXPECT_EQ(r.body["stale"], false);
  EXPECT_EQ(r.header("X-Request-ID").empty(), false);
  EXPECT_EQ(catalog_->last_request_id(), r.header("X-Request-ID"));

  const Reply again = add_product(mug_id, 3);
  ASSERT_EQ(again.status, 201);
  EXPECT_EQ(again.body["items"][0]["quantity"], 5);
  EXPECT_EQ(again.body["__v"], 1);
  EXPECT_EQ(again.body["_id"], r.body["_id"]);
  // The only line is the product just looked up: no second catalog call.
  EXPECT_EQ(catalog_->find_many_calls(), 0);
}

TEST_F(CartHttpTest, WriteResponsesArePricedLikeReads) {
  ASSERT_EQ(add_product(mug_id, 1).status, 201);
  ASSERT_EQ(add_product(shirt_id, 1).status, 201);
  // The add asked only for the other lines: the added product was just looked up.
  EXPECT_EQ(catalog_->last_ids(), std::vector<std::string>{mug_id});
  catalog_->erase(shirt_id);
  catalog_->put({mug_id, "Mug", 2000, 10});

  Reply r = call(http::Method::Put, "/api/cart/" + alice_ + "/update/" + mug_id,
                 bearer(alice_token_), R"({"quantity":3})");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["items"][0]["price"], 20);
  EXPECT_EQ(r.body["items"][1]["available"], false);
  EXPECT_EQ(r.body["subtotal"], 60);
  EXPECT_EQ(r.body["stale"], false);

  const Reply added = add_product(pen_id, 1);
  ASSERT_EQ(added.status, 201);
  EXPECT_EQ(catalog_->last_ids(), (std::vector<std::string>{mug_id, shirt_id}));
  EXPECT_EQ(added.body["items"][1]["available"], false);
  EXPECT_EQ(added.body["items"][2]["available"], true);
  EXPECT_EQ(added.body["subtotal"], 61.05);

  catalog_->set_unavailable(true);
  r = call(http::Method::Delete, "/api/cart/" + alice_ + "/remove/" + pen_id, bearer(alice_token_));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["stale"], true);
  EXPECT_EQ(r.body["items"].size(), 2U);
  EXPECT_EQ(r.body["items"][0]["price"], 19.99);  // stored: the snapshot of the last add
}

TEST_F(CartHttpTest, QuantityDefaultsToOneAndMustBeAnInteger) {
  Reply r = add(alice_, alice_token_, R"({"productId":")" + mug_id + R"("})");
  ASSERT_EQ(r.status, 201) << r.raw.body;
  EXPECT_EQ(r.body["items"][0]["quantity"], 1);
  r = add(alice_, alice_token_, R"({"productId":")" + mug_id + R"(","quantity":2.0})");
  ASSERT_EQ(r.status, 201) << r.raw.body;
  EXPECT_EQ(r.body["items"][0]["quantity"], 3);
  for (const char* bad : {R"("2")", "2.5", "0", "-1", "1001", "true", "[1]"}) {
    r = add(alice_, alice_token_, R"({"productId":")" + mug_id + R"(","quantity":)" + bad + "}");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.error_fields(), std::set<std::string>{"quantity"}) << bad;
  }
}

TEST_F(CartHttpTest, ProductIdIsValidatedThenLookedUp) {
  Reply r = add(alice_, alice_token_, R"({"quantity":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_fields(), std::set<std::string>{"productId"});
  for (const char* bad : {R"("abc")", "12", R"("AAAAAAAAAAAAAAAAAAAAAAAA")", "null"}) {
    r = add(alice_, alice_token_, std::string(R"({"productId":)") + bad + "}");
    EXPECT_EQ(r.status, 400) << bad;
  }
  r = add(alice_, alice_token_, R"({"productId":5,"quantity":"x"})");
  EXPECT_EQ(r.error_fields(), (std::set<std::string>{"productId", "quantity"}));
  EXPECT_EQ(catalog_->find_calls(), 0);

  r = add(alice_, alice_token_, R"({"productId":"dddddddddddddddddddddddd"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["detail"], "Product not found");
  EXPECT_EQ(r.body["msg"], "Product not found");
  EXPECT_EQ(get(alice_, bearer(alice_token_)).status, 404);  // nothing was created
}

TEST_F(CartHttpTest, BodyChecksComeBeforeAuthentication) {
  Reply r = call(http::Method::Post, "/api/cart/" + alice_ + "/add", {}, "not json", "text/plain");
  EXPECT_EQ(r.status, 415);
  r = call(http::Method::Post, "/api/cart/" + alice_ + "/add", {}, "{broken");
  EXPECT_EQ(r.status, 400);
  r = call(http::Method::Post, "/api/cart/" + alice_ + "/add", {},
           R"({"productId":")" + mug_id + "\"}");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type.rfind("application/problem+json", 0), 0U);
}

TEST_F(CartHttpTest, OnlyTheOwnerOrAnAdminMayUseACart) {
  ASSERT_EQ(add_product(mug_id, 1).status, 201);
  const std::string body = R"({"productId":")" + shirt_id + "\"}";
  EXPECT_EQ(add(alice_, bob_token_, body).status, 403);
  EXPECT_EQ(get(alice_, bearer(bob_token_)).status, 403);
  EXPECT_EQ(
      call(http::Method::Delete, "/api/cart/" + alice_ + "/remove/" + mug_id, bearer(bob_token_))
          .status,
      403);
  EXPECT_EQ(call(http::Method::Put, "/api/cart/" + alice_ + "/update/" + mug_id, bearer(bob_token_),
                 R"({"quantity":3})")
                .status,
            403);
  EXPECT_EQ(call(http::Method::Delete, "/api/cart/" + alice_, bearer(bob_token_)).status, 403);
  EXPECT_EQ(get(alice_, bearer(alice_token_)).body["items"].size(), 1U);  // untouched

  // An admin may.
  const Reply by_admin = add(alice_, admin_token_, body);
  ASSERT_EQ(by_admin.status, 201);
  EXPECT_EQ(by_admin.body["items"].size(), 2U);
  EXPECT_EQ(get(alice_, bearer(admin_token_)).status, 200);
  // No token, a bad token.
  EXPECT_EQ(get(alice_, {}).status, 401);
  EXPECT_EQ(get(alice_, bearer("not-a-token")).status, 401);
}

TEST_F(CartHttpTest, OwnershipIsCheckedOnTheRawPathBeforeItsShape) {
  // A customer asking for a malformed id is refused (403), never told whether it exists.
  EXPECT_EQ(get("not-an-id", bearer(alice_token_)).status, 403);
  EXPECT_EQ(add("not-an-id", alice_token_, R"({"productId":")" + mug_id + "\"}").status, 403);
  EXPECT_EQ(get(alice_ + "%20", bearer(alice_token_)).status, 403);
  // An admin (or internal caller) gets the 404 a malformed id deserves.
  Reply r = get("not-an-id", bearer(admin_token_));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["detail"], "Cart not found");
  EXPECT_EQ(get("NOT-AN-ID", internal()).status, 404);
  EXPECT_EQ(add("xyz", admin_token_, R"({"productId":")" + mug_id + "\"}").status, 404);
  EXPECT_EQ(call(http::Method::Delete, "/api/cart/xyz", internal()).status, 404);
}

TEST_F(CartHttpTest, InternalCallersMayReadAndClearButNotWrite) {
  ASSERT_EQ(add_product(mug_id, 1).status, 201);
  EXPECT_EQ(get(alice_, internal()).status, 200);
  EXPECT_EQ(add(alice_, "", "{}").status, 401);
  EXPECT_EQ(call(http::Method::Post, "/api/cart/" + alice_ + "/add", internal(),
                 R"({"productId":")" + mug_id + "\"}")
                .status,
            401);
  EXPECT_EQ(call(http::Method::Delete, "/api/cart/" + alice_, internal()).status, 204);
  EXPECT_EQ(get(alice_, internal()).status, 404);
  EXPECT_EQ(get(alice_, {{"X-Internal-Token", "wrong-token-0123456789"}}).status, 401);
  // Only order-service reads and clears carts: another service's valid token is 403.
  EXPECT_EQ(get(alice_, emporium::testing::internal_call(kInternalToken, "payment")).status, 403);
  EXPECT_EQ(call(http::Method::Delete, "/api/cart/" + alice_,
                 emporium::testing::internal_call(kInternalToken, "notification"))
                .status,
            403);
}

TEST_F(CartHttpTest, GetPricesEveryLineWithOneCatalogCall) {
  ASSERT_EQ(add_product(mug_id, 2).status, 201);
  ASSERT_EQ(add_product(shirt_id, 1).status, 201);
  ASSERT_EQ(add_product(pen_id, 3).status, 201);
  catalog_->put({mug_id, "Mug XL", 2199, 10});  // repriced
  catalog_->put({shirt_id, "Shirt", 2500, 0});  // sold out
  catalog_->erase(pen_id);                      // deleted

  const int calls_before = catalog_->find_many_calls();
  const Reply r = get(alice_, bearer(alice_token_));
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(catalog_->find_many_calls(), calls_before + 1);
  EXPECT_EQ(catalog_->last_ids(), (std::vector<std::string>{mug_id, shirt_id, pen_id}));
  EXPECT_EQ(r.body["stale"], false);
  const Json& items = r.body["items"];
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(items[0]["name"], "Mug XL");
  EXPECT_EQ(items[0]["price"], 21.99);
  EXPECT_EQ(items[0]["available"], true);
  EXPECT_EQ(items[1]["price"], 25);
  EXPECT_EQ(items[1]["available"], false);
  EXPECT_EQ(items[2]["name"], "Pen");
  EXPECT_EQ(items[2]["price"], 1.05);
  EXPECT_EQ(items[2]["available"], false);
  EXPECT_EQ(r.body["subtotal"], 43.98);  // only the available Mug line
  EXPECT_EQ(r.body["__v"], 2);
}

TEST_F(CartHttpTest, WithProductServiceDownGetIsStaleAndAddIs503) {
  ASSERT_EQ(add_product(mug_id, 2).status, 201);
  ASSERT_EQ(add_product(pen_id, 1).status, 201);
  catalog_->put({mug_id, "Mug", 2999, 10});
  catalog_->set_unavailable(true);

  const Reply r = get(alice_, bearer(alice_token_));
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["stale"], true);
  EXPECT_EQ(r.body["items"][0]["price"], 19.99);  // the stored price
  EXPECT_EQ(r.body["items"][0]["available"], true);
  EXPECT_EQ(r.body["subtotal"], 41.03);

  const Reply refused = add_product(shirt_id, 1);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.content_type.rfind("application/problem+json", 0), 0U);
  EXPECT_EQ(refused.body["detail"], "product-service is unavailable");
  EXPECT_FALSE(refused.header("Retry-After").empty());
  // Lines can still be updated and removed: the answer is stale.
  const Reply updated = call(http::Method::Put, "/api/cart/" + alice_ + "/update/" + pen_id,
                             bearer(alice_token_), R"({"quantity":4})");
  EXPECT_EQ(updated.status, 200);
  EXPECT_EQ(updated.body["stale"], true);
  EXPECT_EQ(updated.body["items"][1]["quantity"], 4);

  catalog_->set_unavailable(false);
  const Reply back = get(alice_, bearer(alice_token_));
  EXPECT_EQ(back.body["stale"], false);
  EXPECT_EQ(back.body["items"][0]["price"], 29.99);
  EXPECT_EQ(back.body["items"].size(), 2U);
}

TEST_F(CartHttpTest, LineCapAndLineLimit) {
  ASSERT_EQ(add_product(mug_id, 999).status, 201);
  Reply r = add_product(mug_id, 2);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_fields(), std::set<std::string>{"quantity"});
  EXPECT_EQ(add_product(mug_id, 1).status, 201);

  for (int i = 1; i < 100; ++i) {
    char id[25];
    std::snprintf(id, sizeof id, "%024x", i);
    catalog_->put({id, "P", 100, 1});
    ASSERT_EQ(add_product(id, 1).status, 201) << i;
  }
  r = add_product(shirt_id, 1);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["code"], "cart_full");
  EXPECT_EQ(get(alice_, bearer(alice_token_)).body["items"].size(), 100U);
}

TEST_F(CartHttpTest, RemoveLine) {
  EXPECT_EQ(
      call(http::Method::Delete, "/api/cart/" + alice_ + "/remove/" + mug_id, bearer(alice_token_))
          .body["detail"],
      "Cart not found");
  ASSERT_EQ(add_product(mug_id, 1).status, 201);
  ASSERT_EQ(add_product(shirt_id, 1).status, 201);
  Reply r =
      call(http::Method::Delete, "/api/cart/" + alice_ + "/remove/" + mug_id, bearer(alice_token_));
  ASSERT_EQ(r.status, 200) << r.raw.body;
  ASSERT_EQ(r.body["items"].size(), 1U);
  EXPECT_EQ(r.body["items"][0]["productId"], shirt_id);
  EXPECT_EQ(r.body["subtotal"], 25);
  EXPECT_EQ(r.body["__v"], 2);
  // Removing again changes nothing.
  r = call(http::Method::Delete, "/api/cart/" + alice_ + "/remove/" + mug_id, bearer(alice_token_));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["__v"], 2);
  // A malformed product id names no line.
  EXPECT_EQ(call(http::Method::Delete, "/api/cart/" + alice_ + "/remove/xyz", bearer(alice_token_))
                .status,
            404);
}

TEST_F(CartHttpTest, UpdateLine) {
  const std::string path = "/api/cart/" + alice_ + "/update/";
  Reply r = call(http::Method::Put, path + mug_id, bearer(alice_token_), R"({"quantity":2})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["detail"], "Cart not found");
  ASSERT_EQ(add_product(mug_id, 1).status, 201);
  ASSERT_EQ(add_product(pen_id, 1).status, 201);

  r = call(http::Method::Put, path + mug_id, bearer(alice_token_), R"({"quantity":7})");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["items"][0]["quantity"], 7);
  EXPECT_EQ(r.body["subtotal"], 140.98);

  for (const char* bad : {"{}", R"({"quantity":-1})", R"({"quantity":1001})", R"({"quantity":"3"})",
                          R"({"quantity":1.5})"}) {
    r = call(http::Method::Put, path + mug_id, bearer(alice_token_), bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.error_fields(), std::set<std::string>{"quantity"}) << bad;
  }
  // 404 (no such line) comes before 400 (a bad body).
  r = call(http::Method::Put, path + shirt_id, bearer(alice_token_), R"({"quantity":"x"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["detail"], "Item not found in cart");
  r = call(http::Method::Put, path + shirt_id, bearer(alice_token_), R"({"quantity":3})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(call(http::Method::Put, path + "xyz", bearer(alice_token_), R"({"quantity":3})").status,
            404);

  r = call(http::Method::Put, path + mug_id, bearer(alice_token_), R"({"quantity":0})");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body["items"].size(), 1U);
  EXPECT_EQ(r.body["items"][0]["productId"], pen_id);
}

TEST_F(CartHttpTest, DeleteCart) {
  EXPECT_EQ(call(http::Method::Delete, "/api/cart/" + alice_, bearer(alice_token_)).status, 204);
  ASSERT_EQ(add_product(mug_id, 1).status, 201);
  const Reply r = call(http::Method::Delete, "/api/cart/" + alice_, bearer(alice_token_));
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.raw.body.empty());
  const Reply gone = get(alice_, bearer(alice_token_));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.body["detail"], "Cart not found");
  EXPECT_EQ(add_product(pen_id, 1).body["items"].size(), 1U);
}

TEST_F(CartHttpTest, RemoveOrderedWithAnOrderIdRemovesOncePerOrder) {
  const std::string path = "/api/cart/" + alice_ + "/remove-ordered";
  const std::string order = new_object_id();
  const std::string body =
      R"({"orderId":")" + order + R"(","items":[{"productId":")" + mug_id + R"(","quantity":2}]})";
  ASSERT_EQ(add_product(mug_id, 5).status, 201);
  Reply first = call(http::Method::Post, path, internal(), body);
  ASSERT_EQ(first.status, 200) << first.raw.body;
  EXPECT_EQ(first.body["items"][0]["quantity"], 3);
  ASSERT_EQ(add_product(mug_id, 1).status, 201);  // added during checkout
  Reply again = call(http::Method::Post, path, internal(), body);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["items"][0]["quantity"], 4) << "the repeat subtracted again";
  EXPECT_EQ(call(http::Method::Post, path, internal(),
                 R"({"orderId":"nope","items":[{"productId":")" + mug_id + R"(","quantity":1}]})")
                .error_fields(),
            std::set<std::string>{"orderId"});
}

TEST_F(CartHttpTest, DeductRemovesTheOrderedQuantities) {
  const std::string path = "/api/cart/" + alice_ + "/remove-ordered";
  auto deduct = [&](const std::string& body) {
    return call(http::Method::Post, path, internal(), body);
  };
  ASSERT_EQ(add_product(mug_id, 5).status, 201);
  ASSERT_EQ(add_product(shirt_id, 2).status, 201);
  ASSERT_EQ(add_product(pen_id, 1).status, 201);

  // 5 - 2 (sent as 1 + 1: repeated products are merged) leaves 3; the Shirt line goes; a product
  // not in the cart is ignored.
  const Reply r = deduct(R"({"items":[{"productId":")" + mug_id + R"(","quantity":1},)" +
                         R"({"productId":")" + shirt_id + R"(","quantity":2},)" +
                         R"({"productId":"dddddddddddddddddddddddd","quantity":7},)" +
                         R"({"productId":")" + mug_id + R"(","quantity":1}]})");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  ASSERT_EQ(r.body["items"].size(), 2U);
  EXPECT_EQ(r.body["items"][0]["productId"], mug_id);
  EXPECT_EQ(r.body["items"][0]["quantity"], 3);
  EXPECT_EQ(r.body["items"][1]["productId"], pen_id);
  EXPECT_EQ(r.body["subtotal"], 61.02);  // 3 × 19.99 + 1.05
  EXPECT_EQ(r.body["userId"], alice_);
  EXPECT_EQ(r.body["__v"], 3);
  EXPECT_EQ(r.body["stale"], false);
  // What the owner reads afterwards is the same cart.
  const Reply read = get(alice_, bearer(alice_token_));
  EXPECT_EQ(read.body["items"], r.body["items"]);
  // Deducting more than a line holds removes it; the emptied cart stays.
  const Reply emptied =
      deduct(R"({"items":[{"productId":")" + mug_id + R"(","quantity":1000},{"productId":")" +
             pen_id + R"(","quantity":1}]})");
  ASSERT_EQ(emptied.status, 200) << emptied.raw.body;
  EXPECT_TRUE(emptied.body["items"].empty());
  EXPECT_EQ(emptied.body["subtotal"], 0);
  EXPECT_EQ(get(alice_, bearer(alice_token_)).status, 200);
}

TEST_F(CartHttpTest, DeductIsInternalAndValidatesEveryItem) {
  const std::string path = "/api/cart/" + alice_ + "/remove-ordered";
  const std::string one = R"({"items":[{"productId":")" + mug_id + R"(","quantity":1}]})";
  ASSERT_EQ(add_product(mug_id, 5).status, 201);
  // Only the internal token: the owner and an admin may not.
  EXPECT_EQ(call(http::Method::Post, path, bearer(alice_token_), one).status, 403);
  EXPECT_EQ(call(http::Method::Post, path, bearer(admin_token_), one).status, 403);
  EXPECT_EQ(call(http::Method::Post, path, {}, one).status, 401);
  EXPECT_EQ(
      call(http::Method::Post, path, {{"X-Internal-Token", "wrong-token-0123456789"}}, one).status,
      401);
  EXPECT_EQ(get(alice_, bearer(alice_token_)).body["items"][0]["quantity"], 5);

  // A user without a cart, or a malformed user id: 404, before any field error.
  Reply r = call(http::Method::Post, "/api/cart/" + bob_ + "/remove-ordered", internal(), one);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["detail"], "Cart not found");
  EXPECT_EQ(
      call(http::Method::Post, "/api/cart/" + bob_ + "/remove-ordered", internal(), "{}").status,
      404);
  EXPECT_EQ(call(http::Method::Post, "/api/cart/xyz/remove-ordered", internal(), one).status, 404);

  // Every bad field is named.
  const std::string p = R"({"productId":")" + mug_id + R"(",)";
  const std::vector<std::pair<std::string, std::set<std::string>>> cases = {
      {"{}", {"items"}},
      {R"({"items":[]})", {"items"}},
      {R"({"items":{}})", {"items"}},
      {R"({"items":[5]})", {"items[0]"}},
      {R"({"items":[{"quantity":1}]})", {"items[0].productId"}},
      {R"({"items":[{"productId":"ABC","quantity":1}]})", {"items[0].productId"}},
      {R"({"items":[)" + p + R"("quantity":0}]})", {"items[0].quantity"}},
      {R"({"items":[)" + p + R"("quantity":1001}]})", {"items[0].quantity"}},
      {R"({"items":[)" + p + R"("quantity":"1"}]})", {"items[0].quantity"}},
      {R"({"items":[)" + p + R"("quantity":1.5}]})", {"items[0].quantity"}},
      {R"({"items":[)" + p + R"("quantity":1},{"productId":5}]})",
       {"items[1].productId", "items[1].quantity"}},
  };
  for (const auto& [body, fields] : cases) {
    r = call(http::Method::Post, path, internal(), body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.error_fields(), fields) << body;
  }
  std::string many = R"({"items":[)";
  for (int i = 0; i <= 100; ++i)
    many += (i ? "," : "") + std::string(R"({"productId":")") + mug_id + R"(","quantity":1})";
  r = call(http::Method::Post, path, internal(), many + "]}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_fields(), std::set<std::string>{"items"});
  // 2.0 is an integer; nothing above changed the cart.
  r = call(http::Method::Post, path, internal(),
           R"({"items":[{"productId":")" + mug_id + R"(","quantity":2.0}]})");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["items"][0]["quantity"], 3);
}

TEST_F(CartHttpTest, UnknownMethodsAndPaths) {
  EXPECT_EQ(call(http::Method::Patch, "/api/cart/" + alice_, bearer(alice_token_)).status, 405);
  EXPECT_EQ(call(http::Method::Get, "/api/cart/" + alice_ + "/add", bearer(alice_token_)).status,
            405);
  EXPECT_EQ(call(http::Method::Get, "/api/carts/" + alice_, bearer(alice_token_)).status, 404);
}

}  // namespace
}  // namespace emporium::cart
