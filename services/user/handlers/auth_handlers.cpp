#include "handlers/auth_handlers.hpp"

#include "domain/validation.hpp"
#include "handlers/dto.hpp"

#include <emporium/error/errors.hpp>
#include <emporium/json/json.hpp>

namespace emporium::user {
namespace {

using http::Request;
using http::Response;

// Tokens must not be kept by a browser, proxy or CDN cache (RFC 9111 §5.2.2.5; Pragma for
// HTTP/1.0 caches): every response that carries tokens goes through here.
Response token_response(const Json& body) {
  Response response = Response::json(200, body);
  response.set_header("Cache-Control", "no-store");
  response.set_header("Pragma", "no-cache");
  return response;
}

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
  const Json& body = request.json_object();
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
  return token_response(dto::session_json(session));
}

Response login(Accounts& accounts, Request& request) {
  const Json& body = request.json_object();
  FieldErrors errors;
  auto email = dto::required_string(body, "email", errors);
  if (email && email->empty()) errors.add("email", "email is required");
  auto password = dto::required_string(body, "password", errors);
  if (password && password->empty()) errors.add("password", "password is required");
  errors.throw_if_any();
  const Session session = accounts.login(*email, *password, request.client_address);
  return token_response(dto::session_json(session));
}

Response refresh(Accounts& accounts, Request& request) {
  const Json& body = request.json_object();
  FieldErrors errors;
  auto token = dto::required_string(body, "refreshToken", errors);
  errors.throw_if_any();
  return token_response(dto::token_pair_json(accounts.refresh(*token)));
}

// The refresh token of a logout body, if the body is a JSON object that has one. Anything else
// (no body, another content type, invalid JSON, an array, a string) has none.
std::optional<std::string> logout_token(const Request& request) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  Json body;
  try {
    body = parse_json(request.body);  // the shared parser: depth and size limits, UTF-8
  } catch (const HttpError&) {
    return std::nullopt;
  }
  if (!body.is_object()) return std::nullopt;
  const auto it = body.find("refreshToken");
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Response logout(Accounts& accounts, Request& request) {
  // Always 204 (API.md), whatever the body: the caller learns nothing about what it sent. The
  // route does not declare a JSON body, so the App's 400/415 for bad bodies never applies here.
  if (const auto token = logout_token(request)) accounts.logout(*token);
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
  app.route(http::Method::Post, "/api/users/logout",
            [accounts](Request& r) { return logout(*accounts, r); }, {http::Access::Public, false});

  // The document never changes while the process runs: render it once.
  auto jwks = std::make_shared<const Json>(signer->jwks());
  app.route(http::Method::Get, "/api/users/.well-known/jwks.json",
            [jwks](Request&) {
              return Response::json(200, *jwks).set_header("Cache-Control", "public, max-age=300");
            },
            {http::Access::Public, false, http::Lane::Inline});  // from memory: no thread hop
}

}  // namespace emporium::user
