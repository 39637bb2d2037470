// Request/response façade helpers.
#include "emporium/http/message.hpp"

#include "emporium/util/text.hpp"

#include <strings.h>

namespace emporium::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string_view method_name(Method m) {
  switch (m) {
    case Method::Get: return "GET";
    case Method::Head: return "HEAD";
    case Method::Post: return "POST";
    case Method::Put: return "PUT";
    case Method::Delete: return "DELETE";
    case Method::Patch: return "PATCH";
    case Method::Options: return "OPTIONS";
    case Method::Other: break;
  }
  return "OTHER";
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return value;
  }
  return {};
}

const Json& Request::json_object() const {
  if (!json_.is_object()) throw bad_request("The request body must be a JSON object");
  return json_;
}

std::optional<std::string> Request::query(std::string_view name) const {
  // Parsed and checked once, as a whole: one bad parameter fails the request (400 naming it)
  // instead of dropping the others, which would let a filter fail open (`?category=x&%zz`).
  if (!query_cache_) query_cache_ = parse_query(query_string);
  if (query_cache_->error) {
    const FieldError& bad = *query_cache_->error;
    throw bad_request("Query parameter " + bad.field + " " + bad.message, {bad});
  }
  for (const auto& [key, value] : query_cache_->params) {
    if (key == name) return value;
  }
  return std::nullopt;
}

void Request::release_body() {
  Json().swap(json_);
  std::string().swap(body);
}

const Principal& Request::user() const {
  if (!principal) throw unauthorized();
  return *principal;
}

void Request::leave_io_thread() const {
  throw LeaveIoThread{};
}

Response Response::json(int status, const Json& value) {
  Response res;
  res.status = status;
  res.body = dump_json(value);
  return res;
}

Response Response::no_content() {
  Response res;
  res.status = 204;
  res.content_type.clear();
  return res;
}

Response& Response::set_header(std::string name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (iequals(key, name)) {
      existing = std::move(value);
      return *this;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace emporium::http
