#include "emporium/error/errors.hpp"

namespace emporium {

HttpError::HttpError(int status, std::string code, std::string detail)
    : std::runtime_error(detail),
      status_(status),
      code_(std::move(code)),
      detail_(std::move(detail)) {}

HttpError& HttpError::with_errors(std::vector<FieldError> errors) {
  errors_ = std::move(errors);
  return *this;
}

HttpError& HttpError::with_header(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
  return *this;
}

HttpError& HttpError::with_extra(const std::string& key, nlohmann::json value) {
  extra_[key] = std::move(value);
  return *this;
}

const char* status_title(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 500 ? "Client Error" : "Server Error";
  }
}

HttpError bad_request(std::string detail, std::vector<FieldError> errors) {
  HttpError e(400, errors.empty() ? "bad_request" : "validation_failed", std::move(detail));
  e.with_errors(std::move(errors));
  return e;
}
HttpError unauthorized(std::string detail) {
  return HttpError(401, "unauthorized", std::move(detail));
}
HttpError forbidden(std::string detail) {
  return HttpError(403, "forbidden", std::move(detail));
}
HttpError not_found(std::string detail) {
  return HttpError(404, "not_found", std::move(detail));
}
HttpError method_not_allowed(const std::string& allow) {
  HttpError e(405, "method_not_allowed", "Method not allowed; use " + allow);
  e.with_header("Allow", allow);
  return e;
}
HttpError conflict(std::string detail, std::string code) {
  return HttpError(409, std::move(code), std::move(detail));
}
HttpError precondition_failed(std::string detail) {
  return HttpError(412, "precondition_failed", std::move(detail));
}
HttpError payload_too_large(std::string detail) {
  return HttpError(413, "payload_too_large", std::move(detail));
}
HttpError unsupported_media_type(std::string detail) {
  return HttpError(415, "unsupported_media_type", std::move(detail));
}
HttpError unprocessable(std::string detail, std::string code) {
  return HttpError(422, std::move(code), std::move(detail));
}
HttpError precondition_required(std::string detail) {
  return HttpError(428, "precondition_required", std::move(detail));
}
HttpError too_many_requests(std::string detail, long retry_after_seconds) {
  HttpError e(429, "too_many_requests", std::move(detail));
  e.with_header("Retry-After", std::to_string(retry_after_seconds < 1 ? 1 : retry_after_seconds));
  return e;
}
HttpError service_unavailable(std::string detail, long retry_after_seconds) {
  HttpError e(503, "service_unavailable", std::move(detail));
  e.with_header("Retry-After", std::to_string(retry_after_seconds < 1 ? 1 : retry_after_seconds));
  return e;
}

HttpError bad_gateway(std::string detail) {
  return HttpError(502, "bad_gateway", std::move(detail));
}
HttpError gateway_timeout(std::string detail) {
  return HttpError(504, "gateway_timeout", std::move(detail));
}

void FieldErrors::add(std::string field, std::string message) {
  errors_.push_back({std::move(field), std::move(message)});
}

void FieldErrors::throw_if_any() const {
  if (errors_.empty()) return;
  // Messages may already name their field ("name must not be empty"); don't say it twice.
  const auto& first = errors_.front();
  std::string detail = first.message.starts_with(first.field + " ")
                           ? first.message
                           : first.field + ": " + first.message;
  if (errors_.size() > 1) detail += " (and " + std::to_string(errors_.size() - 1) + " more)";
  throw bad_request(std::move(detail), errors_);
}

}  // namespace emporium
