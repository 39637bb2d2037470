#include "emporium/http/router.hpp"

#include <gtest/gtest.h>

namespace emporium::http {
namespace {

Handler named(std::string name) {
  return [name](Request&) {
    Response r;
    r.body = name;
    return r;
  };
}

std::string run(const Router& router, Method m, std::string_view path) {
  auto match = router.match(m, path);
  if (!match.route) return match.allow.empty() ? "404" : "405 " + match.allow;
  Request req;
  req.path_params = match.params;
  std::string out = match.route->handler(req).body;
  for (auto& [k, v] : match.params) out += " " + k + "=" + v;
  return out;
}

TEST(Router, StaticBeatsParameterWhateverTheOrder) {
  Router r;
  r.add(Method::Get, "/api/products/:id", named("get"));
  r.add(Method::Get, "/api/products/categories", named("categories"));
  EXPECT_EQ(run(r, Method::Get, "/api/products/categories"), "categories");
  EXPECT_EQ(run(r, Method::Get, "/api/products/abc"), "get id=abc");
}

TEST(Router, CaseSensitiveAndTrailingSlashTolerated) {
  Router r;
  r.add(Method::Post, "/api/users/register", named("register"));
  EXPECT_EQ(run(r, Method::Post, "/api/users/register/"), "register");
  EXPECT_EQ(run(r, Method::Post, "/api/users/Register"), "404");
  EXPECT_EQ(run(r, Method::Post, "/api/users"), "404");
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router r;
  r.add(Method::Get, "/api/users/me", named("me"));
  r.add(Method::Put, "/api/users/me", named("put-me"));
  r.add(Method::Get, "/api/users/:id", named("get"));
  EXPECT_EQ(run(r, Method::Delete, "/api/users/me"), "405 GET, HEAD, PUT");
  EXPECT_EQ(run(r, Method::Put, "/api/users/me"), "put-me");
  EXPECT_EQ(run(r, Method::Put, "/api/users/x"), "405 GET, HEAD");
}

// RFC 9110 §9.3.2: HEAD where GET works (it was a 405).
TEST(Router, HeadIsServedByTheGetRoute) {
  Router r;
  r.add(Method::Get, "/api/users/:id", named("get"));
  r.add(Method::Post, "/api/login", named("login"));
  EXPECT_EQ(run(r, Method::Head, "/api/users/x"), "get id=x");
  EXPECT_EQ(run(r, Method::Head, "/api/login"), "405 POST");
}

TEST(Router, ParametersAndNestedPaths) {
  Router r;
  r.add(Method::Delete, "/api/cart/:userId/remove/:productId", named("remove"));
  r.add(Method::Get, "/api/cart/:userId", named("cart"));
  EXPECT_EQ(run(r, Method::Delete, "/api/cart/u1/remove/p2"), "remove userId=u1 productId=p2");
  EXPECT_EQ(run(r, Method::Get, "/api/cart/u1"), "cart userId=u1");
  EXPECT_EQ(run(r, Method::Get, "/api/cart/u1/remove"), "404");
}

}  // namespace
}  // namespace emporium::http

namespace emporium::http {
namespace {

TEST(Request, QueryParametersAreDecodedAndNulIsRefused) {
  Request r;
  r.query_string = "q=red%20shirt&page=2&plus=a+b&q=second";
  EXPECT_EQ(r.query("q"), "red shirt");
  EXPECT_EQ(r.query("page"), "2");
  EXPECT_EQ(r.query("plus"), "a b");
  EXPECT_EQ(r.query("absent"), std::nullopt);
  // One bad parameter fails every lookup, not only its own (a filter must not fail open).
  Request bad;
  bad.query_string = "page=2&bad=a%00b";
  for (const char* name : {"bad", "page", "absent"}) {
    try {
      bad.query(name);
      FAIL() << name;
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(e.detail(), "Query parameter bad must not contain the NUL character (%00)");
      ASSERT_EQ(e.errors().size(), 1u);
      EXPECT_EQ(e.errors().at(0).field, "bad");
    }
  }
}

TEST(Request, ABadPercentEscapeIs400NamingTheParameter) {
  Request r;
  r.query_string = "category=x&%zz";
  try {
    r.query("category");
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "validation_failed");
    EXPECT_EQ(e.detail(),
              "Query parameter %zz has a malformed percent-escape (%zz): write a literal % as %25");
    EXPECT_EQ(e.errors().at(0).field, "%zz");
  }
  Request utf8;
  utf8.query_string = "q=%FF";
  try {
    utf8.query("q");
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.errors().at(0).field, "q");
    EXPECT_EQ(e.errors().at(0).message, "must be UTF-8 text (percent-encode its bytes)");
  }
}

}  // namespace
}  // namespace emporium::http
