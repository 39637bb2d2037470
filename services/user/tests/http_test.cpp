// Every route through the real request pipeline (App::handle: errors, JSON, auth, handler) on a
// SQLite file, without sockets.
#include "test_support.hpp"
#include "user_service.hpp"

#include <emporium/app/app.hpp>
#include <emporium/testing/http.hpp>
#include <emporium/util/ids.hpp>

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace emporium::user {
namespace {

constexpr const char* kInternalToken = "0123456789abcdef0123";

using emporium::testing::bearer;
using emporium::testing::Reply;

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UserConfig config;
    config.common.service = "user-service";
    config.common.host = "127.0.0.1";
    config.common.port = 0;
    config.common.database_url = db_file_.url();
    config.common.internal_token = kInternalToken;
    config.common.problem_error_member = true;
    config.common.access_log = false;
    config.common.log_level = obs::Level::Warn;
    config.jwt_private_key_pem = testing::generate_ec_private_key_pem();
    config.argon2 = testing::fast_argon2();
    config.argon2_max_concurrent = 2;
    config.first_admin = FirstAdmin{"admin@example.com", "admin password"};
    config.login_per_email = {3, 900};
    app_ = std::make_unique<App>(config.common);
    app_->open_database(migrations());
    register_user_service(*app_, config);
  }

  Reply call(http::Method method, const std::string& target, const std::string& body = "",
             const http::Headers& headers = {}) {
    http::Request request = emporium::testing::make_request(method, target, headers, body);
    request.headers.emplace_back("Content-Length", std::to_string(body.size()));
    request.client_address = "127.0.0.1";
    return emporium::testing::send(*app_, std::move(request));
  }

  Reply register_user(const std::string& email, const std::string& extra = "") {
    return call(
        http::Method::Post, "/api/users/register",
        R"({"name":"Ada","email":")" + email + R"(","password":"correct horse")" + extra + "}");
  }

  std::string admin_token() {
    const Reply r = call(http::Method::Post, "/api/users/login",
                         R"({"email":"admin@example.com","password":"admin password"})");
    EXPECT_EQ(r.status, 200);
    return r.body.value("token", "");
  }

  emporium::testing::TempSqliteFile db_file_{"user-http"};  // outlives app_
  std::unique_ptr<App> app_;
};

TEST_F(HttpTest, RegisterReturnsTokensAndACustomer) {
  const Reply r = register_user("Ada@Example.com",
                                R"(,"role":"admin","_id":"x","__v":7,"phone":"+14155552671")");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_TRUE(r.body["token"].is_string());
  EXPECT_TRUE(r.body["refreshToken"].is_string());
  const Json& user = r.body["user"];
  std::set<std::string> keys;
  for (const auto& [key, value] : user.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"_id", "name", "email", "phone", "role", "createdAt",
                                         "updatedAt", "__v"}));
  EXPECT_EQ(user["role"], "customer");
  EXPECT_EQ(user["email"], "ada@example.com");
  EXPECT_EQ(user["phone"], "+14155552671");
  EXPECT_EQ(user["__v"], 0);
  EXPECT_TRUE(is_object_id(user["_id"].get<std::string>()));
  EXPECT_EQ(user["createdAt"].get<std::string>().size(), 24U);  // 2026-11-24T18:24:25.123Z
}

TEST_F(HttpTest, RegisterNamesEveryBadField) {
  const Reply r = call(http::Method::Post, "/api/users/register",
                       R"({"name":"","email":"nope","password":"short","phone":"555"})");
  ASSERT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type.rfind("application/problem+json", 0), 0U) << r.content_type;
  EXPECT_EQ(r.error_fields(), (std::set<std::string>{"name", "email", "password", "phone"}));
  EXPECT_TRUE(r.body.contains("msg"));
  EXPECT_TRUE(r.body.contains("error")) << "user-service problems repeat the message as `error`";

  const Reply missing = call(http::Method::Post, "/api/users/register", "{}");
  EXPECT_EQ(missing.error_fields(), (std::set<std::string>{"name", "email", "password"}));
  EXPECT_EQ(call(http::Method::Post, "/api/users/register", "[1]").status, 400);
  EXPECT_EQ(call(http::Method::Post, "/api/users/register", "{").status, 400);
}

TEST_F(HttpTest, RegisterConflictIgnoresLetterCase) {
  ASSERT_EQ(register_user("ada@example.com").status, 200);
  const Reply r = register_user("ADA@example.COM");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["detail"], "Email already registered");
}

