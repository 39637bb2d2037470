#include "handlers/auth_handlers.hpp"

#include "domain/validation.hpp"
#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>

namespace emporium::user {
namespace {

using http::Request;
using http::Response;

std::optional<std::string> optional_phone(const Json& body, FieldErrors& errors) {
  auto phone = dto::optional_string(body, "phone", errors);
  if (!phone || phone->empty()) return std::nullopt;  // "" from a form means "no phone"
  if (auto problem = domain::check_phone(*phone)) {
    errors.add("phone", *problem);
    return std::nullopt;
  }
  return phone;
}

Response register_user(Accounts& accounts, Request& request) {
  const Json& body = dto::object_body(request);
  FieldErrors errors;
  Registration registration;
  if (auto name = dto::required_string(body, "name", errors)) {
    registration.name = domain::trim_name(*name);
    if (auto problem = domain::check_name(registration.name)) errors.add("name", *problem);
  }
  if (auto email = dto::required_string(body, "email", errors)) {
    registration.email = domain::lower_ascii(*email);
    if (auto problem = domain::check_email(registration.email)) errors.add("email", *problem);
  }
  if (auto password = dto::required_string(body, "password", errors)) {
    registration.password = std::move(*password);
    if (auto problem = domain::check_password(registration.password))
      errors.add("password", *problem);
  }
  registration.phone = optional_phone(body, errors);
  errors.throw_if_any();
  // `role` and every other server field in the body are ignored: a registration is a customer.
  const Session session = accounts.register_user(registration, request.client_address);
  return Response::json(200, dto::session_json(session));
}

Response login(Accounts& accounts, Request& request) {
  const Json& body = dto::object_body(request);
  FieldErrors errors;
  auto email = dto::required_string(body, "email", errors);
  if (email && email->empty()) errors.add("email", "email is required");
  auto password = dto::required_string(body, "password", errors);
  if (password && password->empty()) errors.add("password", "password is required");
  errors.throw_if_any();
  const Session session = accounts.login(*email, *password, request.client_address);
  return Response::json(200, dto::session_json(session));
}

Response refresh(Accounts& accounts, Request& request) {
  const Json& body = dto::object_body(request);
  FieldErrors errors;
  auto token = dto::required_string(body, "refreshToken", errors);
  errors.throw_if_any();
  return Response::json(200, dto::token_pair_json(accounts.refresh(*token)));
}

Response logout(Accounts& accounts, Request& request) {
  // Always 204: the caller learns nothing about the token it sent.
  const Json& body = request.json();
  if (body.is_object()) {
    const auto it = body.find("refreshToken");
    if (it != body.end() && it->is_string()) accounts.logout(it->get_ref<const std::string&>());
  }
  return Response::no_content();
}

}  // namespace

void register_auth_handlers(App& app, const std::shared_ptr<Accounts>& accounts,
                            const std::shared_ptr<const auth::JwtSigner>& signer) {
  const http::RouteOptions public_json{http::Access::Public, true};
  // argon2 routes run in the slow lane: a login burst cannot occupy the workers serving reads.
  const http::RouteOptions public_json_slow{http::Access::Public, true, http::Lane::Slow};
  app.route(
      http::Method::Post, "/api/users/register",
      [accounts](Request& r) { return register_user(*accounts, r); }, public_json_slow);
  app.route(
      http::Method::Post, "/api/users/login",
      [accounts](Request& r) { return login(*accounts, r); }, public_json_slow);
  app.route(
      http::Method::Post, "/api/users/refresh",
      [accounts](Request& r) { return refresh(*accounts, r); }, public_json);
  app.route(
      http::Method::Post, "/api/users/logout",
      [accounts](Request& r) { return logout(*accounts, r); }, public_json);

  // The document never changes while the process runs: render it once.
  auto jwks = std::make_shared<const Json>(signer->jwks());
  app.route(http::Method::Get, "/api/users/.well-known/jwks.json",
            [jwks](Request&) {
              return Response::json(200, *jwks).set_header("Cache-Control", "public, max-age=300");
            },
            {http::Access::Public, false});
}

}  // namespace emporium::user
