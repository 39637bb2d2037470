#include "handlers/user_handlers.hpp"

#include "domain/validation.hpp"
#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/util/ids.hpp>
#include <emporium/util/text.hpp>

#include <string>

namespace emporium::user {
namespace {

using http::Request;
using http::Response;

constexpr const char* kBasePath = "/api/users";
constexpr std::int64_t kDefaultLimit = 20;
constexpr std::int64_t kMaxLimit = 100;
constexpr std::int64_t kMaxPage = 1'000'000'000;
constexpr std::size_t kMaxQueryBytes = 254;

const std::string& caller_id(const Request& request) {
  const Principal& principal = request.user();
  if (principal.user_id.empty()) throw unauthorized("A user token is required");
  return principal.user_id;
}

// Every admin route of user-service goes through this: the App has checked the token's role
// claim, but a token outlives a demotion (ACCESS_TOKEN_TTL), so admin power follows the stored
// role at once (one primary-key read). Internal calls carry no user and are not affected. It runs
// before the handler, so 403 still precedes 404 and 400 (DESIGN §4 check order).
http::Handler stored_admin(const std::shared_ptr<Accounts>& accounts, http::Handler handler) {
  return [accounts, handler = std::move(handler)](Request& request) {
    const Principal& principal = request.user();
    if (!principal.internal) accounts->require_admin(principal.user_id);
    return handler(request);
  };
}

std::string page_link(std::int64_t page, std::int64_t limit, const std::string& q,
                      const char* rel) {
  std::string link = "<";
  link += kBasePath;
  link += "?page=" + std::to_string(page) + "&limit=" + std::to_string(limit);
  if (!q.empty()) link += "&q=" + percent_encode(q);
  link += ">; rel=\"";
  link += rel;
  link += "\"";
  return link;
}

Response get_me(Accounts& accounts, Request& request) {
  return Response::json(200, dto::user_json(accounts.current_user(caller_id(request))));
}

Response put_me(Accounts& accounts, Request& request) {
  const std::string& id = caller_id(request);
  const Json& body = request.json_object();
  FieldErrors errors;
  ProfileChange change;
  if (auto name = dto::optional_string(body, "name", errors)) {
    std::string trimmed = domain::trim_name(*name);
    if (auto problem = domain::check_name(trimmed)) {
      errors.add("name", *problem);
    } else {
      change.name = std::move(trimmed);
    }
  }
  if (const auto it = body.find("phone"); it != body.end()) {
    if (auto phone = dto::optional_string(body, "phone", errors)) {
      if (phone->empty()) {
        change.phone_present = true;  // "" clears, like null
      } else if (auto problem = domain::check_phone(*phone)) {
        errors.add("phone", *problem);
      } else {
        change.phone_present = true;
        change.phone = std::move(*phone);
      }
    } else if (it->is_null()) {
      change.phone_present = true;
    }
  }
  if (auto password = dto::optional_string(body, "password", errors)) {
    if (auto problem = domain::check_password(*password)) errors.add("password", *problem);
    change.password = std::move(*password);
    if (auto current = dto::required_string(body, "currentPassword", errors)) {
      change.current_password = std::move(*current);
    }
  }
  if (!errors.empty()) {
    accounts.current_user(id);  // a deleted user is told 401 before any 400 (DESIGN §4 order)
    errors.throw_if_any();
  }
  return Response::json(200, dto::user_json(accounts.update_profile(id, change)));
}

Response list_users(Accounts& accounts, Request& request) {
  FieldErrors errors;
  std::int64_t page = 1;
  std::int64_t limit = kDefaultLimit;
  if (const auto text = request.query("page")) {
    if (auto value = parse_count(*text, 1, kMaxPage)) {
      page = *value;
    } else {
      errors.add("page", "page must be an integer from 1 to 1000000000");
    }
  }
  if (const auto text = request.query("limit")) {
    if (auto value = parse_count(*text, 1, kMaxLimit)) {
      limit = *value;
    } else {
      errors.add("limit", "limit must be an integer from 1 to 100");
    }
  }
  std::string q;
  if (const auto text = request.query("q")) {
    if (text->size() > kMaxQueryBytes) {
      errors.add("q", "q must be at most 254 characters");
    } else {
      q = domain::lower_ascii(*text);
    }
  }
  errors.throw_if_any();

  const store::UserPage result = accounts.list_users(q, page, limit);
  Json body = Json::array();
  for (const auto& user : result.users) body.push_back(dto::user_json(user));
  Response response = Response::json(200, body);
  response.set_header("X-Total-Count", std::to_string(result.total));
  std::string links;
  if (page * limit < result.total) links = page_link(page + 1, limit, q, "next");
  if (page > 1) {
    if (!links.empty()) links += ", ";
    links += page_link(page - 1, limit, q, "prev");
  }
  if (!links.empty()) response.set_header("Link", links);
  return response;
}

Response get_user(Accounts& accounts, Request& request) {
  const std::string id(request.param("id"));
  if (!is_object_id(id)) throw not_found("User not found");
  auto user = accounts.find_user(id);
  if (!user) throw not_found("User not found");
  return Response::json(200, dto::user_json(*user));
}

Response put_role(Accounts& accounts, Request& request) {
  const std::string id(request.param("id"));
  if (!is_object_id(id)) throw not_found("User not found");
  const Json& body = request.json_object();
  FieldErrors errors;
  auto role = dto::required_string(body, "role", errors);
  if (role) {
    if (auto problem = domain::check_role(*role)) errors.add("role", *problem);
  }
  if (!errors.empty()) {
    if (!accounts.find_user(id)) throw not_found("User not found");  // 404 before 400
    errors.throw_if_any();
  }
  return Response::json(200, dto::user_json(accounts.change_role(caller_id(request), id, *role)));
}

}  // namespace

void register_user_handlers(App& app, const std::shared_ptr<Accounts>& accounts) {
  using http::Access;
  using http::Method;
  app.route(Method::Get, "/api/users/me", [accounts](Request& r) { return get_me(*accounts, r); },
            {Access::User, false});
  // A password change runs argon2: slow lane.
  app.route(Method::Put, "/api/users/me", [accounts](Request& r) { return put_me(*accounts, r); },
            {Access::User, true, http::Lane::Slow});
  app.route(Method::Get, "/api/users",
            stored_admin(accounts, [accounts](Request& r) { return list_users(*accounts, r); }),
            {Access::Admin, false});
  app.route(
      Method::Get, "/api/users/:id",
      stored_admin(accounts, [accounts](Request& r) { return get_user(*accounts, r); }),
      {Access::AdminOrInternal, false, http::Lane::Worker, {"order", "payment", "notification"}});
  // change_role checks the actor's stored role again inside its serialized transaction.
  app.route(Method::Put, "/api/users/:id/role",
            stored_admin(accounts, [accounts](Request& r) { return put_role(*accounts, r); }),
            {Access::Admin, true});
}

}  // namespace emporium::user