TEST_F(HttpTest, LoginErrors) {
  ASSERT_EQ(register_user("ada@example.com").status, 200);
  const Reply missing = call(http::Method::Post, "/api/users/login", "{}");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.error_fields(), (std::set<std::string>{"email", "password"}));

  const Reply wrong = call(http::Method::Post, "/api/users/login",
                           R"({"email":"ada@example.com","password":"wrong password"})");
  const Reply unknown = call(http::Method::Post, "/api/users/login",
                             R"({"email":"nobody@example.com","password":"wrong password"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body["detail"], "Invalid email or password");
  EXPECT_EQ(unknown.body["detail"], wrong.body["detail"]);

  call(http::Method::Post, "/api/users/login",
       R"({"email":"ada@example.com","password":"wrong password"})");
  call(http::Method::Post, "/api/users/login",
       R"({"email":"ada@example.com","password":"wrong password"})");
  const Reply limited = call(http::Method::Post, "/api/users/login",
                             R"({"email":"ada@example.com","password":"correct horse"})");
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.header("Retry-After").empty());
}

TEST_F(HttpTest, MeNeedsAValidTokenAndUpdates) {
  EXPECT_EQ(call(http::Method::Get, "/api/users/me").status, 401);
  EXPECT_EQ(call(http::Method::Get, "/api/users/me", "", bearer("garbage")).status, 401);
  const Reply reg = register_user("ada@example.com");
  const std::string token = reg.body["token"];
  const Reply me = call(http::Method::Get, "/api/users/me", "", bearer(token));
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body["email"], "ada@example.com");

  const Reply no_current =
      call(http::Method::Put, "/api/users/me", R"({"password":"new password"})", bearer(token));
  EXPECT_EQ(no_current.status, 400);
  EXPECT_EQ(no_current.error_fields(), std::set<std::string>{"currentPassword"});
  const Reply wrong_current =
      call(http::Method::Put, "/api/users/me",
           R"({"password":"new password","currentPassword":"nope nope"})", bearer(token));
  EXPECT_EQ(wrong_current.status, 400);
  EXPECT_EQ(wrong_current.error_fields(), std::set<std::string>{"currentPassword"});

  const Reply updated =
      call(http::Method::Put, "/api/users/me",
           R"({"name":"Ada Lovelace","phone":"+442071838750","email":"x@y.zz","role":"admin"})",
           bearer(token));
  ASSERT_EQ(updated.status, 200) << updated.raw.body;
  EXPECT_EQ(updated.body["name"], "Ada Lovelace");
  EXPECT_EQ(updated.body["phone"], "+442071838750");
  EXPECT_EQ(updated.body["email"], "ada@example.com");
  EXPECT_EQ(updated.body["role"], "customer");
  EXPECT_EQ(updated.body["__v"], 1);
  const Reply cleared =
      call(http::Method::Put, "/api/users/me", R"({"phone":null})", bearer(token));
  EXPECT_TRUE(cleared.body["phone"].is_null());
  EXPECT_EQ(cleared.body["__v"], 2);

  const Reply changed =
      call(http::Method::Put, "/api/users/me",
           R"({"password":"new password","currentPassword":"correct horse"})", bearer(token));
  EXPECT_EQ(changed.status, 200);
  const Reply refresh =
      call(http::Method::Post, "/api/users/refresh",
           R"({"refreshToken":")" + reg.body["refreshToken"].get<std::string>() + R"("})");
  EXPECT_EQ(refresh.status, 401);  // a password change revokes refresh tokens
}

TEST_F(HttpTest, RefreshAndLogout) {
  const Reply reg = register_user("ada@example.com");
  const std::string refresh_token = reg.body["refreshToken"];
  const Reply rotated = call(http::Method::Post, "/api/users/refresh",
                             R"({"refreshToken":")" + refresh_token + R"("})");
  ASSERT_EQ(rotated.status, 200);
  const std::string next = rotated.body["refreshToken"];
  EXPECT_NE(next, refresh_token);
  EXPECT_EQ(call(http::Method::Get, "/api/users/me", "", bearer(rotated.body["token"])).status,
            200);

  EXPECT_EQ(call(http::Method::Post, "/api/users/refresh", "{}").status, 400);
  EXPECT_EQ(call(http::Method::Post, "/api/users/refresh", R"({"refreshToken":"nope"})").status,
            401);

  EXPECT_EQ(
      call(http::Method::Post, "/api/users/logout", R"({"refreshToken":")" + next + R"("})").status,
      204);
  EXPECT_EQ(call(http::Method::Post, "/api/users/logout", R"({"refreshToken":"unknown"})").status,
            204);
  EXPECT_EQ(call(http::Method::Post, "/api/users/logout", "{}").status, 204);
  EXPECT_EQ(call(http::Method::Post, "/api/users/refresh", R"({"refreshToken":")" + next + R"("})")
                .status,
            401);
}

