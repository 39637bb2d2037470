// Typed errors that carry an HTTP meaning. Thrown where the fact is known, turned into an
// application/problem+json response in exactly one place (http middleware). What a client reads
// is `detail`/`errors`; library messages and SQL never go into them.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace emporium {

struct FieldError {
  std::string field;    // dotted path with indexes (`items[2].quantity`) or a query parameter
  std::string message;  // what to fix
};

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string code, std::string detail);

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const std::string& detail() const { return detail_; }
  const std::vector<FieldError>& errors() const { return errors_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }
  const nlohmann::json& extra() const { return extra_; }

  HttpError& with_errors(std::vector<FieldError> errors);
  HttpError& with_header(std::string name, std::string value);
  // Adds a top-level member to the problem document (e.g. `shortLines`).
  HttpError& with_extra(const std::string& key, nlohmann::json value);

 private:
  int status_;
  std::string code_;
  std::string detail_;
  std::vector<FieldError> errors_;
  std::vector<std::pair<std::string, std::string>> headers_;
  nlohmann::json extra_ = nlohmann::json::object();
};

// The reason phrase used as the problem `title`.
const char* status_title(int status);

HttpError bad_request(std::string detail, std::vector<FieldError> errors = {});
HttpError unauthorized(std::string detail = "Authentication required");
HttpError forbidden(std::string detail = "You are not allowed to do this");
HttpError not_found(std::string detail = "Not found");
HttpError method_not_allowed(const std::string& allow);
HttpError conflict(std::string detail, std::string code = "conflict");
HttpError precondition_failed(std::string detail = "If-Match does not match the current version");
HttpError payload_too_large(std::string detail = "Request body is larger than 1 MiB");
HttpError unsupported_media_type(std::string detail = "Send the body as application/json");
HttpError unprocessable(std::string detail, std::string code = "unprocessable");
HttpError precondition_required(std::string detail);
HttpError too_many_requests(std::string detail, long retry_after_seconds);
HttpError service_unavailable(std::string detail, long retry_after_seconds = 1);
// An upstream or provider answered with an error or nonsense, or could not be reached.
HttpError bad_gateway(std::string detail);
// An upstream or provider did not answer within its deadline.
HttpError gateway_timeout(std::string detail);

// Collects every bad field of a request, then throws one 400 naming them all.
class FieldErrors {
 public:
  void add(std::string field, std::string message);
  bool empty() const { return errors_.empty(); }
  const std::vector<FieldError>& list() const { return errors_; }
  // Throws bad_request("<first message>" or a summary) when any error was added.
  void throw_if_any() const;

 private:
  std::vector<FieldError> errors_;
};

}  // namespace emporium
