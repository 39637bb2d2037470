#include "emporium/testing/http.hpp"

#include "emporium/auth/callers.hpp"

#include <utility>

namespace emporium::testing {

std::string Reply::header(std::string_view name) const {
  auto value = raw.header(name);
  return value ? std::string(*value) : std::string();
}

std::set<std::string> Reply::error_fields() const {
  std::set<std::string> fields;
  if (body.is_object() && body.contains("errors")) {
    for (const auto& e : body["errors"]) fields.insert(e.value("field", ""));
  }
  return fields;
}

http::Request make_request(http::Method method, const std::string& target, http::Headers headers,
                           const std::string& body, const std::string& content_type) {
  http::Request request;
  request.method = method;
  request.method_text = std::string(http::method_name(method));
  request.target = target;
  const auto q = target.find('?');
  request.path = target.substr(0, q);
  request.query_string = q == std::string::npos ? "" : target.substr(q + 1);
  request.headers = std::move(headers);
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", content_type);
    request.body = body;
  }
  request.peer_address = "127.0.0.1";
  return request;
}

Reply send(App& app, http::Request request) {
  Reply reply;
  reply.raw = app.handle(request);
  reply.status = reply.raw.status;
  reply.content_type = reply.raw.content_type;
  if (!reply.raw.body.empty()) reply.body = Json::parse(reply.raw.body);
  return reply;
}

http::Headers bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

http::Headers internal_call(const std::string& shared_token, std::string_view caller) {
  return {{"X-Internal-Token", auth::derive_caller_token(shared_token, caller)}};
}

}  // namespace emporium::testing