TEST_F(HttpTest, JwksPublishesTheSigningKey) {
  const Reply r = call(http::Method::Get, "/api/users/.well-known/jwks.json");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body["keys"].size(), 1U);
  const Json& key = r.body["keys"][0];
  EXPECT_EQ(key["kty"], "EC");
  EXPECT_EQ(key["crv"], "P-256");
  EXPECT_EQ(key["alg"], "ES256");

  auth::JwtVerifier verifier("emporium");
  EXPECT_EQ(verifier.add_jwks(r.body), 1U);
  const Reply reg = register_user("ada@example.com");
  EXPECT_TRUE(verifier.verify(reg.body["token"].get<std::string>()));
}

TEST_F(HttpTest, AdminListPagesAndSearches) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(register_user("user" + std::to_string(i) + "@example.com").status, 200);
  const std::string customer = register_user("plain@example.com").body["token"];
  const std::string admin = admin_token();

  EXPECT_EQ(call(http::Method::Get, "/api/users", "", bearer(customer)).status, 403);
  EXPECT_EQ(call(http::Method::Get, "/api/users").status, 401);

  const Reply page = call(http::Method::Get, "/api/users?page=2&limit=2", "", bearer(admin));
  ASSERT_EQ(page.status, 200);
  ASSERT_TRUE(page.body.is_array());
  EXPECT_EQ(page.body.size(), 2U);
  EXPECT_EQ(page.header("X-Total-Count"), "5");
  EXPECT_EQ(page.header("Link"),
            "</api/users?page=3&limit=2>; rel=\"next\", </api/users?page=1&limit=2>; rel=\"prev\"");

  const Reply search = call(http::Method::Get, "/api/users?q=USER1", "", bearer(admin));
  ASSERT_EQ(search.body.size(), 1U);
  EXPECT_EQ(search.body[0]["email"], "user1@example.com");
  EXPECT_EQ(search.header("X-Total-Count"), "1");

  const Reply bad = call(http::Method::Get, "/api/users?page=0&limit=101", "", bearer(admin));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.error_fields(), (std::set<std::string>{"page", "limit"}));
  EXPECT_EQ(call(http::Method::Get, "/api/users?limit=abc", "", bearer(admin)).status, 400);
}

TEST_F(HttpTest, AdminGetAndRole) {
  const std::string admin = admin_token();
  const Reply reg = register_user("ada@example.com");
  const std::string id = reg.body["user"]["_id"];
  const std::string customer = reg.body["token"];

  EXPECT_EQ(call(http::Method::Get, "/api/users/" + id, "", bearer(admin)).status, 200);
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + id, "",
                 emporium::testing::internal_call(kInternalToken, "order"))
                .status,
            200);
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + id, "", bearer(customer)).status, 403);
  const Reply bad_id = call(http::Method::Get, "/api/users/not-an-id", "", bearer(admin));
  EXPECT_EQ(bad_id.status, 404);
  EXPECT_EQ(bad_id.body["detail"], "User not found");
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + new_object_id(), "", bearer(admin)).status,
            404);

  const Reply bad_role =
      call(http::Method::Put, "/api/users/" + id + "/role", R"({"role":"root"})", bearer(admin));
  EXPECT_EQ(bad_role.status, 400);
  EXPECT_EQ(bad_role.error_fields(), std::set<std::string>{"role"});
  EXPECT_EQ(call(http::Method::Put, "/api/users/" + new_object_id() + "/role", R"({"role":"root"})",
                 bearer(admin))
                .status,
            404);

  const Reply me = call(http::Method::Get, "/api/users/me", "", bearer(admin));
  const std::string admin_id = me.body["_id"];
  const Reply last = call(http::Method::Put, "/api/users/" + admin_id + "/role",
                          R"({"role":"customer"})", bearer(admin));
  EXPECT_EQ(last.status, 409);

  const Reply promoted =
      call(http::Method::Put, "/api/users/" + id + "/role", R"({"role":"admin"})", bearer(admin));
  ASSERT_EQ(promoted.status, 200);
  EXPECT_EQ(promoted.body["role"], "admin");
  EXPECT_EQ(promoted.body["__v"], 1);
}

// ---- issue 7: stored roles, token responses, logout ---------------------------------------------

TEST_F(HttpTest, TokenResponsesAreNoStore) {
  const Reply reg = register_user("ada@example.com");
  const Reply login = call(http::Method::Post, "/api/users/login",
                           R"({"email":"ada@example.com","password":"correct horse"})");
  ASSERT_EQ(login.status, 200);
  const Reply refreshed =
      call(http::Method::Post, "/api/users/refresh",
           R"({"refreshToken":")" + login.body["refreshToken"].get<std::string>() + R"("})");
  for (const Reply* r : {&reg, &login, &refreshed}) {
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Cache-Control"), "no-store");
    EXPECT_EQ(r->header("Pragma"), "no-cache");
  }
}

TEST_F(HttpTest, LogoutIs204ForAnyBody) {
  const Reply reg = register_user("ada@example.com");
  const std::string refresh_token = reg.body["refreshToken"];
  const std::pair<const char*, const char*> bodies[] = {
      {"[]", "application/json"},       {"\"x\"", "application/json"},
      {"1", "application/json"},        {"null", "application/json"},
      {"{", "application/json"},        {"{\"refreshToken\":", "application/json"},
      {"\xff\xfe", "application/json"}, {"refreshToken=abc", "application/x-www-form-urlencoded"},
      {"hello", "text/plain"},          {"{\"refreshToken\":7}", "application/json"},
  };
  for (const auto& [body, type] : bodies) {
    http::Request request =
        emporium::testing::make_request(http::Method::Post, "/api/users/logout", {}, body, type);
    request.client_address = "127.0.0.1";
    EXPECT_EQ(emporium::testing::send(*app_, std::move(request)).status, 204) << body;
  }
  EXPECT_EQ(call(http::Method::Post, "/api/users/logout").status, 204);  // no body at all
  // A well-formed body still revokes, with any content type.
  http::Request request = emporium::testing::make_request(
      http::Method::Post, "/api/users/logout", {}, R"({"refreshToken":")" + refresh_token + R"("})",
      "text/plain");
  EXPECT_EQ(emporium::testing::send(*app_, std::move(request)).status, 204);
  EXPECT_EQ(call(http::Method::Post, "/api/users/refresh",
                 R"({"refreshToken":")" + refresh_token + R"("})")
                .status,
            401);
}

TEST_F(HttpTest, ADemotedAdminsOldTokenGets403OnEveryAdminRoute) {
  const std::string admin = admin_token();
  const Reply reg = register_user("x@example.com");
  const std::string x_id = reg.body["user"]["_id"];
  ASSERT_EQ(
      call(http::Method::Put, "/api/users/" + x_id + "/role", R"({"role":"admin"})", bearer(admin))
          .status,
      200);
  const Reply x_login = call(http::Method::Post, "/api/users/login",
                             R"({"email":"x@example.com","password":"correct horse"})");
  const std::string x_admin = x_login.body["token"];
  ASSERT_EQ(call(http::Method::Get, "/api/users", "", bearer(x_admin)).status, 200);
  ASSERT_EQ(call(http::Method::Put, "/api/users/" + x_id + "/role", R"({"role":"customer"})",
                 bearer(admin))
                .status,
            200);

  const std::string other = register_user("o@example.com").body["user"]["_id"];
  EXPECT_EQ(call(http::Method::Put, "/api/users/" + x_id + "/role", R"({"role":"admin"})",
                 bearer(x_admin))
                .status,
            403);
  EXPECT_EQ(call(http::Method::Put, "/api/users/" + other + "/role", R"({"role":"admin"})",
                 bearer(x_admin))
                .status,
            403);
  EXPECT_EQ(call(http::Method::Get, "/api/users", "", bearer(x_admin)).status, 403);
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + other, "", bearer(x_admin)).status, 403);
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + new_object_id(), "", bearer(x_admin)).status,
            403);  // 403 before 404
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + x_id, "", bearer(admin)).body["role"],
            "customer");
  // Internal callers are not users: unaffected.
  EXPECT_EQ(call(http::Method::Get, "/api/users/" + x_id, "",
                 emporium::testing::internal_call(kInternalToken, "order"))
                .status,
            200);
}

}  // namespace
}  // namespace emporium::user
